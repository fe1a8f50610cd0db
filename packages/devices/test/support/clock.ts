// A manual virtual Clock for tests: time moves only when the test calls `advance`, and due
// callbacks fire in deadline order (ties in scheduling order), each seeing `now()` at its deadline.
import type { Clock, TimerId } from '@ringvisor/vmm-api';

interface Timer {
  readonly id: TimerId;
  readonly deadline: number;
  readonly callback: () => void;
}

export class ManualClock implements Clock {
  readonly kind = 'virtual' as const;
  private time: number;
  private nextId = 1;
  /** Set by `stallAfterNextRead`: how far time jumps once the next reading has been taken. */
  private stall = 0;
  private timers: Timer[] = [];

  constructor(startNs = 0) {
    this.time = startNs;
  }

  now(): number {
    const time = this.time;
    this.time += this.stall;
    this.stall = 0;
    return time;
  }

  /**
   * The next `now()` returns the current time, then time moves on by `ns` without running any
   * callback: the host thread was descheduled between two readings of one device access.
   */
  stallAfterNextRead(ns: number): void {
    this.stall = ns;
  }

  schedule(deadline: number, callback: () => void): TimerId {
    const id = this.nextId++;
    this.timers.push({ id, deadline, callback });
    return id;
  }

  cancel(id: TimerId): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Number of callbacks still scheduled (tests check that devices do not pile up timers). */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Deadline of the earliest scheduled callback, or undefined when none is scheduled. */
  nextDeadline(): number | undefined {
    let best: number | undefined;
    for (const t of this.timers) if (best === undefined || t.deadline < best) best = t.deadline;
    return best;
  }

  /** Moves time forward by `ns`, firing every callback due on the way, in deadline order. */
  advance(ns: number): void {
    this.advanceTo(this.time + ns);
  }

  /** Moves time to the absolute `target` (never backwards), firing due callbacks in order. */
  advanceTo(target: number): void {
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.timers) {
        if (t.deadline <= target && (next === undefined || t.deadline < next.deadline || (t.deadline === next.deadline && t.id < next.id))) {
          next = t;
        }
      }
      if (next === undefined) break;
      const fired = next;
      this.timers = this.timers.filter((t) => t !== fired);
      if (fired.deadline > this.time) this.time = fired.deadline;
      fired.callback();
    }
    if (target > this.time) this.time = target;
  }
}
