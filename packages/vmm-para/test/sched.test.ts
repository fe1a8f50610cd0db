// sched_op's shutdown_code, poll, remote_shutdown and watchdog, as Xen's do_sched_op answers them:
// issued by a guest, and with hostile arguments straight at the hypercall.
import { describe, expect, it } from 'vitest';
import {
  EFAULT, EINVAL, ENOSPC, EPERM, ESRCH, HYPERVISOR_VIRT_START, SHARED_INFO,
} from '../src/abi.js';
import { DirectDomain } from './direct-domain.js';
import { MAP_SHARED_INFO } from './guests/traps-guest.js';
import { assembleGuest, bootGuest, haveToolchain, rng } from './pv-harness.js';

const toolchain = haveToolchain();
const SCHED_OP = 29;
const EVTCHN_OP = 32;
const IDLE = `
_start:
  jmp _start
`;

/** The guest: a watchdog, a poll that times out, one that finds its port pending, then a wait its watchdog ends. */
const WATCHDOG_GUEST = `${MAP_SHARED_INFO}
_start:
  mov %esi, start_info_ptr
  /* shared_info at 0xC0300000, for the system time */
  MAP_SHARED_INFO
  /* SCHEDOP_watchdog {id 0, 3 s}: the first timer, id 1 */
  mov $6, %ebx
  mov $wd, %ecx
  HYPERCALL 29
  cmp $1, %eax
  jne fail
  PRINT s_wd, 3
  /* a loopback pair: a = alloc_unbound(self, self), b = bind_interdomain(self, a) */
  mov $6, %ebx
  mov $unbound, %ecx
  HYPERCALL 32
  test %eax, %eax
  jnz fail
  mov unbound+4, %eax
  mov %eax, port_a
  mov %eax, bind+4
  mov $0, %ebx
  mov $bind, %ecx
  HYPERCALL 32
  test %eax, %eax
  jnz fail
  mov bind+8, %eax
  mov %eax, port_b
  /* SCHEDOP_poll on a, 1 ms from now: nobody sends, so the timeout ends it */
  mov 0xC0300000+32+16, %ebx
  mov 0xC0300000+32+20, %ecx
  add $1000000, %ebx
  adc $0, %ecx
  mov %ebx, poll+8
  mov %ecx, poll+12
  mov $3, %ebx
  mov $poll, %ecx
  HYPERCALL 29
  test %eax, %eax
  jnz fail
  PRINT s_timeout, 8
  /* send on b: a is pending, so polling it returns at once (no timeout this time) */
  mov $4, %ebx
  mov $port_b, %ecx
  HYPERCALL 32
  movl $0, poll+8
  movl $0, poll+12
  mov $3, %ebx
  mov $poll, %ecx
  HYPERCALL 29
  test %eax, %eax
  jnz fail
  PRINT s_pending, 8
  /* the watchdog re-armed to 2 s, then a poll of no port and no timeout: only the watchdog ends it */
  movl $1, wd
  movl $2, wd+4
  mov $6, %ebx
  mov $wd, %ecx
  HYPERCALL 29
  test %eax, %eax
  jnz fail
  movl $0, poll+4
  mov $3, %ebx
  mov $poll, %ecx
  HYPERCALL 29
  PRINT s_woke, 5
  POWEROFF
fail:
  PRINT s_fail, 5
  POWEROFF
.data
start_info_ptr: .long 0
wd: .long 0, 3
unbound: .word 0x7ff0, 0x7ff0
  .long 0
bind: .word 0x7ff0, 0
  .long 0, 0
port_a: .long 0
port_b: .long 0
poll: .long port_a, 1, 0, 0
s_wd: .ascii "wd\\n"
s_timeout: .ascii "timeout\\n"
s_pending: .ascii "pending\\n"
s_woke: .ascii "woke\\n"
s_fail: .ascii "fail\\n"
`;

