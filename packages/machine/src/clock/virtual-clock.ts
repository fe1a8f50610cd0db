import { DrivenClock } from './driven-clock.js';

/** 100 MHz: one instruction retired is 10 ns of guest time. */
export const DEFAULT_VIRTUAL_HZ = 100_000_000;

/**
 * Guest time derived from instructions retired at a fixed virtual frequency, so two runs of the
 * same guest see the same timer interrupts at the same instructions. The run loop reports progress
 * with `retire()` and skips idle time (a halted guest) with `advanceTo()`.
 */
export class VirtualClock extends DrivenClock {
  readonly kind = 'virtual';
  readonly nsPerInstruction: number;
  private time = 0;

  constructor(frequencyHz = DEFAULT_VIRTUAL_HZ) {
    super();
    if (!(frequencyHz > 0 && frequencyHz <= 1e9 && Number.isInteger(1e9 / frequencyHz))) {
      throw new RangeError(`virtual frequency ${frequencyHz} Hz must divide 1 GHz`);
    }
    this.nsPerInstruction = 1e9 / frequencyHz;
  }

  now(): number {
    return this.time;
  }

  /** Advances time by `instructions` retired since the last call. */
  retire(instructions: number): void {
    if (instructions > 0) this.time += instructions * this.nsPerInstruction;
  }

  /** Jumps forward to `deadline` (never backward): a halted CPU waits for its next timer. */
  advanceTo(deadline: number): void {
    if (deadline > this.time) this.time = deadline;
  }

  /** How many instructions the CPU may run before the next timer is due (at least 1), or null. */
  instructionsUntilNextDeadline(): number | null {
    const deadline = this.nextDeadline();
    if (deadline === null) return null;
    return Math.max(1, Math.ceil((deadline - this.time) / this.nsPerInstruction));
  }
}
