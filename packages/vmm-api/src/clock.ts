/** Handle of a scheduled timer callback. */
export type TimerId = number;

/**
 * Time as devices see it, in nanoseconds since the VM was created. A virtual clock advances with
 * instructions retired (bit-for-bit reproducible runs); a host clock follows wall time. Devices
 * never poll: they compute state from `now()` and schedule the next edge they care about.
 */
export interface Clock {
  readonly kind: 'virtual' | 'host';
  now(): number;
  /** Runs `callback` once the clock reaches `deadline` (absolute ns), between vCPU runs. */
  schedule(deadline: number, callback: () => void): TimerId;
  cancel(id: TimerId): void;
}