/** The guest: shutdown_code(reboot), remote_shutdown of domain 0 (-EPERM) and 7 (-ESRCH), then shutdown(poweroff). */
const SHUTDOWN_CODE_GUEST = `
_start:
  mov $5, %ebx
  mov $reboot, %ecx
  HYPERCALL 29
  test %eax, %eax
  jnz fail
  mov $4, %ebx
  mov $remote0, %ecx
  HYPERCALL 29
  cmp $-1, %eax
  jne fail
  mov $4, %ebx
  mov $remote7, %ecx
  HYPERCALL 29
  cmp $-3, %eax
  jne fail
  PRINT s_ok, 3
  POWEROFF
fail:
  PRINT s_fail, 5
  POWEROFF
.data
reboot: .long 1
remote0: .word 0, 0
  .long 0
remote7: .word 7, 0
  .long 0
s_ok: .ascii "ok\\n"
s_fail: .ascii "fail\\n"
`;

describe.skipIf(!toolchain)('sched_op from a guest', () => {
  it('arms a watchdog, polls with a timeout and for a pending port, and ends by SHUTDOWN_watchdog', () => {
    const guest = bootGuest(assembleGuest(WATCHDOG_GUEST));
    const exit = guest.run();
    expect(guest.output()).toBe('wd\ntimeout\npending\n');
    expect(exit).toMatchObject({ reason: 'shutdown', cause: 'watchdog' });
    // Re-armed to 2 s just after the 1 ms poll: it fired then, not at the first timer's 3 s.
    expect(guest.clock.ns).toBeGreaterThanOrEqual(2_001_000_000);
    expect(guest.clock.ns).toBeLessThan(2_010_000_000);
    expect(guest.stats.named('hypercall sched_op')).toBe(5);
  });

  it('latches SHUTDOWN_reboot, is refused remote shutdowns, and its poweroff then ends the domain as a reboot', () => {
    const guest = bootGuest(assembleGuest(SHUTDOWN_CODE_GUEST));
    expect(guest.run()).toMatchObject({ reason: 'shutdown', cause: 'reset' });
    expect(guest.output()).toBe('ok\n');
  });
});

