import { describe, expect, it } from 'vitest';
import { describeEnd, exitStatusOf, type VmEnd } from '../src/result.js';
import { formatStats, mipsOf, snapshotStats } from '../src/stats.js';
import { ExitCounters } from '@ringvisor/machine';

describe('exitStatusOf', () => {
  it('is 0 only for a clean power-off or exit-port code 0', () => {
    const ends: [VmEnd, number][] = [
      [{ reason: 'power-off' }, 0],
      [{ reason: 'exit-code', code: 0 }, 0],
      [{ reason: 'exit-code', code: 3 }, 3],
      [{ reason: 'exit-code', code: 0x100 }, 1],
      [{ reason: 'exit-code', code: 0xffffffff }, 255],
      [{ reason: 'triple-fault', detail: '' }, 1],
      [{ reason: 'reset' }, 1],
      [{ reason: 'watchdog' }, 1],
      [{ reason: 'dead', detail: '' }, 1],
      [{ reason: 'idle', detail: '' }, 1],
      [{ reason: 'stopped', detail: 'SIGINT' }, 1],
      [{ reason: 'time-limit', seconds: 2 }, 124],
      [{ reason: 'error', detail: 'x' }, 1],
    ];
    for (const [end, status] of ends) expect([end, exitStatusOf(end)]).toEqual([end, status]);
  });

  it('describes each end in one line', () => {
    expect(describeEnd({ reason: 'dead', detail: 'HLT with IF=0' })).toBe('dead machine: HLT with IF=0');
    expect(describeEnd({ reason: 'exit-code', code: 7 })).toBe('guest exited with code 7');
    expect(describeEnd({ reason: 'time-limit', seconds: 1.5 })).toBe('time limit of 1.5 s reached');
    expect(describeEnd({ reason: 'watchdog' })).toBe("the guest's watchdog timer expired (SHUTDOWN_watchdog)");
  });
});

describe('statistics', () => {
  it('snapshots the counters, busiest port first, and prints the POST code as post: 0xNN', () => {
    const counters = new ExitCounters();
    for (let i = 0; i < 5; i++) counters.count('io', 0x3f8);
    counters.count('io', 0x80);
    counters.count('hlt');
    const snapshot = snapshotStats(counters, { post: 0x42, instructions: 5_000_000, instructionsEstimated: false, guestNs: 2e9, runMs: 500 });
    expect(snapshot.byPort).toEqual([[0x3f8, 5], [0x80, 1]]);
    expect(mipsOf(snapshot)).toBe(10);
    expect(formatStats(snapshot)).toEqual([
      'exits: 7 (io 6, hlt 1)',
      'ports: 0x3f8 5, 0x80 1',
      'instructions: 5000000 in 0.500 s (10.0 MIPS), guest time 2.000 s',
      'post: 0x42',
    ]);
    expect(formatStats({ ...snapshot, post: null }).at(-1)).toBe('post: none');
    expect(structuredClone(snapshot)).toEqual(snapshot);
  });

  it('prints a strategy\'s named counters: hypercalls by name on one line, the others after', () => {
    const counters = new ExitCounters();
    counters.count('hypercall');
    counters.countNamed('hypercall mmu_update', 3);
    counters.countNamed('hypercall iret');
    counters.countNamed('events delivered', 2);
    counters.countNamed('validation refusals');
    const snapshot = snapshotStats(counters, { post: null, instructions: 10, instructionsEstimated: false, guestNs: 100, runMs: 1 });
    expect(formatStats(snapshot).slice(-2)).toEqual([
      'hypercalls: 4 (mmu_update 3, iret 1)',
      'events delivered: 2, validation refusals: 1',
    ]);
    expect(structuredClone(snapshot)).toEqual(snapshot);
  });

  it('does not present a hardware strategy\'s time-derived count as instructions or MIPS', () => {
    const counters = new ExitCounters();
    counters.count('io', 0x3f8);
    const snapshot = snapshotStats(counters, { post: null, instructions: 4_000_000, instructionsEstimated: true, guestNs: 4e6, runMs: 4 });
    const line = formatStats(snapshot).find((l) => l.startsWith('instructions:'));
    expect(line).toBe('instructions: not counted by this strategy; 0.004 s running, guest time 0.004 s');
  });
});
