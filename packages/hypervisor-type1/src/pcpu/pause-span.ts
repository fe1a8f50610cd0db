// An xl pause, as the pCPU tells a waiting vCPU's guest about it: Xen's runstate counts a paused
// vCPU offline, not runnable. The hypervisor stamps pause and unpause on the main thread; the pCPU
// places them in its own wait, so both need one clock.
import type { PausedSpan } from '@ringvisor/vmm-api';

/** From xl pause to xl unpause, in `wallMs()` (domain-clock.ts). */
export interface PauseSpan {
  readonly fromMs: number;
  readonly untilMs: number;
}

/**
 * The part of a wait from `since` to `now` (this thread's performance.now()) that `pause` covered,
 * in ns before `now`; undefined when it covered none.
 */
export function pausedWithin(pause: PauseSpan | null, since: number, now: number): PausedSpan | undefined {
  if (pause === null) return undefined;
  const from = Math.max(pause.fromMs - performance.timeOrigin, since);
  const until = Math.min(pause.untilMs - performance.timeOrigin, now);
  if (until <= from) return undefined;
  return { fromAgoNs: Math.round((now - from) * 1e6), untilAgoNs: Math.round((now - until) * 1e6) };
}
