import type { LoopClock } from './run-loop.js';

/** A clock with a timer queue the hypervisor drives (the shape of @ringvisor/machine's clocks). */
interface DrivenClockLike {
  now(): number;
  nextDeadline(): number | null;
  runDue(): number;
}

/** Guest time from instructions retired (@ringvisor/machine's VirtualClock). */
export interface VirtualClockLike extends DrivenClockLike {
  readonly kind: 'virtual';
  readonly nsPerInstruction: number;
  retire(instructions: number): void;
  advanceTo(deadline: number): void;
}

/** Guest time from the host's monotonic clock (@ringvisor/machine's HostClock). */
export interface HostClockLike extends DrivenClockLike {
  readonly kind: 'host';
}

/** A loop clock that can also say how long the host must wait before a deadline is reached. */
export interface HostedLoopClock extends LoopClock {
  /** Wall milliseconds until clock time `until` (0 when already there). */
  msUntil(until: number): number;
}

/** What both loop clocks read straight from the machine clock's timer queue. */
function timerQueueOf(clock: DrivenClockLike): Pick<LoopClock, 'now' | 'nextDeadline' | 'fireDue'> {
  return {
    now: () => clock.now(),
    nextDeadline: () => clock.nextDeadline() ?? Infinity,
    fireDue: () => { clock.runDue(); },
  };
}

/**
 * A virtual clock for the run loop. With `paced`, a halted guest's jumps to its next timer never
 * take guest time ahead of wall time since `wallStartMs` (the idle loop of an interactive guest then
 * sleeps like a real one instead of spinning); what the guest computes is the same either way.
 */
export function virtualLoopClock(clock: VirtualClockLike, options: { paced: boolean; wallMs?: () => number }): HostedLoopClock {
  const wallMs = options.wallMs ?? (() => performance.now());
  const wallStart = wallMs();
  const wallNs = () => (wallMs() - wallStart) * 1e6;
  // Nanoseconds skipped in all, and how many whole instruction-times of them were handed out.
  let skippedNs = 0;
  let skippedGiven = 0;
  return {
    kind: 'virtual',
    ...timerQueueOf(clock),
    instructionsUntil: (deadline) => {
      if (deadline === Infinity) return Number.MAX_SAFE_INTEGER;
      return Math.max(1, Math.ceil((deadline - clock.now()) / clock.nsPerInstruction));
    },
    skipTo: (deadline) => {
      if (options.paced && deadline > wallNs()) return false;
      const from = clock.now();
      clock.advanceTo(deadline);
      skippedNs += clock.now() - from;
      return true;
    },
    takeSkippedInstructions: () => {
      const whole = Math.floor(skippedNs / clock.nsPerInstruction);
      const ticks = whole - skippedGiven;
      skippedGiven = whole;
      return ticks;
    },
    account: (instructions) => clock.retire(instructions),
    msUntil: (until) => (options.paced ? Math.max(0, (until - wallNs()) / 1e6) : 0),
  };
}

/** Starting guess for an emulated CPU's speed before the first runs measure it. */
const INITIAL_INSTRUCTIONS_PER_NS = 0.05;

/**
 * A host clock for the run loop. Budgets are instruction counts, so it converts the time to the
 * next deadline with the instruction rate measured over the previous runs.
 */
export function hostLoopClock(clock: HostClockLike): HostedLoopClock {
  let rate = INITIAL_INSTRUCTIONS_PER_NS;
  // The run loop asks for a budget right before each run and accounts right after it.
  let runStart = clock.now();
  return {
    kind: 'host',
    ...timerQueueOf(clock),
    instructionsUntil: (deadline) => {
      runStart = clock.now();
      if (deadline === Infinity) return Number.MAX_SAFE_INTEGER;
      return Math.max(1, Math.ceil((deadline - runStart) * rate));
    },
    skipTo: () => false,
    takeSkippedInstructions: () => 0,
    account: (instructions) => {
      const elapsed = clock.now() - runStart;
      // Only runs long enough to measure move the estimate; a moving average smooths the rest.
      if (elapsed > 100_000 && instructions > 0) rate = 0.75 * rate + 0.25 * (instructions / elapsed);
    },
    msUntil: (until) => Math.max(0, (until - clock.now()) / 1e6),
  };
}
