import { afterEach, expect, it } from 'vitest';
import {
  describeKvm, enterRealMode, LOAD_ADDRESS, machine, RecordingIo, RecordingMmio, runToExit, type TestMachine,
} from './kvm-guest.js';

describeKvm('real-mode guests on KVM', () => {
  let m: TestMachine | undefined;
  afterEach(() => { m?.vm.destroy(); m = undefined; });

  it('dispatches OUT and IN to the I/O bus and counts them by port', () => {
    m = machine('out-loop', { io: new RecordingIo({ 0x14: 0x5a, 0x18: 0xdeadbeef }) });
    const exit = runToExit(m.vcpu);
    expect(exit).toEqual({ reason: 'hlt', interruptsEnabled: false });
    expect(m.io.writes(0x10)).toEqual([1, 2, 3, 4, 5]);
    expect(m.io.log.find((a) => a.port === 0x12)).toEqual({ port: 0x12, size: 2, value: 0x1234, write: true });
    expect(m.io.writes(0x16)).toEqual([0x5a]);
    expect(m.io.log.find((a) => a.port === 0x1c)).toEqual({ port: 0x1c, size: 4, value: 0xdeadbeef, write: true });
    expect(m.stats.byPort.get(0x10)).toBe(5);
    expect(m.stats.byReason.get('io')).toBe(10);
    expect(m.stats.byReason.get('hlt')).toBe(1);
  });

  it('moves string I/O data through the run page (REP OUTSB, REP INSW, REP OUTSW)', () => {
    m = machine('string-io', { io: new RecordingIo({ 0x20: 0xabcd }) });
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    const text = String.fromCharCode(...m.io.writes(0xe9));
    expect(text).toBe('Hello from KVM\n');
    expect(m.io.log.filter((a) => a.port === 0x20 && !a.write)).toHaveLength(2);
    expect(m.io.writes(0x22)).toEqual([0xabcd, 0xabcd]);
    // KVM may batch a REP string instruction into one exit or exit per element; never more.
    expect(m.stats.byPort.get(0xe9)).toBeLessThanOrEqual(text.length);
  });

  it('reports HLT with the guest\'s IF, and resumes after it', () => {
    m = machine('hlt');
    expect(runToExit(m.vcpu)).toEqual({ reason: 'hlt', interruptsEnabled: false });
    expect(runToExit(m.vcpu)).toEqual({ reason: 'hlt', interruptsEnabled: true });
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.io.writes(0x10)).toEqual([0x42]);
  });

  it('dispatches accesses to unbacked guest-physical addresses to the MMIO bus', () => {
    m = machine('mmio', { mmio: new RecordingMmio({ 0xa0030: 0x77 }), regions: [{ base: 0, size: 0xa0000 }] });
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.mmio.log).toEqual([
      { address: 0xa0010, size: 2, value: 0xbeef, write: true },
      { address: 0xa0020, size: 4, value: 0x12345678, write: true },
      { address: 0xa0030, size: 1, value: 0x77, write: false },
    ]);
    expect(m.io.writes(0x30)).toEqual([0x77]);
    expect(m.stats.byReason.get('mmio')).toBe(3);
  });

  it('injects a pending interrupt when the guest halts with IF set, running its IVT handler', () => {
    m = machine('interrupt');
    expect(runToExit(m.vcpu)).toEqual({ reason: 'hlt', interruptsEnabled: true });
    expect(m.io.writes(0x40)).toEqual([]);
    m.pic.raise(0x20);
    expect(runToExit(m.vcpu)).toEqual({ reason: 'hlt', interruptsEnabled: true });
    expect(m.pic.acknowledged).toEqual([0x20]);
    expect(m.io.writes(0x40)).toEqual([0x99]);
  });

  it('waits for an interrupt window when the interrupt is raised while IF is clear', () => {
    m = machine('interrupt');
    m.pic.raise(0x20);
    expect(runToExit(m.vcpu)).toEqual({ reason: 'hlt', interruptsEnabled: true });
    // The handler ran once, after the guest's STI and before it halted. Hardware KVM opens the
    // window right after STI's shadow; a nested KVM may only notice it at the next exit (0x42).
    const ports = m.io.log.filter((a) => a.write).map((a) => a.port);
    expect(ports[0]).toBe(0x41);
    expect(ports.slice(1).sort()).toEqual([0x40, 0x42]);
    expect(m.pic.acknowledged).toEqual([0x20]);
  });

  it('returns irq-window to the hypervisor when it asked for one', () => {
    m = machine('interrupt');
    m.vcpu.requestInterruptWindow(true);
    expect(runToExit(m.vcpu).reason).toBe('irq-window');
    expect(m.vcpu.interruptible).toBe(true);
    m.vcpu.requestInterruptWindow(false);
    m.vcpu.injectInterrupt(0x20);
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.io.writes(0x40)).toEqual([0x99]);
  });

  it('runs a second vCPU of the same VM with its own state', () => {
    m = machine('out-loop', { io: new RecordingIo({ 0x14: 0x11, 0x18: 0 }) });
    const second = m.vm.createVcpu(1);
    enterRealMode(second, LOAD_ADDRESS);
    expect(runToExit(second)).toEqual({ reason: 'hlt', interruptsEnabled: false });
    expect(m.vcpu.getRegisters().eip).toBe(LOAD_ADDRESS); // the first has not moved
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    expect(m.io.writes(0x10)).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    expect(second.index).toBe(1);
  });
});
