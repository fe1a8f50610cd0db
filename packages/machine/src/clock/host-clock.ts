import { DrivenClock } from './driven-clock.js';

/** Monotonic wall time in nanoseconds. */
function performanceNs(): number {
  return Math.floor(performance.now() * 1e6);
}

/**
 * Guest time that follows the host's monotonic clock (interactive use, the KVM backend). The run
 * loop sleeps until `nextDeadline()` when the guest halts; `source` is replaceable for tests.
 */
export class HostClock extends DrivenClock {
  readonly kind = 'host';
  private readonly start: number;

  constructor(private readonly source: () => number = performanceNs) {
    super();
    this.start = source();
  }

  now(): number {
    return this.source() - this.start;
  }

  /** Nanoseconds from now until the next timer (0 if one is already due), or null. */
  nsUntilNextDeadline(): number | null {
    const deadline = this.nextDeadline();
    return deadline === null ? null : Math.max(0, deadline - this.now());
  }
}