describe.skipIf(!toolchain)('sched_op with hostile arguments', () => {
  const image = toolchain ? assembleGuest(IDLE) : new Uint8Array();
  const domain = () => new DirectDomain(bootGuest(image));
  /** Pointers the hypercalls must refuse with -EFAULT: unmapped, the hypervisor's region, wrapping past 4 GiB. */
  const BAD = [0x1000, HYPERVISOR_VIRT_START, 0xfffffffc];

  /** A loopback pair (alloc_unbound + bind_interdomain): sending on `b` raises `a`. */
  function loopback(d: DirectDomain): { a: number; b: number } {
    const s = d.scratch + 0x800;
    d.put32(s, 0x7ff07ff0, 0);
    expect(d.call(EVTCHN_OP, 6, s)).toBe(0);
    const a = d.get32(s + 4);
    d.put32(s, 0x7ff0, a, 0);
    expect(d.call(EVTCHN_OP, 0, s)).toBe(0);
    return { a, b: d.get32(s + 8) };
  }

  const send = (d: DirectDomain, port: number) => {
    d.put32(d.scratch + 0x900, port);
    expect(d.call(EVTCHN_OP, 4, d.scratch + 0x900)).toBe(0);
  };
  const setMask = (d: DirectDomain, port: number) => {
    const at = d.domain.sharedInfoBase + SHARED_INFO.evtchnMask + (port >>> 3);
    d.memory.write8(at, d.memory.read8(at) | (1 << (port & 7)));
  };
  const clearUpcall = (d: DirectDomain) => d.memory.write8(d.domain.sharedInfoBase + SHARED_INFO.upcallPending, 0);
  /** SCHEDOP_poll {ports, nr_ports, u64 timeout} at the scratch page, the port list after it. */
  const poll = (d: DirectDomain, ports: number[], timeout = 0, list = d.scratch + 0x100, count = ports.length) => {
    d.put32(list, ...ports);
    d.put32(d.scratch, list, count, timeout % 2 ** 32, Math.floor(timeout / 2 ** 32));
    return d.call(SCHED_OP, 3, d.scratch);
  };

  it('SCHEDOP_shutdown_code latches the first code, which the later shutdown reports', () => {
    const d = domain();
    d.put32(d.scratch, 1);
    expect(d.call(SCHED_OP, 5, d.scratch)).toBe(0);
    expect(d.domain.stop).toBe(null);
    d.put32(d.scratch, 3);
    expect(d.call(SCHED_OP, 5, d.scratch)).toBe(0);
    for (const bad of BAD) expect(d.call(SCHED_OP, 5, bad)).toBe(EFAULT);
    // SHUTDOWN_poweroff asked for, SHUTDOWN_reboot latched: the domain ends as a reboot.
    d.put32(d.scratch, 0);
    expect(d.call(SCHED_OP, 2, d.scratch)).toBe(0);
    expect(d.booted.vcpu.run(1000)).toMatchObject({ reason: 'shutdown', cause: 'reset' });
  });

  it('SCHEDOP_shutdown keeps the low byte of the reason, and an unreadable one changes nothing', () => {
    const d = domain();
    for (const bad of BAD) expect(d.call(SCHED_OP, 2, bad)).toBe(EFAULT);
    expect(d.domain.stop).toBe(null);
    d.put32(d.scratch, 0x104);
    expect(d.call(SCHED_OP, 2, d.scratch)).toBe(0);
    expect(d.booted.vcpu.run(1000)).toMatchObject({ reason: 'shutdown', cause: 'watchdog' });
  });

  it('SCHEDOP_watchdog: ids 1 and 2, -ENOSPC for a third, re-arm, destroy, -EINVAL for ids not in use', () => {
    const d = domain();
    const clock = d.booted.clock;
    const watchdog = (id: number, timeout: number) => {
      d.put32(d.scratch, id, timeout);
      return d.call(SCHED_OP, 6, d.scratch);
    };
    expect(d.call(24, 7, 0, 0)).toBe(0); // the 100 Hz periodic timer off: only watchdogs remain
    for (const bad of BAD) expect(d.call(SCHED_OP, 6, bad)).toBe(EFAULT);
    expect(watchdog(1, 5)).toBe(EINVAL);
    expect(watchdog(0, 5)).toBe(1);
    expect(watchdog(0, 7)).toBe(2);
    expect(watchdog(0, 9)).toBe(ENOSPC);
    for (const id of [3, 0x80000000, 0xffffffff]) expect(watchdog(id, 5)).toBe(EINVAL);
    expect(clock.nextDeadline()).toBe(5e9);
    // Timer 1 re-armed to 60 s, timer 2 destroyed: no timer fires before 60 s.
    expect(watchdog(1, 60)).toBe(0);
    expect(watchdog(2, 0)).toBe(0);
    expect(watchdog(2, 5)).toBe(EINVAL);
    expect(clock.nextDeadline()).toBe(60e9);
    expect(watchdog(0, 4_000_000_000)).toBe(2);
    expect(watchdog(2, 0)).toBe(0);
    clock.ns = 59e9;
    clock.fireDue();
    expect(d.domain.stop).toBe(null);
    clock.ns = 60e9;
    clock.fireDue();
    expect(d.domain.stop).toBe('watchdog');
    expect(d.booted.vcpu.run(1000)).toMatchObject({ reason: 'shutdown', cause: 'watchdog' });
  });

  it('a watchdog that expires while the vCPU is blocked wakes it to report the shutdown', () => {
    const d = domain();
    d.put32(d.scratch, 0, 1);
    expect(d.call(SCHED_OP, 6, d.scratch)).toBe(1);
    expect(d.call(SCHED_OP, 1, 0)).toBe(0);
    expect(d.domain.stop).toBe('block');
    expect(d.booted.vcpu.hasPendingEvent!()).toBe(false);
    d.booted.clock.ns = 1e9;
    d.booted.clock.fireDue();
    expect(d.booted.vcpu.hasPendingEvent!()).toBe(true);
    expect(d.booted.vcpu.run(1000)).toMatchObject({ reason: 'shutdown', cause: 'watchdog' });
  });

  it('SCHEDOP_poll refuses more than 128 ports, bad lists and unallocated ports as Xen does', () => {
    const d = domain();
    const { a } = loopback(d);
    expect(poll(d, [a], 0, d.scratch + 0x100, 129)).toBe(EINVAL);
    for (const bad of BAD) expect(d.call(SCHED_OP, 3, bad)).toBe(EFAULT);
    for (const list of [HYPERVISOR_VIRT_START - 4, 0xfffffff0]) {
      d.put32(d.scratch, list, 2, 0, 0);
      expect(d.call(SCHED_OP, 3, d.scratch)).toBe(EFAULT);
    }
    // An unmapped list within the guest's half: the copy faults.
    d.put32(d.scratch, 0x1000, 1, 0, 0);
    expect(d.call(SCHED_OP, 3, d.scratch)).toBe(EFAULT);
    // Ports past the allocated bucket (64 ports) are -EINVAL; a free port inside it is merely not pending.
    expect(poll(d, [64])).toBe(EINVAL);
    expect(poll(d, [0xffffffff])).toBe(EINVAL);
    // (The channels' own check refuses what no u32 from the guest can be, too.)
    for (const port of [-1, 0.5, NaN]) expect(d.domain.events.pollPort(port)).toBe(EINVAL);
    expect(poll(d, [a, 1000])).toBe(EINVAL);
    expect(d.domain.stop).toBe(null);
    expect(poll(d, [63])).toBe(0);
    expect(d.domain.stop).toBe('block');
  });

  it('SCHEDOP_poll returns at once for a pending port or a deliverable event, else blocks until its port, a kick or its timeout', () => {
    const d = domain();
    const vcpu = d.booted.vcpu;
    const clock = d.booted.clock;
    expect(d.call(24, 7, 0, 0)).toBe(0);
    const { a, b } = loopback(d);
    const other = loopback(d);
    setMask(d, a);
    setMask(d, other.a);
    // Already pending (masked or not): no block.
    send(d, b);
    expect(poll(d, [other.a, a])).toBe(0);
    expect(d.domain.stop).toBe(null);
    // Clear a's pending bit (the guest does) and poll it alone: another masked port does not wake it.
    d.memory.write8(d.domain.sharedInfoBase + SHARED_INFO.evtchnPending + (a >>> 3), 0);
    expect(poll(d, [a])).toBe(0);
    expect(d.domain.stop).toBe('block');
    expect(vcpu.run(1000)).toMatchObject({ reason: 'hlt' });
    send(d, other.b);
    expect(vcpu.hasPendingEvent!()).toBe(false);
    // Its own port wakes it, masked as it is; events stay masked (poll, unlike block, leaves the mask).
    send(d, b);
    expect(vcpu.hasPendingEvent!()).toBe(true);
    expect(vcpu.run(1000)).toMatchObject({ reason: 'budget' });
    expect(d.domain.stop).toBe(null);
    expect(d.domain.upcallMask).toBe(1);
    // With several ports, any port of the domain wakes the poller (Xen's poll_evtchn = -1).
    const c = loopback(d);
    setMask(d, c.a);
    for (const port of [a, other.a, c.a]) d.memory.write8(d.domain.sharedInfoBase + SHARED_INFO.evtchnPending + (port >>> 3), 0);
    expect(poll(d, [a, other.a])).toBe(0);
    send(d, c.b);
    expect(vcpu.hasPendingEvent!()).toBe(true);
    vcpu.run(10);
    // Port 0 polled alone: Xen's poll_evtchn 0 means any port, so another masked port wakes it.
    d.memory.write8(d.domain.sharedInfoBase + SHARED_INFO.evtchnPending + (c.a >>> 3), 0);
    expect(poll(d, [0])).toBe(0);
    send(d, c.b);
    expect(vcpu.hasPendingEvent!()).toBe(true);
    vcpu.run(10);
    // An unmasked port raising upcall_pending kicks a single-port poller too.
    d.memory.write8(d.domain.sharedInfoBase + SHARED_INFO.evtchnPending + (c.a >>> 3), 0);
    const open = loopback(d);
    clearUpcall(d);
    expect(poll(d, [a])).toBe(0);
    send(d, open.b);
    expect(vcpu.hasPendingEvent!()).toBe(true);
    vcpu.run(10);
    // An event the vCPU can take now (upcall pending, events unmasked) returns at once.
    d.domain.upcallMask = 0;
    expect(poll(d, [a])).toBe(0);
    expect(d.domain.stop).toBe(null);
    d.domain.upcallMask = 1;
    clearUpcall(d);
    // The timeout is system time: not before it, then the vCPU runs again.
    const now = d.guest.time.now();
    expect(poll(d, [a], now + 5_000_000)).toBe(0);
    expect(clock.nextDeadline()).toBe(now + 5_000_000);
    clock.ns = now + 4_999_999;
    clock.fireDue();
    expect(vcpu.hasPendingEvent!()).toBe(false);
    clock.ns = now + 5_000_000;
    clock.fireDue();
    expect(vcpu.hasPendingEvent!()).toBe(true);
    vcpu.run(10);
    // A timeout negative as s_time_t is in the past: it ends the poll at the next timer run.
    expect(poll(d, [a], 2 ** 63)).toBe(0);
    clock.fireDue();
    expect(vcpu.hasPendingEvent!()).toBe(true);
    vcpu.run(10);
    // A poll woken early leaves no timer behind.
    expect(poll(d, [a], now + 2e9)).toBe(0);
    send(d, b);
    vcpu.run(10);
    expect(clock.nextDeadline()).toBe(Infinity);
  });

  it('answers 3000 random sub-ops and structures with 0, a watchdog id or one of Xen\'s codes, never a host exception', () => {
    let d = domain();
    const next = rng(0x5c4ed);
    const pick = <T>(items: readonly T[]): T => items[next() % items.length];
    const answers = new Set([0, 1, 2, EFAULT, EINVAL, ENOSPC, EPERM, ESRCH, -38]);
    for (let n = 0; n < 3000; n++) {
      // The structure: pointers (list, port list), counts, ids, ports and timeouts that matter, or noise.
      const word = () => pick([0, 1, 2, 3, 64, 128, 129, 0x7ff0, 0xffffffff, d.scratch + 0x100, HYPERVISOR_VIRT_START - 4, 0x1000, next()]);
      d.put32(d.scratch, word(), word(), word(), word());
      d.put32(d.scratch + 0x100, ...Array.from({ length: 8 }, () => pick([1, 2, 63, 64, next() % 128, next()])));
      const cmd = pick([3, 4, 5, 6, 7, next() % 16, next()]);
      const arg = pick([d.scratch, d.scratch + (next() % 0x800), ...BAD, next()]);
      const result = d.call(SCHED_OP, cmd, arg);
      expect(answers.has(result), `sched_op(${cmd}, 0x${arg.toString(16)}) = ${result}`).toBe(true);
      if (d.domain.stop !== null || n % 500 === 499) d = domain();
    }
  });

  it('SCHEDOP_remote_shutdown: -EPERM for the domains it can name, -ESRCH for the rest, nothing shut down', () => {
    const d = domain();
    for (const bad of BAD) expect(d.call(SCHED_OP, 4, bad)).toBe(EFAULT);
    const remote = (dom: number) => {
      d.put32(d.scratch, dom, 0);
      return d.call(SCHED_OP, 4, d.scratch);
    };
    expect(remote(1)).toBe(EPERM);
    expect(remote(0)).toBe(EPERM);
    for (const dom of [2, 0x7ff0, 0x7ff4, 0xffff]) expect(remote(dom)).toBe(ESRCH);
    expect(d.domain.stop).toBe(null);
    expect(d.booted.vcpu.run(1000)).toMatchObject({ reason: 'budget' });
  });
});
