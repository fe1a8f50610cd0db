import { describe, expect, it } from 'vitest';
import { ExitCounters, HostClock, VirtualClock } from '../src/index.js';

describe('VirtualClock', () => {
  it('derives time from instructions retired at 100 MHz', () => {
    const clock = new VirtualClock();
    clock.retire(1000);
    expect(clock.now()).toBe(10_000);
    expect(clock.kind).toBe('virtual');
  });

  it('runs due timers in deadline order, equal deadlines in scheduling order', () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.schedule(500, () => fired.push('b'));
    clock.schedule(100, () => fired.push('a'));
    clock.schedule(500, () => fired.push('c'));
    const cancelled = clock.schedule(200, () => fired.push('x'));
    clock.cancel(cancelled);
    expect(clock.nextDeadline()).toBe(100);
    expect(clock.instructionsUntilNextDeadline()).toBe(10);
    clock.retire(20);
    expect(clock.runDue()).toBe(1);
    clock.advanceTo(500);
    clock.runDue();
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.nextDeadline()).toBeNull();
  });

  it('defers timers re-armed at the current time to the next runDue', () => {
    const clock = new VirtualClock();
    let count = 0;
    const rearm = (): void => { count++; clock.schedule(clock.now(), rearm); };
    clock.schedule(0, rearm);
    expect(clock.runDue()).toBe(1);
    expect(clock.runDue()).toBe(1);
    expect(count).toBe(2);
  });

  it('still runs older due timers when a callback arms an earlier one', () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.schedule(100, () => {
      fired.push('a');
      clock.schedule(50, () => fired.push('new'));
    });
    clock.schedule(100, () => fired.push('b'));
    clock.advanceTo(100);
    expect(clock.runDue()).toBe(2);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.runDue()).toBe(1);
    expect(fired).toEqual(['a', 'b', 'new']);
  });

  it('never moves backwards', () => {
    const clock = new VirtualClock(1_000_000_000);
    clock.retire(50);
    clock.advanceTo(10);
    expect(clock.now()).toBe(50);
  });

  it('keeps the queue small when timers are cancelled and re-armed', () => {
    const clock = new VirtualClock();
    for (let i = 0; i < 10_000; i++) clock.cancel(clock.schedule(1e9 + i, () => {}));
    expect(clock.nextDeadline()).toBeNull();
  });
});

describe('HostClock', () => {
  it('follows its time source and reports the wait until the next timer', () => {
    let t = 1_000;
    const clock = new HostClock(() => t);
    let fired = false;
    clock.schedule(300, () => { fired = true; });
    t += 100;
    expect(clock.nsUntilNextDeadline()).toBe(200);
    expect(clock.runDue()).toBe(0);
    t += 250;
    expect(clock.runDue()).toBe(1);
    expect(fired).toBe(true);
  });
});

describe('ExitCounters', () => {
  it('counts exits by reason and by port', () => {
    const stats = new ExitCounters();
    stats.count('io', 0x3f8);
    stats.count('io', 0x3f8);
    stats.count('hlt');
    expect(stats.byReason.get('io')).toBe(2);
    expect(stats.byPort.get(0x3f8)).toBe(2);
    expect(stats.total()).toBe(3);
  });

  it('keeps a strategy\'s named counters apart from exits, and resets them too', () => {
    const stats = new ExitCounters();
    stats.countNamed('hypercall iret');
    stats.countNamed('hypercall iret', 4);
    expect(stats.counters.get('hypercall iret')).toBe(5);
    expect(stats.total()).toBe(0);
    stats.reset();
    expect(stats.counters.size).toBe(0);
  });
});
