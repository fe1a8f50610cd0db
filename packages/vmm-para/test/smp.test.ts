// A domain with two vCPUs: vCPU 0 brings up vCPU 1 with VCPUOP_initialise and VCPUOP_up, they
// exchange IPIs through event channels bound to each other, vCPU 1 takes itself down and vCPU 0's
// VCPUOP_down (the last vCPU) powers the domain off — and vcpu_op / event_channel_op with hostile
// arguments, answered as Xen answers them.
import type { Vcpu, VmExit } from '@ringvisor/vmm-api';
import { describe, expect, it } from 'vitest';
import {
  EEXIST, EFAULT, EINVAL, ENOENT, FIRST_RESERVED_GDT_ENTRY, HYPERVISOR_VIRT_START, SHARED_INFO, VCPU_CONTEXT_32,
} from '../src/abi.js';
import { TYPE_L2 } from '../src/frames.js';
import type { PvGuest } from '../src/pv-guest.js';
import { DirectDomain, outsideDigest } from './direct-domain.js';
import { MAP_SHARED_INFO } from './guests/traps-guest.js';
import { assembleGuest, bootGuest, haveToolchain, type BootedGuest } from './pv-harness.js';

const toolchain = haveToolchain();
const VCPU_OP = 24;
const EVTCHN_OP = 32;
const VCPUOP_initialise = 0;
const VCPUOP_up = 1;
const VCPUOP_down = 2;
const VCPUOP_is_up = 3;
const VCPUOP_set_singleshot_timer = 8;
const EVTCHNOP_bind_virq = 1;
const EVTCHNOP_bind_ipi = 7;
const EVTCHNOP_bind_vcpu = 8;
const EVTCHNOP_alloc_unbound = 6;

/** vCPU 0 and vCPU 1 of one domain, each checking what the other did. */
const SMP_GUEST = `${MAP_SHARED_INFO}
.macro VCPU cmd, id, arg
  mov $\\cmd, %ebx
  mov $\\id, %ecx
  mov $\\arg, %edx
  HYPERCALL 24
.endm
_start:
  mov %esi, start_info_ptr
  mov $0xe019, %ebx
  mov $evt0, %ecx
  mov $0xe019, %edx
  mov $fail, %esi
  HYPERCALL 4
  MAP_SHARED_INFO
  /* vCPU 1 exists but is down and uninitialised; vCPU 2 does not exist */
  VCPU 3, 1, 0
  cmp $0, %eax
  jne fail
  VCPU 1, 1, 0
  cmp $-22, %eax
  jne fail
  VCPU 3, 2, 0
  cmp $-2, %eax
  jne fail
  /* an IPI port for each vCPU */
  mov $7, %ebx
  mov $ipi0, %ecx
  HYPERCALL 32
  test %eax, %eax
  jnz fail
  movl $1, ipi1
  mov $7, %ebx
  mov $ipi1, %ecx
  HYPERCALL 32
  test %eax, %eax
  jnz fail
  /* vCPU 1's context: flat ring-1 segments, its own stack, its event callback */
  movl $ap_entry, ctx+516+32
  movl $0xe019, ctx+516+36
  movl $ap_stack_top, ctx+516+44
  movl $0xe021, ctx+516+48
  movl $0xe021, ctx+516+52
  movl $0xe021, ctx+516+56
  movl $0xe021, ctx+2708
  movl $ap_stack_top, ctx+2712
  movl $0xe019, ctx+2780
  movl $evt1, ctx+2784
  movl $0xe019, ctx+2788
  movl $fail, ctx+2792
  /* ctrlreg[3]: the machine frame of the page directory, mfn_list[(pt_base - 0xC0000000) >> 12] << 12 */
  mov start_info_ptr, %eax
  mov 60(%eax), %ecx
  sub $0xC0000000, %ecx
  shr $12, %ecx
  mov 68(%eax), %edx
  mov (%edx,%ecx,4), %ecx
  shl $12, %ecx
  mov %ecx, ctx+2716+12
  VCPU 0, 1, ctx
  test %eax, %eax
  jnz fail
  VCPU 0, 1, ctx
  cmp $-17, %eax
  jne fail
  VCPU 1, 1, 0
  test %eax, %eax
  jnz fail
  VCPU 3, 1, 0
  cmp $1, %eax
  jne fail
  PRINT s_up, 6
  /* the IPI to vCPU 1, then wait (events masked) for its answer on our port */
  mov $4, %ebx
  mov $ipi1+4, %ecx
  HYPERCALL 32
  test %eax, %eax
  jnz fail
  movl $ipi0+4, poll
  movl $1, poll+4
wait0:
  mov $3, %ebx
  mov $poll, %ecx
  HYPERCALL 29
  test %eax, %eax
  jnz fail
  mov ipi0+4, %eax
  bt %eax, 0xC0300000+2048
  jnc wait0
  /* the answer raised vcpu_info[0], and vCPU 1 saw its own IPI */
  cmpb $1, 0xC0300000
  jne fail
  cmpl $1, ap_seen
  jne fail
  PRINT s_ipi, 7
  /* vCPU 1 takes itself down */
wait_down:
  VCPU 3, 1, 0
  test %eax, %eax
  jz down
  mov $0, %ebx
  HYPERCALL 29
  jmp wait_down
down:
  PRINT s_down, 8
  /* the last vCPU going down: the domain powers off */
  VCPU 2, 0, 0
  jmp fail

ap_entry:
  cmpl $0xC0000000, %esp
  jb fail
  push $0x5eed
  pop %eax
  cmp $0x5eed, %eax
  jne fail
  /* the events vCPU 0 raised are vCPU 1's: SCHEDOP_block unmasks them and the callback takes them */
ap_wait:
  mov $1, %ebx
  HYPERCALL 29
  cmpl $1, ap_seen
  jne ap_wait
  mov $4, %ebx
  mov $ipi0+4, %ecx
  HYPERCALL 32
  VCPU 2, 1, 0
  jmp fail

evt1:
  /* vcpu_info[1] has the upcall; vcpu_info[0] does not */
  cmpb $1, 0xC0300000+64
  jne fail
  cmpb $0, 0xC0300000
  jne fail
  movb $0, 0xC0300000+64
  movl $0, 0xC0300000+64+4
  mov ipi1+4, %eax
  lock btr %eax, 0xC0300000+2048
  movl $1, ap_seen
  movb $0, 0xC0300000+64+1
  iret

evt0:
fail:
  PRINT s_fail, 5
  ud2
.data
start_info_ptr: .long 0
ipi0: .long 0, 0
ipi1: .long 0, 0
poll: .long 0, 0, 0, 0
ap_seen: .long 0
s_up: .ascii "up(1)\\n"
s_ipi: .ascii "ipi ok\\n"
s_down: .ascii "down(1)\\n"
s_fail: .ascii "FAIL\\n"
.balign 16
ctx: .skip ${VCPU_CONTEXT_32.size}
.balign 4096
ap_stack: .skip 4096
ap_stack_top:
`;

