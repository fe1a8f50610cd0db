import type { Clock, TimerId } from '@ringvisor/vmm-api';
import { TimerQueue } from './timer-queue.js';

/**
 * A Clock whose timers the run loop drives: it bounds each `vcpu.run()` by `nextDeadline()` and
 * calls `runDue()` between runs. Callbacks never run from inside `schedule()` or a device access.
 */
export abstract class DrivenClock implements Clock {
  abstract readonly kind: 'virtual' | 'host';
  protected readonly timers = new TimerQueue();

  abstract now(): number;

  schedule(deadline: number, callback: () => void): TimerId {
    return this.timers.schedule(deadline, callback);
  }

  cancel(id: TimerId): void {
    this.timers.cancel(id);
  }

  /** The earliest pending deadline (ns), or null when no timer is armed. */
  nextDeadline(): number | null {
    return this.timers.nextDeadline();
  }

  /** Runs the callbacks whose deadline has passed; returns how many ran. */
  runDue(): number {
    return this.timers.runDue(this.now());
  }
}
