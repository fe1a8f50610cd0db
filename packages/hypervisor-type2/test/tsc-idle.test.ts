// The emulated CPU's TSC counts retired instructions; the run loop skips virtual time while the
// guest halts. With Vcpu.advanceTsc the TSC follows the skipped time, so a guest that sleeps 1 ms
// in HLT sees 1 ms of TSC ticks (100 000 at the virtual clock's 100 MHz), as Linux's clock needs.
import { describe, expect, it } from 'vitest';
import { MmioDispatchBus, PortIoBus } from '@ringvisor/devices';
import { ExitCounters, HostClock, VirtualClock, loadFlatBinary } from '@ringvisor/machine';
import { noneStrategy } from '@ringvisor/x86-core';
import type { Vcpu } from '@ringvisor/vmm-api';
import { hostLoopClock, virtualLoopClock } from '../src/loop-clocks.js';
import { RunLoop } from '../src/run-loop.js';

const VECTOR = 0x20;
const RESULT = 0x500;
/** Real mode at 0x7c00: TSC into ESI, STI; HLT until the interrupt, whose handler stores TSC - ESI at 0x500. */
const GUEST = [
  0x31, 0xc0, // xor ax, ax
  0x8e, 0xd8, // mov ds, ax
  0x0f, 0x31, // rdtsc
  0x66, 0x89, 0xc6, // mov esi, eax
  0xfb, // sti
  0xf4, // hlt
  0xeb, 0xfd, // jmp back to hlt
  ...new Array(0x20 - 0x0d).fill(0x90),
  // 0x7c20: the interrupt handler
  0x0f, 0x31, // rdtsc
  0x66, 0x29, 0xf0, // sub eax, esi
  0x66, 0xa3, RESULT & 0xff, RESULT >> 8, // mov [0x500], eax
  0xfa, // cli
  0xf4, // hlt: a dead machine ends the run
];

/** Runs the guest with one interrupt `sleepNs` after start; returns the TSC ticks it measured across HLT. */
function measure(sleepNs: number, hideAdvanceTsc: boolean): number {
  const clock = new VirtualClock();
  let raised = false;
  const interrupts = { pending: () => raised, acknowledge: () => { raised = false; return VECTOR; } };
  const vm = noneStrategy.createVm({
    regions: [{ base: 0, size: 0x100000 }], io: new PortIoBus(), mmio: new MmioDispatchBus(), interrupts, stats: new ExitCounters(),
  });
  const entry = loadFlatBinary(vm.memory, Uint8Array.from(GUEST), { address: 0x7c00, mode: 'real' });
  vm.memory.writeBytes(VECTOR * 4, Uint8Array.of(0x20, 0x7c, 0x00, 0x00)); // IVT: 0000:7C20
  const real = vm.createVcpu(0);
  real.setSpecialRegisters(entry.sregs);
  real.setRegisters(entry.regs);
  // A strategy without the method (as vmm-hw): the loop must work on, the TSC just stays behind.
  const vcpu: Vcpu = hideAdvanceTsc ? Object.create(real, { advanceTsc: { value: undefined } }) : real;
  clock.schedule(sleepNs, () => { raised = true; });
  const loop = new RunLoop({ vcpu, clock: virtualLoopClock(clock, { paced: false }), interrupts, pendingEnd: () => null });
  let outcome = loop.step();
  for (let i = 0; i < 100 && outcome.kind !== 'end'; i++) outcome = loop.step();
  expect(outcome).toMatchObject({ kind: 'end', end: { reason: 'dead' } });
  const out = new Uint8Array(4);
  vm.memory.readBytes(RESULT, out);
  return new DataView(out.buffer).getUint32(0, true);
}

describe('TSC across HLT on strategy none', () => {
  it('advances by the virtual time the run loop skipped (10 ns per tick)', () => {
    const ticks = measure(1_000_000, false);
    // 1 ms = 100 000 ticks; the few instructions before HLT and the delivery itself are in it too.
    expect(ticks).toBeGreaterThanOrEqual(99_990);
    expect(ticks).toBeLessThanOrEqual(100_010);
    expect(measure(250_000_000, false)).toBeGreaterThanOrEqual(25_000_000 - 10);
  });

  it('stays at the instructions retired when the vCPU cannot advance it', () => {
    expect(measure(1_000_000, true)).toBeLessThan(20);
  });
});

describe('TSC on strategy none under a host clock (--clock host)', () => {
  it('follows host time at 100 MHz, across HLT and while running', () => {
    // A host clock on a fake source: time passes only when the test moves it, so the instructions
    // run in no time and a TSC that counted them would see almost nothing.
    let ns = 0;
    const clock = new HostClock(() => ns);
    let raised = false;
    const interrupts = { pending: () => raised, acknowledge: () => { raised = false; return VECTOR; } };
    const vm = noneStrategy.createVm({
      regions: [{ base: 0, size: 0x100000 }], io: new PortIoBus(), mmio: new MmioDispatchBus(), interrupts,
      stats: new ExitCounters(), clock,
    });
    const entry = loadFlatBinary(vm.memory, Uint8Array.from(GUEST), { address: 0x7c00, mode: 'real' });
    vm.memory.writeBytes(VECTOR * 4, Uint8Array.of(0x20, 0x7c, 0x00, 0x00));
    const vcpu = vm.createVcpu(0);
    vcpu.setSpecialRegisters(entry.sregs);
    vcpu.setRegisters(entry.regs);
    clock.schedule(1_000_000, () => { raised = true; });
    const loop = new RunLoop({ vcpu, clock: hostLoopClock(clock), interrupts, pendingEnd: () => null });
    let outcome = loop.step();
    for (let i = 0; i < 100 && outcome.kind !== 'end'; i++) {
      // The halted guest waits for its timer: the host's time gets there on its own.
      if (outcome.kind === 'wait' && Number.isFinite(outcome.until)) ns = outcome.until;
      outcome = loop.step();
    }
    expect(outcome).toMatchObject({ kind: 'end', end: { reason: 'dead' } });
    const out = new Uint8Array(4);
    vm.memory.readBytes(RESULT, out);
    expect(new DataView(out.buffer).getUint32(0, true)).toBe(100_000);
  });
});
