import { readFileSync, readlinkSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import type { SpecialRegisters } from '@ringvisor/vmm-api';
import { hwStrategy, HwVm, KvmError, KvmModeError } from '../src/index.js';
import { KVM_CREATE_VCPU, KVM_SET_CPUID2 } from '../src/kvm/constants.js';
import type { Libc } from '../src/kvm/libc.js';
import { KvmSystem } from '../src/kvm/system.js';
import {
  describeKvm, FakePic, flat32, LOAD_ADDRESS, machine, RecordingIo, RecordingMmio, runToExit, Stats, type TestMachine,
} from './kvm-guest.js';

const CR0_PE = 1;
const CR0_ET = 1 << 4;
const EFER_LMA = 1 << 10;

/** A bad state may be refused by KVM_SET_SREGS or by VM entry; either is fine, a crash is not. */
function enterOrRefuse(m: TestMachine, sregs: SpecialRegisters): string {
  try {
    m.vcpu.setSpecialRegisters(sregs);
    m.vcpu.setRegisters({ ...m.vcpu.getRegisters(), eip: LOAD_ADDRESS });
  } catch (err) {
    expect(err instanceof KvmError || err instanceof KvmModeError).toBe(true);
    return 'refused';
  }
  return runToExit(m.vcpu).reason;
}

describeKvm('hostile guests and states', () => {
  let m: TestMachine | undefined;
  afterEach(() => { m?.vm.destroy(); m = undefined; });

  it('refuses a not-present code segment in protected mode cleanly', () => {
    m = machine('pm32');
    const s = flat32(m.vcpu.getSpecialRegisters(), CR0_PE | CR0_ET);
    const outcome = enterOrRefuse(m, { ...s, cs: { ...s.cs, access: 0x1b } }); // P = 0
    expect(['refused', 'fail-entry', 'internal-error', 'shutdown']).toContain(outcome);
  });

  it('refuses EFER.LMA without paging cleanly', () => {
    m = machine('pm32');
    const s = flat32(m.vcpu.getSpecialRegisters(), CR0_PE | CR0_ET);
    expect(['refused', 'fail-entry', 'internal-error', 'shutdown']).toContain(enterOrRefuse(m, { ...s, efer: EFER_LMA }));
  });

  it('ends a software INT through an empty IDT as a shutdown or an internal error, never a host crash', () => {
    m = machine('int-empty-idt');
    m.vcpu.setSpecialRegisters({ ...flat32(m.vcpu.getSpecialRegisters(), CR0_PE | CR0_ET), idt: { base: 0, limit: 0 } });
    m.vcpu.setRegisters({ ...m.vcpu.getRegisters(), eip: LOAD_ADDRESS });
    // Hardware KVM reports the triple fault; a nested KVM that emulates INT may give up instead.
    const exit = runToExit(m.vcpu);
    expect(['shutdown', 'internal-error']).toContain(exit.reason);
    if (exit.reason === 'internal-error') expect(exit.detail).toMatch(/^KVM_EXIT_INTERNAL_ERROR suberror \d+ .* at RIP 0x1000: /);
  });

  it('keeps ROM read-only: guest writes neither land nor reach the MMIO bus', () => {
    const rom = new Uint8Array(0x10000).fill(0xaa);
    m = machine('rom-write', { regions: [{ base: 0, size: 0xa0000 }, { base: 0xf0000, size: 0x10000, rom }] });
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    if ((m.vm as HwVm).readOnlyRom) {
      expect(m.io.writes(0x10)).toEqual([0xaa]);
      expect(m.vm.memory.read8(0xf0000)).toBe(0xaa);
      expect(m.mmio.log).toEqual([]);
      expect(m.stats.byReason.get('mmio')).toBe(1);
    } else {
      // Without KVM_CAP_READONLY_MEM the ROM is an ordinary slot (README: documented limitation).
      expect(m.io.writes(0x10)).toEqual([0x55]);
    }
  });

  it('bounds-checks guest memory accesses from devices', () => {
    m = machine('hlt', { regions: [{ base: 0, size: 0x10000 }] });
    const mem = m.vm.memory;
    expect(mem.ramEnd).toBe(0x10000);
    expect(mem.read8(0x10000)).toBe(0xff);
    expect(mem.read32(0xfffe)).toBe(0xffff_ffff); // straddles the end
    expect(mem.read32(-4)).toBe(0xffff_ffff);
    expect(mem.read8(Number.NaN)).toBe(0xff);
    mem.write32(0xfffe, 0x12345678);
    expect(mem.read16(0xfffe)).toBe(0);
    expect(mem.view(0xff00, 0x200)).toBeNull();
    expect(mem.view(0x100, -1)).toBeNull();
    expect(mem.writeBytes(0xffff, new Uint8Array(2))).toBe(false);
    expect(mem.readBytes(2 ** 60, new Uint8Array(1))).toBe(false);
    const view = mem.view(0x3000, 4)!;
    view.set([1, 2, 3, 4]);
    expect(mem.read32(0x3000)).toBe(0x04030201); // the view is the guest's own bytes
  });

  it('rejects impossible memory maps before touching KVM state', () => {
    const spec = { io: new RecordingIo(), mmio: new RecordingMmio(), interrupts: new FakePic(), stats: new Stats() };
    expect(() => hwStrategy.createVm({ ...spec, regions: [{ base: 0x100, size: 0x1000 }] })).toThrow(RangeError);
    // KVM slots are whole pages: a region rounded up would give the guest bytes the host's
    // memory, ROM check and DMA views know nothing about.
    expect(() => hwStrategy.createVm({ ...spec, regions: [{ base: 0, size: 0x1800 }] })).toThrow(RangeError);
    expect(() => hwStrategy.createVm({ ...spec, regions: [{ base: 0xf0000, size: 0x10, rom: new Uint8Array(0x10) }] })).toThrow(RangeError);
    expect(() => hwStrategy.createVm({ ...spec, regions: [{ base: 0, size: 0x2000 }, { base: 0x1000, size: 0x1000 }] })).toThrow(/overlap/);
    expect(() => hwStrategy.createVm({ ...spec, regions: [{ base: 0, size: 0x1000, rom: new Uint8Array(0x2000) }] })).toThrow(RangeError);
  });

  it('closes a vCPU that fails halfway through creation, and the VM goes on', () => {
    const kvm = KvmSystem.open();
    if (typeof kvm === 'string') throw new Error(kvm);
    // The same /dev/kvm, with KVM_SET_CPUID2 refused once: the vCPU fd and its run page exist by then.
    let refuseCpuid = true;
    const vcpuFds: number[] = [];
    const libc: Libc = {
      ...kvm.libc,
      ioctl: (fd, request, arg) => (request === KVM_SET_CPUID2 && refuseCpuid ? -1 : kvm.libc.ioctl(fd, request, arg)),
      ioctlValue: (fd, request, arg) => {
        const rc = kvm.libc.ioctlValue(fd, request, arg);
        if (request === KVM_CREATE_VCPU) vcpuFds.push(rc);
        return rc;
      },
    };
    const faulty = Object.assign(Object.create(KvmSystem.prototype) as KvmSystem, kvm, { libc });
    const spec = { regions: [{ base: 0, size: 0x10000 }], io: new RecordingIo(), mmio: new RecordingMmio(), interrupts: new FakePic(), stats: new Stats() };
    const vm = new HwVm(faulty, spec);
    try {
      expect(() => vm.createVcpu(0)).toThrow(KvmError);
      expect(vcpuFds).toHaveLength(1);
      const link = (() => { try { return readlinkSync(`/proc/self/fd/${vcpuFds[0]}`); } catch { return 'closed'; } })();
      expect(link).not.toMatch(/kvm-vcpu/);
      expect(readFileSync('/proc/self/maps', 'utf8')).not.toMatch(/kvm-vcpu/);
      refuseCpuid = false;
      const vcpu = vm.createVcpu(1);
      expect(vcpu.getRegisters().eflags & 2).toBe(2);
    } finally {
      vm.destroy();
    }
  });

  it('releases everything once, and refuses to run a destroyed vCPU', () => {
    m = machine('hlt');
    const { vm, vcpu } = m;
    m = undefined;
    const view = vm.memory.view(0x1000, 16)!; // a device's DMA view, kept past the VM's end
    vm.destroy();
    vm.destroy();
    expect(() => vcpu.run(1000)).toThrow(/destroyed/);
    expect(() => vcpu.getRegisters()).toThrow(/destroyed/);
    expect(() => vcpu.injectInterrupt(0x20)).toThrow(/destroyed/);
    expect(vcpu.interruptible).toBe(false);
    expect(() => vm.createVcpu(1)).toThrow(/destroyed/);
    // Guest RAM is gone: the memory answers as unbacked, and a stale view is harmless scratch.
    expect(vm.memory.read8(0x1000)).toBe(0xff);
    expect(vm.memory.view(0x1000, 16)).toBeNull();
    view[0] = 0x5a;
    expect(view[0]).toBe(0x5a);
  });
});

describeKvm('the run budget on KVM', () => {
  let m: TestMachine | undefined;
  afterEach(() => { m?.vm.destroy(); m = undefined; });

  it('returns "budget" from a guest that spins without exits, and resumes it where it was', () => {
    m = machine('spin');
    m.vcpu.setRegisters({ ...m.vcpu.getRegisters(), ecx: 0x7fff_ffff });
    // ~1 ms of guest time per run; a loaded host may not schedule the guest in the first few.
    let ecx = 0x7fff_ffff;
    for (let i = 0; i < 200 && ecx === 0x7fff_ffff; i++) {
      expect(m.vcpu.run(1_000_000)).toEqual({ reason: 'budget' });
      ecx = m.vcpu.getRegisters().ecx;
    }
    const { eip } = m.vcpu.getRegisters();
    expect(ecx).toBeLessThan(0x7fff_ffff);
    expect(eip).toBeGreaterThanOrEqual(LOAD_ADDRESS);
    expect(m.vcpu.retired).toBeGreaterThan(0);
    m.vcpu.setRegisters({ ...m.vcpu.getRegisters(), ecx: 1 });
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.io.writes(0x10)).toHaveLength(1);
  });

  it('completes a pending IN before returning "budget", so registers read between runs are consistent', () => {
    m = machine('out-loop', { io: new RecordingIo({ 0x14: 0x5a, 0x18: 0xcafe }) });
    let exit;
    do exit = m.vcpu.run(0); while (exit.reason === 'budget' && !m.io.log.some((a) => a.port === 0x14));
    // The IN from 0x14 has just been answered; KVM must have stored AL and moved past the IN.
    const regs = m.vcpu.getRegisters();
    expect(regs.eax & 0xff).toBe(0x5a);
    expect(m.io.log.filter((a) => a.port === 0x14)).toHaveLength(1);
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.io.writes(0x16)).toEqual([0x5a]);
    expect(m.io.log.filter((a) => a.port === 0x14)).toHaveLength(1); // the IN was not executed twice
  });
});