/** Runs every vCPU in turn under the test clock until the domain ends or nothing can run. */
function runAll(booted: BootedGuest, vcpus: Vcpu[], maxRounds = 20_000): VmExit {
  const { clock } = booted;
  for (let round = 0; round < maxRounds; round++) {
    let ran = false;
    for (const vcpu of vcpus) {
      const exit = vcpu.run(2_000);
      if (exit.reason === 'shutdown' || exit.reason === 'internal-error') return exit;
      if (exit.reason === 'budget') ran = true;
    }
    const retired = vcpus.reduce((sum, v) => sum + v.retired, 0);
    clock.ns = Math.max(clock.ns, retired * 10);
    if (!ran && !vcpus.some((v) => v.hasPendingEvent?.() === true)) {
      const deadline = clock.nextDeadline();
      if (deadline === Infinity) return { reason: 'hlt', interruptsEnabled: true };
      clock.ns = Math.max(clock.ns, deadline);
    }
    clock.fireDue();
  }
  return { reason: 'budget' };
}

describe.skipIf(!toolchain)('para: a domain with two vCPUs', () => {
  it('vCPU 0 brings up vCPU 1, they exchange IPIs, vCPU 1 goes down and the last VCPUOP_down powers off', () => {
    const booted = bootGuest(assembleGuest(SMP_GUEST), { vcpus: 2 });
    const vcpus = [booted.vcpu, booted.vm.createVcpu(1)];
    // Down until the guest brings it up: it runs nothing and asks to be woken.
    expect(vcpus[1].run(1000)).toEqual({ reason: 'hlt', interruptsEnabled: true });
    expect(vcpus[1].hasPendingEvent?.()).toBe(false);
    const exit = runAll(booted, vcpus);
    expect(booted.output()).toBe('up(1)\nipi ok\ndown(1)\n');
    expect(exit).toEqual({ reason: 'shutdown', cause: 'power-off' });
    // vCPU 1 ran its own code on its own CPU.
    expect(vcpus[1].retired).toBeGreaterThan(10);
    expect(vcpus[1].getRegisters().esp).toBeGreaterThan(0xc0000000);
  });

  it('lists each vCPU as online in xenstore, and xl vcpu-set rewrites the nodes (1..max_vcpus)', () => {
    const booted = bootGuest(assembleGuest(SMP_GUEST), { vcpus: 3 });
    const guest = booted.pv as PvGuest;
    const availability = () => [0, 1, 2].map((vcpu) => guest.xenstore.tree.get(`/local/domain/1/cpu/${vcpu}/availability`));
    expect(availability()).toEqual(['online', 'online', 'online']);
    guest.setOnlineVcpus(1);
    expect(availability()).toEqual(['online', 'offline', 'offline']);
    guest.setOnlineVcpus(3);
    expect(availability()).toEqual(['online', 'online', 'online']);
    for (const bad of [0, 4, 1.5, NaN]) expect(() => guest.setOnlineVcpus(bad)).toThrow(RangeError);
  });

  it('refuses vCPUs the domain was not given, and makes no CPU for one never brought up', () => {
    const booted = bootGuest(assembleGuest(SMP_GUEST), { vcpus: 2 });
    expect(() => booted.vm.createVcpu(2)).toThrow(RangeError);
    const idle = booted.vm.createVcpu(1);
    expect(idle.run(1000)).toEqual({ reason: 'hlt', interruptsEnabled: true });
    expect(idle.retired).toBe(0);
    expect((booted.pv as PvGuest).vcpu(1)).toBeNull();
    const single = bootGuest(assembleGuest(SMP_GUEST));
    expect(() => single.vm.createVcpu(1)).toThrow(RangeError);
  });
});

