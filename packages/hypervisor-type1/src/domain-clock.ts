// A domain's time: host time since its epoch (wall time in ms when it was created), the same on
// every thread, so the device models' timers, a pCPU's time-stamp counter and the PM timer a pCPU
// reads for the guest are one clock wherever each runs.
import { DrivenClock } from '@ringvisor/machine';

/** Wall-clock ms every thread agrees on (performance.now() alone counts from each thread's start). */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Nanoseconds since `epochMs` (`wallMs()` when the domain was created). */
export function domainNs(epochMs: number): number {
  return (wallMs() - epochMs) * 1e6;
}

/** The device models' clock: timers the device-model thread drives, on the domain's time. */
export class DomainClock extends DrivenClock {
  readonly kind = 'host';

  constructor(private readonly epochMs: number) {
    super();
  }

  now(): number {
    return domainNs(this.epochMs);
  }
}
