import { describe, expect, it } from 'vitest';
import type { VmExit } from '@ringvisor/vmm-api';
import { RunLoop, type StepOutcome } from '../src/run-loop.js';
import type { VmEnd } from '../src/result.js';
import { FakeClock, FakePic, FakeVcpu, type ScriptStep } from './fakes.js';

function machine(script: ScriptStep[], options: { kind?: 'virtual' | 'host'; after?: VmExit; wall?: () => number } = {}) {
  const vcpu = new FakeVcpu(script, options.after);
  const clock = new FakeClock(options.kind);
  const pic = new FakePic();
  let requested: VmEnd | null = null;
  const loop = new RunLoop(
    { vcpu, clock, interrupts: pic, pendingEnd: () => requested },
    { sliceInstructions: 5_000, sliceMs: 10, wallMs: options.wall ?? (() => 0) },
  );
  const requestEnd = (end: VmEnd) => { requested = end; };
  return { vcpu, clock, pic, loop, requestEnd };
}

const hlt = (interruptsEnabled: boolean): VmExit => ({ reason: 'hlt', interruptsEnabled });

describe('RunLoop', () => {
  it('bounds each run by the next timer deadline and fires the timer when it is due', () => {
    const { vcpu, clock, loop } = machine([{ retire: 1_000, exit: { reason: 'budget' } }, { exit: { reason: 'shutdown', cause: 'power-off' } }]);
    let fired = 0;
    clock.schedule(1_000, () => { fired++; });
    expect(loop.step()).toEqual({ kind: 'end', end: { reason: 'power-off' } });
    expect(vcpu.budgets[0]).toBe(1_000);
    expect(vcpu.budgets[1]).toBe(5_000);
    expect(fired).toBe(1);
  });

  it('wakes a halted vCPU for a para-virtual event a timer makes pending, not only for interrupts', () => {
    const { vcpu, clock, loop } = machine([{ exit: hlt(true) }, { exit: { reason: 'shutdown', cause: 'power-off' } }]);
    let pending = false;
    (vcpu as unknown as { hasPendingEvent: () => boolean }).hasPendingEvent = () => pending;
    clock.schedule(50_000, () => { pending = true; });
    expect(loop.step()).toEqual({ kind: 'end', end: { reason: 'power-off' } });
    expect(vcpu.budgets).toHaveLength(2);
  });

  it('ends a machine that halts with interrupts disabled as dead', () => {
    const { loop } = machine([{ exit: hlt(false) }]);
    const out = loop.step();
    expect(out.kind).toBe('end');
    expect((out as { end: VmEnd }).end.reason).toBe('dead');
  });

  it('lets a virtual clock jump over a halt to the timer that wakes the guest', () => {
    const { vcpu, clock, pic, loop } = machine([
      { retire: 100, exit: hlt(true) },
      { retire: 10, exit: { reason: 'shutdown', cause: 'power-off' } },
    ]);
    clock.schedule(1_000_000, () => pic.raise(0x20));
    expect(loop.step().kind).toBe('end');
    expect(clock.skipped).toBe(1_000_000 - 100);
    expect(vcpu.budgets).toHaveLength(2);
  });

  it('keeps skipping over timers that do not raise an interrupt', () => {
    const { clock, pic, loop } = machine([{ retire: 10, exit: hlt(true) }, { exit: { reason: 'shutdown', cause: 'power-off' } }]);
    clock.schedule(500, () => clock.schedule(2_000, () => pic.raise(0x21)));
    expect(loop.step()).toEqual({ kind: 'end', end: { reason: 'power-off' } });
    expect(clock.now()).toBe(2_000 + 10);
  });

  it('advances the vCPU TSC by the instruction-times it skips over HLT', () => {
    const { clock, loop, vcpu } = machine([{ retire: 50, exit: hlt(true) }, { exit: { reason: 'shutdown', cause: 'power-off' } }]);
    clock.schedule(5_000, () => {});
    loop.step();
    expect(clock.skipped).toBe(4_950);
    expect(vcpu.tscAdvanced).toBe(4_950);
  });

  it('waits for an external event when halted with nothing scheduled, then resumes', () => {
    const { pic, loop, vcpu } = machine([{ exit: hlt(true) }, { exit: { reason: 'shutdown', cause: 'power-off' } }]);
    expect(loop.step()).toEqual({ kind: 'wait', until: Infinity });
    expect(loop.isHalted).toBe(true);
    expect(loop.step()).toEqual({ kind: 'wait', until: Infinity });
    expect(vcpu.budgets).toHaveLength(1);
    pic.raise(0x24);
    expect(loop.step()).toEqual({ kind: 'end', end: { reason: 'power-off' } });
  });

  it('with a host clock, asks the caller to sleep until the next deadline instead of skipping', () => {
    const { clock, loop } = machine([{ retire: 50, exit: hlt(true) }], { kind: 'host' });
    clock.schedule(7_000, () => {});
    expect(loop.step()).toEqual({ kind: 'wait', until: 7_000 });
    expect(clock.skipped).toBe(0);
  });

  it('reports triple fault, reset, a PV watchdog and power-off from shutdown exits', () => {
    expect(machine([{ exit: { reason: 'shutdown', cause: 'triple-fault', detail: '#DF in #DF' } }]).loop.step())
      .toEqual({ kind: 'end', end: { reason: 'triple-fault', detail: '#DF in #DF' } });
    expect(machine([{ exit: { reason: 'shutdown', cause: 'reset' } }]).loop.step())
      .toEqual({ kind: 'end', end: { reason: 'reset' } });
    expect(machine([{ exit: { reason: 'shutdown', cause: 'watchdog' } }]).loop.step())
      .toEqual({ kind: 'end', end: { reason: 'watchdog' } });
  });

  it('lets an exit-port request win over the HLT the guest executes after it', () => {
    const m = machine([]);
    const loop2 = new RunLoop(
      { vcpu: new FakeVcpu([{ exit: hlt(false), during: () => m.requestEnd({ reason: 'exit-code', code: 3 }) }]), clock: m.clock, interrupts: m.pic, pendingEnd: () => null },
      { wallMs: () => 0 },
    );
    // Without the request the HLT is fatal; with it the code is what the run reports.
    expect((loop2.step() as { end: VmEnd }).end.reason).toBe('dead');
    const { loop, requestEnd } = machine([{ exit: hlt(false), during: () => requestEnd({ reason: 'exit-code', code: 3 }) }]);
    expect(loop.step()).toEqual({ kind: 'end', end: { reason: 'exit-code', code: 3 } });
  });

  it('injects the acknowledged vector on an interrupt-window exit', () => {
    const m = machine([
      { exit: { reason: 'irq-window' }, during: () => { m.pic.raise(0x30); m.pic.raise(0x31); } },
      { exit: { reason: 'shutdown', cause: 'power-off' } },
    ]);
    m.loop.step();
    expect(m.vcpu.injected).toEqual([0x30]);
    expect(m.vcpu.windowRequested).toBe(true);
  });

  it('answers hypercalls nobody serves with -ENOSYS', () => {
    let result: number | undefined;
    const { loop } = machine([
      { exit: { reason: 'hypercall', nr: 99, args: [1, 2], complete: (r) => { result = r; } } },
      { exit: { reason: 'shutdown', cause: 'power-off' } },
    ]);
    loop.step();
    expect(result).toBe(-38);
  });

  it('ends with an error on internal errors, failed entries and surfaced exceptions', () => {
    const ends = [
      { reason: 'internal-error', detail: 'unknown opcode 0f ff' },
      { reason: 'fail-entry', code: 7, detail: 'invalid guest state' },
      { reason: 'exception', vector: 13, errorCode: 0 },
    ].map((exit) => machine([{ exit: exit as VmExit }]).loop.step());
    expect(ends.map((o) => (o as { end: VmEnd }).end)).toEqual([
      { reason: 'error', detail: 'unknown opcode 0f ff' },
      { reason: 'error', detail: 'VM entry failed (7): invalid guest state' },
      { reason: 'error', detail: 'unhandled exception vector 13' },
    ]);
  });

  it('yields to the host once its wall-time slice is used up', () => {
    let wall = 0;
    const { loop, vcpu } = machine([], { wall: () => (wall += 3) });
    expect(loop.step()).toEqual({ kind: 'yield' });
    expect(vcpu.budgets.length).toBeGreaterThan(0);
    expect(vcpu.budgets.length).toBeLessThan(5);
  });

  it('reports a host stop on the next step and never runs the guest again', () => {
    let wall = 0;
    const { loop, vcpu } = machine([], { wall: () => (wall += 20) });
    expect(loop.step().kind).toBe('yield');
    const runs = vcpu.budgets.length;
    loop.stop({ reason: 'stopped', detail: 'SIGTERM' });
    const out: StepOutcome = loop.step();
    expect(out).toEqual({ kind: 'end', end: { reason: 'stopped', detail: 'SIGTERM' } });
    expect(vcpu.budgets.length).toBe(runs);
  });

  it('on a host clock, sizes budgets so that one run takes about half a slice at the measured speed', () => {
    const vcpu = new FakeVcpu([]);
    // A 5 MIPS CPU: 5000 instructions per wall millisecond.
    const loop = new RunLoop(
      { vcpu, clock: new FakeClock('host'), interrupts: new FakePic(), pendingEnd: () => null },
      { sliceInstructions: 1_000, sliceMs: 10, wallMs: () => vcpu.retired / 5_000 },
    );
    for (let i = 0; i < 20; i++) loop.step();
    expect(vcpu.budgets[0]).toBe(1_000);
    expect(vcpu.budgets.at(-1)).toBeGreaterThan(24_000);
    expect(vcpu.budgets.at(-1)).toBeLessThan(26_000);
  });

  it('on a virtual clock, keeps run boundaries independent of host speed', () => {
    const vcpu = new FakeVcpu([]);
    const loop = new RunLoop(
      { vcpu, clock: new FakeClock('virtual'), interrupts: new FakePic(), pendingEnd: () => null },
      { sliceInstructions: 1_000, sliceMs: 10, wallMs: () => vcpu.retired / 5_000 },
    );
    for (let i = 0; i < 20; i++) loop.step();
    expect(new Set(vcpu.budgets)).toEqual(new Set([1_000]));
    // Alone, it is never preempted: its guest sees no steal time.
    expect(vcpu.preemptedAfter).toEqual([]);
  });

  it('runs several vCPUs in turn, waits only when all are halted, and moves every TSC with the time', () => {
    const first = new FakeVcpu([{ retire: 100, exit: { reason: 'budget' } }, { retire: 30, exit: hlt(true) }], hlt(true));
    const second = new FakeVcpu([{ retire: 200, exit: { reason: 'budget' } }, { retire: 50, exit: hlt(true) }], hlt(true));
    let secondWakes = false;
    (second as unknown as { hasPendingEvent: () => boolean }).hasPendingEvent = () => {
      const wakes = secondWakes;
      secondWakes = false;
      return wakes;
    };
    const clock = new FakeClock('virtual');
    const loop = new RunLoop(
      { vcpu: first, others: [second], clock, interrupts: new FakePic(), pendingEnd: () => null },
      { sliceInstructions: 5_000, sliceMs: 10, wallMs: () => 0 },
    );
    expect(loop.step()).toEqual({ kind: 'wait', until: Infinity });
    // Turns alternate: first, second, first (halts), second (halts); then nothing can run.
    expect([first.budgets.length, second.budgets.length]).toEqual([2, 2]);
    expect(loop.isHalted).toBe(true);
    expect(loop.retired).toBe(380);
    // Each TSC followed the other's instructions.
    expect(first.tscAdvanced).toBe(250);
    expect(second.tscAdvanced).toBe(130);
    // Each was preempted once, when the other took the turn after its budget ran out; never after halting.
    expect(first.preemptedAfter).toEqual([1]);
    expect(second.preemptedAfter).toEqual([1]);
    // An event for the second wakes it alone.
    secondWakes = true;
    expect(loop.step()).toEqual({ kind: 'wait', until: Infinity });
    expect(second.budgets).toHaveLength(3);
    expect(first.budgets).toHaveLength(2);
  });
});