describe.skipIf(!toolchain)('para: vcpu_op and SMP event channels with hostile arguments', () => {
  /** A booted two-vCPU domain driven by direct hypercalls, and a context for vCPU 1 in its scratch page. */
  function setup(): { direct: DirectDomain; ctx: number; fill: (patch?: (at: number) => void) => void } {
    const booted = bootGuest(assembleGuest(SMP_GUEST), { vcpus: 3 });
    const direct = new DirectDomain(booted);
    const ctx = direct.scratch;
    const fill = (patch?: (at: number) => void) => {
      for (let i = 0; i < VCPU_CONTEXT_32.size; i += 4) direct.put32(ctx + i, 0);
      direct.put32(ctx + 516 + 32, 0xc0000000);
      direct.put32(ctx + 516 + 36, 0xe019);
      direct.put32(ctx + 516 + 48, 0xe021);
      direct.put32(ctx + 2716 + 12, direct.l2 << 12);
      patch?.(ctx);
    };
    return { direct, ctx, fill };
  }

  it('answers bad contexts with -EFAULT, -EINVAL, -EEXIST and -ENOENT, leaving nothing changed', () => {
    const { direct, ctx, fill } = setup();
    const frames = direct.domain.tables.frames;
    const l2Refs = frames.count[direct.l2];
    const init = (vcpu: number, at = ctx) => direct.call(VCPU_OP, VCPUOP_initialise, vcpu, at);
    expect(init(3)).toBe(ENOENT);
    expect(init(0xffffffff)).toBe(ENOENT);
    expect(init(0)).toBe(EEXIST);
    // The context must be readable in the guest's half.
    expect(init(1, HYPERVISOR_VIRT_START - 64)).toBe(EFAULT);
    expect(init(1, 0x1000)).toBe(EFAULT);
    fill((at) => direct.put32(at + VCPU_CONTEXT_32.ldtBase, 0x123));
    expect(init(1)).toBe(EINVAL);
    fill((at) => direct.put32(at + VCPU_CONTEXT_32.ldtEnts, 8193));
    expect(init(1)).toBe(EINVAL);
    fill((at) => direct.put32(at + VCPU_CONTEXT_32.gdtEnts, FIRST_RESERVED_GDT_ENTRY + 1));
    expect(init(1)).toBe(EINVAL);
    // GDT frames that are not the domain's: the hypervisor's shared_info, a frame past RAM.
    fill((at) => {
      direct.put32(at + VCPU_CONTEXT_32.gdtEnts, 16);
      direct.put32(at + VCPU_CONTEXT_32.gdtFrames, direct.domain.hv.sharedInfo);
    });
    expect(init(1)).toBe(EINVAL);
    fill((at) => {
      direct.put32(at + VCPU_CONTEXT_32.gdtEnts, 16);
      direct.put32(at + VCPU_CONTEXT_32.gdtFrames, 0xfffff);
    });
    expect(init(1)).toBe(EINVAL);
    // CR3 that is no page directory of the domain: a writable data page, the hypervisor's L1, garbage.
    for (const cr3 of [direct.pte(direct.scratch) & ~0xfff, direct.domain.hv.hvL1 << 12, 0xdeadbeef]) {
      fill((at) => direct.put32(at + VCPU_CONTEXT_32.ctrlreg + 12, cr3));
      expect(init(1)).toBe(EINVAL);
    }
    expect(frames.count[direct.l2]).toBe(l2Refs);
    expect(direct.call(VCPU_OP, VCPUOP_is_up, 1)).toBe(0);
    expect(direct.call(VCPU_OP, VCPUOP_up, 1)).toBe(EINVAL);
    // A good one: CR3 takes a page-directory reference, the vCPU stays down until VCPUOP_up.
    fill();
    expect(init(1)).toBe(0);
    expect(frames.type[direct.l2]).toBe(TYPE_L2);
    expect(frames.count[direct.l2]).toBe(l2Refs + 1);
    expect(init(1)).toBe(EEXIST);
    // Its own 100 Hz VIRQ_TIMER runs from its initialisation, into vcpu_info[1].
    direct.put32(direct.scratch + 3000, 0, 1, 0);
    expect(direct.call(EVTCHN_OP, EVTCHNOP_bind_virq, direct.scratch + 3000)).toBe(0);
    const vcpuInfo1 = direct.domain.sharedInfoBase + SHARED_INFO.vcpuInfoSize;
    expect(direct.memory.read8(vcpuInfo1 + SHARED_INFO.upcallPending)).toBe(0);
    const { clock } = direct.booted;
    clock.ns += 20_000_000;
    clock.fireDue();
    expect(direct.memory.read8(vcpuInfo1 + SHARED_INFO.upcallPending)).toBe(1);
    expect(direct.call(VCPU_OP, VCPUOP_is_up, 1)).toBe(0);
    // A vCPU never run asks to be scheduled once it is up, not before.
    const vcpu1 = direct.booted.vm.createVcpu(1);
    expect(vcpu1.hasPendingEvent?.()).toBe(false);
    expect(direct.call(VCPU_OP, VCPUOP_up, 1)).toBe(0);
    expect(vcpu1.hasPendingEvent?.()).toBe(true);
    expect(direct.call(VCPU_OP, VCPUOP_is_up, 1)).toBe(1);
    // Down and up again; a vCPU never made is down already.
    expect(direct.call(VCPU_OP, VCPUOP_down, 1)).toBe(0);
    expect(direct.call(VCPU_OP, VCPUOP_down, 2)).toBe(0);
    expect(direct.call(VCPU_OP, VCPUOP_is_up, 1)).toBe(0);
    expect(direct.call(VCPU_OP, VCPUOP_up, 1)).toBe(0);
  });

  it('runs a context with a code segment it cannot load as a crash of the domain, not a host error', () => {
    const { direct, fill } = setup();
    // A selector past the GDT the context gives: loading it fails, as the first entry to it would.
    fill((at) => direct.put32(at + 516 + 36, 0x0801));
    expect(direct.call(VCPU_OP, VCPUOP_initialise, 1, direct.scratch)).toBe(0);
    expect(direct.call(VCPU_OP, VCPUOP_up, 1)).toBe(0);
    const vcpu1 = direct.booted.vm.createVcpu(1);
    const exit = vcpu1.run(1000);
    expect(exit.reason).toBe('internal-error');
    expect(exit.reason === 'internal-error' && exit.detail).toMatch(/code or stack segment/);
  });

  it('binds VIRQs, IPIs and ports to vCPUs as Xen allows', () => {
    const { direct } = setup();
    const at = direct.scratch;
    const bind = (op: number, ...words: number[]) => {
      direct.put32(at, ...words, 0, 0);
      return direct.call(EVTCHN_OP, op, at);
    };
    // VIRQ_TIMER is per vCPU: one on each; a domain-wide VIRQ (VIRQ_CONSOLE, 2) on vCPU 0 only.
    expect(bind(EVTCHNOP_bind_virq, 0, 1)).toBe(0);
    const timer1 = direct.get32(at + 8);
    expect(bind(EVTCHNOP_bind_virq, 0, 2)).toBe(0);
    expect(bind(EVTCHNOP_bind_virq, 0, 1)).toBe(-17);
    expect(bind(EVTCHNOP_bind_virq, 0, 3)).toBe(ENOENT);
    expect(bind(EVTCHNOP_bind_virq, 2, 1)).toBe(EINVAL);
    expect(bind(EVTCHNOP_bind_virq, 2, 0)).toBe(0);
    const console = direct.get32(at + 8);
    expect(bind(EVTCHNOP_bind_ipi, 3)).toBe(ENOENT);
    expect(bind(EVTCHNOP_bind_ipi, 0xffffffff)).toBe(ENOENT);
    expect(bind(EVTCHNOP_bind_ipi, 2)).toBe(0);
    const ipi2 = direct.get32(at + 4);
    // bind_vcpu moves an unbound port or a domain-wide VIRQ; never a vCPU's own VIRQ or IPI.
    expect(bind(EVTCHNOP_bind_vcpu, console, 1)).toBe(0);
    expect(bind(EVTCHNOP_bind_vcpu, timer1, 2)).toBe(EINVAL);
    expect(bind(EVTCHNOP_bind_vcpu, ipi2, 1)).toBe(EINVAL);
    expect(bind(EVTCHNOP_bind_vcpu, console, 3)).toBe(ENOENT);
    expect(bind(EVTCHNOP_bind_vcpu, 1023, 1)).toBe(EINVAL);
    expect(bind(EVTCHNOP_bind_vcpu, 0xffffffff, 1)).toBe(EINVAL);
    expect(bind(EVTCHNOP_alloc_unbound, 0x7ff0 | (0x7ff0 << 16), 0)).toBe(0);
    const unbound = direct.get32(at + 4);
    expect(bind(EVTCHNOP_bind_vcpu, unbound, 2)).toBe(0);
    // A send to vCPU 2's IPI raises vcpu_info[2], not vcpu_info[0].
    const shared = direct.domain.sharedInfoBase;
    direct.memory.write8(shared + SHARED_INFO.upcallPending, 0);
    direct.put32(at, ipi2);
    expect(direct.call(EVTCHN_OP, 4, at)).toBe(0);
    expect(direct.memory.read8(shared + 2 * SHARED_INFO.vcpuInfoSize + SHARED_INFO.upcallPending)).toBe(1);
    expect(direct.memory.read8(shared + SHARED_INFO.upcallPending)).toBe(0);
  });

  it('flushes for a vCPU mask it can read (MMUEXT_TLB_FLUSH_MULTI, INVLPG_MULTI) and refuses one it cannot', () => {
    const { direct } = setup();
    const at = direct.scratch;
    const mmuext = (cmd: number, arg1: number, mask: number) => {
      direct.put32(at, cmd, arg1, mask);
      return direct.call(26, at, 1, 0, 0x7ff0);
    };
    direct.put32(at + 64, 0b110);
    expect(mmuext(8, 0, at + 64)).toBe(0);
    expect(mmuext(9, 0xc0000000, at + 64)).toBe(0);
    expect(mmuext(9, HYPERVISOR_VIRT_START, at + 64)).toBe(0);
    expect(mmuext(8, 0, HYPERVISOR_VIRT_START)).toBe(EINVAL);
    expect(mmuext(9, 0xc0000000, 0x1000)).toBe(EINVAL);
  });

  it('lets a vCPU arm only its own one-shot timer', () => {
    const { direct } = setup();
    const at = direct.scratch;
    direct.put32(at, 1000, 0, 0);
    expect(direct.call(VCPU_OP, VCPUOP_set_singleshot_timer, 1, at)).toBe(EINVAL);
    expect(direct.call(VCPU_OP, VCPUOP_set_singleshot_timer, 0, at)).toBe(0);
    expect(direct.call(VCPU_OP, VCPUOP_set_singleshot_timer, 3, at)).toBe(ENOENT);
  });

  it('holds up against random vcpu_op calls: Xen error codes only, never a host exception', () => {
    const { direct } = setup();
    const guest = direct.guest as PvGuest;
    const outside = outsideDigest(direct.domain);
    let x = 0x5eed;
    const next = () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>>= 0);
    };
    for (let i = 0; i < 2000; i++) {
      const cmd = next() % 12;
      const vcpu = next() % 5 === 0 ? next() : next() % 4;
      const arg = next() % 3 === 0 ? next() : direct.scratch + (next() % 4096);
      for (let k = 0; k < 16; k++) direct.put32(direct.scratch + k * 4, next());
      const result = direct.call(VCPU_OP, cmd, vcpu, arg);
      expect([0, 1, EEXIST, EFAULT, EINVAL, ENOENT, -38, -62]).toContain(result);
      if (guest.domain.stop !== null) break;
    }
    expect(outsideDigest(direct.domain)).toBe(outside);
  });
});
