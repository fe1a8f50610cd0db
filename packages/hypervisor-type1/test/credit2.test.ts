import { describe, expect, it } from 'vitest';
import { Credit2Scheduler, type VcpuParams } from '../src/sched/credit2.js';

const MS = 1e6;

/**
 * Runs the scheduler against a simulated machine for `durationNs`: every vCPU is always runnable
 * (compute-bound) unless `blocks` says when it sleeps; each pCPU runs its pick for the whole slice.
 * Returns each vCPU's run time.
 */
function simulate(pcpus: number, vcpus: VcpuParams[], durationNs: number): Map<number, number> {
  const s = new Credit2Scheduler({ pcpus });
  for (const v of vcpus) s.add(v, 0);
  const next = new Array<number>(pcpus).fill(0);
  const slice = new Array<number>(pcpus).fill(0);
  for (;;) {
    let p = 0;
    for (let i = 1; i < pcpus; i++) if (next[i] < next[p]) p = i;
    const now = next[p];
    if (now >= durationNs) {
      // Slices still running at the end count up to the end.
      for (let i = 0; i < pcpus; i++) if (s.current(i) !== -1) s.descheduled(i, durationNs - (next[i] - slice[i]), durationNs, 'runnable');
      break;
    }
    if (s.current(p) !== -1) {
      s.descheduled(p, slice[p], now, 'runnable');
      // A vCPU became runnable: idle pCPUs look again (the hypervisor fills idle pCPUs the same way).
      for (let i = 0; i < pcpus; i++) if (i !== p && s.current(i) === -1) next[i] = Math.min(next[i], now);
    }
    const pick = s.pick(p, now);
    if (pick.kind === 'run') {
      slice[p] = pick.sliceNs;
      next[p] = now + pick.sliceNs;
    } else {
      next[p] = Math.min(pick.until, durationNs);
    }
  }
  return new Map(vcpus.map((v) => [v.id, s.time(v.id)]));
}

const all = [0, 1];

describe('Credit2Scheduler', () => {
  it('shares two pCPUs by weight (256/512/256 → 25/50/25 %)', () => {
    const duration = 10_000 * MS;
    const times = simulate(2, [
      { id: 1, domain: 1, weight: 256, cap: 0, affinity: all },
      { id: 2, domain: 2, weight: 512, cap: 0, affinity: all },
      { id: 3, domain: 3, weight: 256, cap: 0, affinity: all },
    ], duration);
    const total = [...times.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(1.99 * duration); // work conserving: both pCPUs always busy
    expect(times.get(1)! / total).toBeCloseTo(0.25, 1);
    expect(times.get(2)! / total).toBeCloseTo(0.5, 1);
    expect(Math.abs(times.get(1)! / total - 0.25)).toBeLessThan(0.02);
    expect(Math.abs(times.get(2)! / total - 0.5)).toBeLessThan(0.02);
  });

  it('shares one pCPU 1:3 between weights 128 and 384', () => {
    const times = simulate(1, [
      { id: 1, domain: 1, weight: 128, cap: 0, affinity: [0] },
      { id: 2, domain: 2, weight: 384, cap: 0, affinity: [0] },
    ], 5_000 * MS);
    const total = times.get(1)! + times.get(2)!;
    expect(Math.abs(times.get(1)! / total - 0.25)).toBeLessThan(0.02);
  });

  it('is work conserving: a lone low-weight vCPU gets the whole pCPU', () => {
    const times = simulate(1, [{ id: 1, domain: 1, weight: 1, cap: 0, affinity: [0] }], 1_000 * MS);
    expect(times.get(1)).toBe(1_000 * MS);
  });

  it('holds a 25 % cap even with the pCPU otherwise idle', () => {
    const times = simulate(2, [
      { id: 1, domain: 1, weight: 256, cap: 25, affinity: all },
      { id: 2, domain: 2, weight: 256, cap: 0, affinity: all },
    ], 2_000 * MS);
    expect(Math.abs(times.get(1)! / (2_000 * MS) - 0.25)).toBeLessThan(0.01);
    expect(times.get(2)! / (2_000 * MS)).toBeGreaterThan(0.99);
  });

  it('keeps pinned vCPUs on their pCPUs (hard affinity)', () => {
    const times = simulate(2, [
      { id: 1, domain: 1, weight: 256, cap: 0, affinity: [0] },
      { id: 2, domain: 2, weight: 256, cap: 0, affinity: [0] },
      { id: 3, domain: 3, weight: 256, cap: 0, affinity: [1] },
    ], 1_000 * MS);
    expect(Math.abs(times.get(1)! / (1_000 * MS) - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(times.get(2)! / (1_000 * MS) - 0.5)).toBeLessThan(0.02);
    expect(times.get(3)).toBe(1_000 * MS);
    const s = new Credit2Scheduler({ pcpus: 2 });
    s.add({ id: 1, domain: 1, weight: 256, cap: 0, affinity: [1] }, 0);
    expect(s.pick(0, 0)).toEqual({ kind: 'idle', until: Infinity });
    expect(s.pick(1, 0)).toMatchObject({ kind: 'run', vcpu: 1 });
  });

  it('prefers a vCPU waking from I/O: it preempts the lowest-credit runner after the rate limit', () => {
    const s = new Credit2Scheduler({ pcpus: 1 });
    s.add({ id: 1, domain: 1, weight: 256, cap: 0, affinity: [0] }, 0);
    s.add({ id: 2, domain: 2, weight: 256, cap: 0, affinity: [0] }, 0);
    const first = s.pick(0, 0);
    expect(first).toMatchObject({ kind: 'run', vcpu: 1 });
    s.descheduled(0, 0.2 * MS, 0.2 * MS, 'blocked'); // vCPU 1 blocks on I/O almost at once
    expect(s.pick(0, 0.2 * MS)).toMatchObject({ kind: 'run', vcpu: 2 });
    expect(s.wake(1, 0.5 * MS)).toBeNull(); // vCPU 2 has not run its rate limit yet
    s.descheduled(0, 3 * MS, 3.2 * MS, 'runnable');
    s.pause(1);
    expect(s.pick(0, 3.2 * MS)).toMatchObject({ kind: 'run', vcpu: 2 });
    expect(s.wake(1, 5 * MS)).toEqual({ pcpu: 0, preempt: true }); // more credit, and 2 ran > 1 ms
    s.descheduled(0, 1.8 * MS, 5 * MS, 'runnable');
    expect(s.pick(0, 5 * MS)).toMatchObject({ kind: 'run', vcpu: 1 });
  });

  it('wakes an idle pCPU first, the one the vCPU last ran on', () => {
    const s = new Credit2Scheduler({ pcpus: 2 });
    s.add({ id: 1, domain: 1, weight: 256, cap: 0, affinity: all }, 0);
    expect(s.pick(1, 0)).toMatchObject({ vcpu: 1 });
    s.descheduled(1, MS, MS, 'blocked');
    expect(s.wake(1, 2 * MS)).toEqual({ pcpu: 1, preempt: false });
  });

  it('refuses bad parameters', () => {
    const s = new Credit2Scheduler({ pcpus: 2 });
    expect(() => s.add({ id: 1, domain: 1, weight: 0, cap: 0, affinity: all }, 0)).toThrow(/weight/);
    expect(() => s.add({ id: 1, domain: 1, weight: 256, cap: 0, affinity: [2] }, 0)).toThrow(/pCPU 2/);
    expect(() => s.add({ id: 1, domain: 1, weight: 256, cap: 0, affinity: [] }, 0)).toThrow(/at least one/);
  });
});
