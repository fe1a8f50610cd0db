// The part of a vCPU's wait for a pCPU that an xl pause covered (pcpu/pause-span.ts): the pCPU tells
// the vCPU's guest that stretch as offline and the rest as runnable (vmm-para's runstate test
// checks what the guest then reads).
import { describe, expect, it } from 'vitest';
import { wallMs } from '../src/domain-clock.js';
import { pausedWithin } from '../src/pcpu/pause-span.js';

const origin = performance.timeOrigin;
/** A pause between two of this thread's performance.now() readings. */
const pause = (from: number, until: number) => ({ fromMs: origin + from, untilMs: origin + until });

describe('pausedWithin', () => {
  it('gives the paused stretch of the wait in ns before now', () => {
    // Waiting from 100 ms to 200 ms, paused from 120 to 170 ms.
    expect(pausedWithin(pause(120, 170), 100, 200)).toEqual({ fromAgoNs: 80e6, untilAgoNs: 30e6 });
  });

  it('clips a pause that began before the wait (paused while it ran: offline from its slice end)', () => {
    expect(pausedWithin(pause(50, 170), 100, 200)).toEqual({ fromAgoNs: 100e6, untilAgoNs: 30e6 });
  });

  it('ignores a pause that ended before the wait began, and no pause at all', () => {
    expect(pausedWithin(pause(10, 90), 100, 200)).toBeUndefined();
    expect(pausedWithin(pause(10, 100), 100, 200)).toBeUndefined();
    expect(pausedWithin(null, 100, 200)).toBeUndefined();
  });

  it('reads one clock on every thread', () => {
    const before = Date.now();
    const wall = wallMs();
    expect(Math.abs(wall - before)).toBeLessThan(1000);
  });
});
