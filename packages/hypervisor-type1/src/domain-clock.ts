// A domain's time: host time since its epoch (wall time in ms when it was created), the same on
// every thread, so the device models' timers, a pCPU's time-stamp counter and the PM timer a pCPU
// reads for the guest are one clock wherever each runs.
import { DrivenClock } from '@ringvisor/machine';

/** Nanoseconds since `epochMs` (performance.timeOrigin + performance.now() of the creating thread). */
export function domainNs(epochMs: number): number {
  return (performance.timeOrigin + performance.now() - epochMs) * 1e6;
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
