import { describe, expect, it } from 'vitest';
import { HostClock, VirtualClock } from '@ringvisor/machine';
import { hostLoopClock, virtualLoopClock } from '../src/loop-clocks.js';

describe('virtualLoopClock', () => {
  it('turns the time to the next timer into an exact instruction budget', () => {
    const clock = new VirtualClock(100_000_000);
    const loop = virtualLoopClock(clock, { paced: false });
    clock.schedule(1_000, () => {});
    expect(loop.nextDeadline()).toBe(1_000);
    expect(loop.instructionsUntil(1_000)).toBe(100);
    loop.account(60);
    expect(loop.now()).toBe(600);
    expect(loop.instructionsUntil(1_000)).toBe(40);
    expect(loop.instructionsUntil(Infinity)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('reports no deadline as Infinity and fires what is due', () => {
    const clock = new VirtualClock();
    const loop = virtualLoopClock(clock, { paced: false });
    expect(loop.nextDeadline()).toBe(Infinity);
    let fired = false;
    clock.schedule(50, () => { fired = true; });
    expect(loop.skipTo(50)).toBe(true);
    loop.fireDue();
    expect(fired).toBe(true);
    expect(loop.now()).toBe(50);
  });

  it('hands out skipped time as whole instruction-times, carrying the fractions', () => {
    const clock = new VirtualClock(100_000_000); // 10 ns per instruction
    const loop = virtualLoopClock(clock, { paced: false });
    expect(loop.takeSkippedInstructions()).toBe(0);
    loop.account(3); // 30 ns of running is not skipped time
    expect(loop.skipTo(1_035)).toBe(true); // 1005 ns skipped
    expect(loop.takeSkippedInstructions()).toBe(100);
    expect(loop.takeSkippedInstructions()).toBe(0);
    expect(loop.skipTo(1_040)).toBe(true); // 5 more: the carried 5 make another 10
    expect(loop.takeSkippedInstructions()).toBe(1);
    expect(loop.skipTo(500)).toBe(true); // never backwards
    expect(loop.takeSkippedInstructions()).toBe(0);
  });

  it('when paced, never jumps ahead of wall time and says how long to wait', () => {
    let wall = 0;
    const clock = new VirtualClock();
    const loop = virtualLoopClock(clock, { paced: true, wallMs: () => wall });
    expect(loop.skipTo(10_000_000)).toBe(false);
    expect(loop.msUntil(10_000_000)).toBe(10);
    wall = 10;
    expect(loop.msUntil(10_000_000)).toBe(0);
    expect(loop.skipTo(10_000_000)).toBe(true);
    expect(loop.now()).toBe(10_000_000);
  });
});

describe('hostLoopClock', () => {
  it('never skips, so never has skipped time to hand out', () => {
    const loop = hostLoopClock(new HostClock());
    expect(loop.skipTo(1e12)).toBe(false);
    expect(loop.takeSkippedInstructions()).toBe(0);
  });

  it('never skips time and waits for deadlines in wall time', () => {
    let ns = 0;
    const clock = new HostClock(() => ns);
    const loop = hostLoopClock(clock);
    clock.schedule(5_000_000, () => {});
    expect(loop.skipTo(5_000_000)).toBe(false);
    expect(loop.msUntil(5_000_000)).toBe(5);
    ns = 5_000_000;
    expect(loop.msUntil(5_000_000)).toBe(0);
  });

  it('learns the instruction rate from measured runs to size budgets', () => {
    let ns = 0;
    const clock = new HostClock(() => ns);
    const loop = hostLoopClock(clock);
    for (let i = 0; i < 20; i++) {
      loop.instructionsUntil(Infinity);
      ns += 1_000_000;
      loop.account(200_000);
    }
    // 200k instructions per ms is 0.2 per ns: 1 ms of guest time is about 200k instructions.
    expect(loop.instructionsUntil(ns + 1_000_000)).toBeGreaterThan(190_000);
    expect(loop.instructionsUntil(ns + 1_000_000)).toBeLessThan(210_000);
  });
});
