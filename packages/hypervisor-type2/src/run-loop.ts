import type { InterruptController, Vcpu, VmExit } from '@ringvisor/vmm-api';
import type { VmEnd } from './result.js';

/** The clock as the run loop drives it: a timer queue plus the conversions a budget needs. */
export interface LoopClock {
  readonly kind: 'virtual' | 'host';
  /** Nanoseconds since the VM was created. */
  now(): number;
  /** Absolute deadline of the earliest timer, or Infinity when none is scheduled. */
  nextDeadline(): number;
  /** Runs every timer whose deadline is at or before `now()`. */
  fireDue(): void;
  /** How many instructions the vCPU may retire before `deadline` (exact for a virtual clock). */
  instructionsUntil(deadline: number): number;
  /**
   * A halted CPU lets a virtual clock jump to `deadline` (true). False means time must pass on its
   * own first: always for a host clock, and for a virtual clock paced to stay behind wall time.
   */
  skipTo(deadline: number): boolean;
  /** Told after every run how many instructions it retired (a virtual clock's time source). */
  account(instructions: number): void;
  /**
   * Whole instruction-times `skipTo` jumped over since the last call (fractions carry to the next
   * call), so the vCPU's instruction-counting TSC can follow; 0 for a host clock.
   */
  takeSkippedInstructions(): number;
}

export interface RunLoopParts {
  readonly vcpu: Vcpu;
  /**
   * The guest's other vCPUs (a para-virtual domain's, which its kernel brings up), run in turn with
   * `vcpu` on this thread: one host thread interleaves them as a uniprocessor would.
   */
  readonly others?: readonly Vcpu[];
  readonly clock: LoopClock;
  readonly interrupts: InterruptController;
  /** An end a device asked for during the last run (exit port, power-off), or null. */
  pendingEnd(): VmEnd | null;
}

export interface RunLoopOptions {
  /**
   * Upper bound of a `run()` budget, in instructions. On a virtual clock it stays fixed: devices
   * read the clock as of the start of a run, so run boundaries must not depend on host speed or
   * the same guest would see different times. On a host clock budgets follow the measured speed
   * so that one run takes about half a slice (an emulated CPU and KVM differ a thousandfold).
   */
  readonly sliceInstructions?: number;
  /** Wall time one `step()` may take before it yields to the host's event loop. */
  readonly sliceMs?: number;
  /** Wall clock in milliseconds (injectable for tests). */
  readonly wallMs?: () => number;
}

/** What the caller does after a `step()`. */
export type StepOutcome =
  /** The slice is used up: let the event loop run, then step again. */
  | { readonly kind: 'yield' }
  /** The guest is halted waiting for an interrupt: step again at clock time `until` (Infinity: on an external event). */
  | { readonly kind: 'wait'; readonly until: number }
  | { readonly kind: 'end'; readonly end: VmEnd };

const YIELD: StepOutcome = { kind: 'yield' };
const MEASURABLE_RUN_MS = 0.2;
const MIN_RUN_CAP = 1_000;
const DEFAULT_RUN_CAP = 100_000;
/** Result a hypercall gets when nothing serves it (-ENOSYS, as Xen answers unknown hypercalls). */
const HYPERCALL_UNKNOWN = -38;

/**
 * The hosted hypervisor's vCPU loop on the vmm-api exit interface. Port I/O and MMIO never reach
 * it (the vCPU dispatches them); it bounds each run by the next timer deadline, fires due timers,
 * sleeps a halted CPU until something can wake it, and turns the terminal exits into a `VmEnd`.
 * Exits are counted by the strategy (vmm-api's ExitStats rule), never here, so that the numbers
 * mean the same under every strategy. Several vCPUs take turns, one run each; the guest waits
 * only when all are halted, and a virtual clock's time (every vCPU's instructions) reaches every
 * vCPU's TSC.
 */
export class RunLoop {
  private readonly vcpus: readonly Vcpu[];
  /** Per vCPU: in HLT (or blocked, or down) until something wakes it. */
  private readonly halted: boolean[];
  /** The vCPU whose turn is next. */
  private turn = 0;
  /** The vCPU whose last run ended with its budget, while no other has run since (-1: none). */
  private preemptable = -1;
  private ended: VmEnd | null = null;
  private runCap: number;
  private instructionsPerMs: number;
  private readonly sliceMs: number;
  private readonly wallMs: () => number;

  constructor(private readonly parts: RunLoopParts, options: RunLoopOptions = {}) {
    this.vcpus = [parts.vcpu, ...(parts.others ?? [])];
    this.halted = this.vcpus.map(() => false);
    this.sliceMs = options.sliceMs ?? 10;
    this.runCap = options.sliceInstructions ?? DEFAULT_RUN_CAP;
    this.instructionsPerMs = this.runCap / this.sliceMs;
    this.wallMs = options.wallMs ?? (() => performance.now());
  }

  /** Instructions every vCPU retired. */
  get retired(): number {
    let sum = 0;
    for (const vcpu of this.vcpus) sum += vcpu.retired;
    return sum;
  }

  /** True while the guest sits in HLT waiting for an interrupt (every vCPU of it). */
  get isHalted(): boolean {
    return this.halted.every((halted) => halted);
  }

  /** Wakes the halted vCPUs that have something to take; true when any vCPU can run. */
  private wake(): boolean {
    const { interrupts } = this.parts;
    let runnable = false;
    for (let i = 0; i < this.vcpus.length; i++) {
      // A para-virtual vCPU wakes for its event channels as well as for the interrupt controller (vCPU 0's).
      if (this.halted[i] && ((i === 0 && interrupts.pending()) || this.vcpus[i].hasPendingEvent?.() === true)) this.halted[i] = false;
      if (!this.halted[i]) runnable = true;
    }
    return runnable;
  }

  /** The next vCPU in turn that is not halted (`wake` found one). */
  private nextTurn(): number {
    for (;;) {
      const i = this.turn;
      this.turn = (this.turn + 1) % this.vcpus.length;
      if (!this.halted[i]) return i;
    }
  }

  /** Runs the guest for about one slice of wall time. */
  step(): StepOutcome {
    if (this.ended) return { kind: 'end', end: this.ended };
    const { clock } = this.parts;
    const vcpus = this.vcpus;
    const sliceEnd = this.wallMs() + this.sliceMs;
    for (;;) {
      if (!this.wake()) {
        const deadline = clock.nextDeadline();
        if (deadline === Infinity) return { kind: 'wait', until: Infinity };
        if (deadline > clock.now() && !clock.skipTo(deadline)) return { kind: 'wait', until: deadline };
        const skipped = clock.takeSkippedInstructions();
        if (skipped > 0) for (const vcpu of vcpus) vcpu.advanceTsc?.(skipped);
        clock.fireDue();
        const end = this.parts.pendingEnd();
        if (end) return this.finish(end);
        if (this.wallMs() >= sliceEnd) return YIELD;
        continue;
      }
      const index = this.nextTurn();
      const vcpu = vcpus[index];
      // The one that used its whole run and could go on now waits for this one (its guest may count it as steal).
      if (this.preemptable !== -1 && this.preemptable !== index) vcpus[this.preemptable].preempted?.(0);
      this.preemptable = -1;
      const budget = Math.max(1, Math.min(this.runCap, clock.instructionsUntil(clock.nextDeadline())));
      const before = vcpu.retired;
      const started = clock.kind === 'host' ? this.wallMs() : 0;
      const exit = vcpu.run(budget);
      const retired = vcpu.retired - before;
      clock.account(retired);
      // The others' TSCs follow the time this run took (a no-op for TSCs on a host clock).
      if (vcpus.length > 1 && retired > 0) for (const other of vcpus) if (other !== vcpu) other.advanceTsc?.(retired);
      if (clock.kind === 'host') this.learnSpeed(retired, this.wallMs() - started);
      // A device's end request (the exit port) wins over whatever the guest did next (usually HLT).
      const requested = this.parts.pendingEnd();
      if (requested) return this.finish(requested);
      if (exit.reason === 'budget') this.preemptable = index;
      const end = this.handle(exit, index);
      if (end) return this.finish(end);
      if (clock.nextDeadline() <= clock.now()) {
        clock.fireDue();
        const fromTimer = this.parts.pendingEnd();
        if (fromTimer) return this.finish(fromTimer);
      }
      if (this.wallMs() >= sliceEnd) return YIELD;
    }
  }

  /** Ends the run from the host side (stop, signal, time limit); later steps report it. */
  stop(end: VmEnd): void {
    if (!this.ended) this.ended = end;
  }

  /** Only runs long enough to be timed move the speed estimate; a moving average smooths the noise. */
  private learnSpeed(retired: number, ms: number): void {
    if (ms < MEASURABLE_RUN_MS || retired <= 0) return;
    this.instructionsPerMs = 0.75 * this.instructionsPerMs + 0.25 * (retired / ms);
    this.runCap = Math.max(MIN_RUN_CAP, Math.round(this.instructionsPerMs * this.sliceMs / 2));
  }

  private finish(end: VmEnd): StepOutcome {
    this.ended = end;
    return { kind: 'end', end };
  }

  private handle(exit: VmExit, index: number): VmEnd | null {
    const { interrupts } = this.parts;
    const vcpu = this.vcpus[index];
    switch (exit.reason) {
      case 'budget':
        return null;
      case 'hlt':
        if (!exit.interruptsEnabled) {
          return { reason: 'dead', detail: 'HLT with interrupts disabled: nothing can wake the CPU' };
        }
        this.halted[index] = true;
        return null;
      case 'irq-window':
        if (interrupts.pending() && vcpu.interruptible) vcpu.injectInterrupt(interrupts.acknowledge());
        vcpu.requestInterruptWindow(interrupts.pending());
        return null;
      case 'hypercall':
        exit.complete(HYPERCALL_UNKNOWN);
        return null;
      case 'shutdown':
        if (exit.cause === 'triple-fault') return { reason: 'triple-fault', detail: exit.detail ?? 'the CPU shut down' };
        if (exit.cause === 'reset') return { reason: 'reset' };
        if (exit.cause === 'watchdog') return { reason: 'watchdog' };
        return { reason: 'power-off' };
      case 'exception':
        return { reason: 'error', detail: `unhandled exception vector ${exit.vector}` };
      case 'internal-error':
        return { reason: 'error', detail: exit.detail };
      case 'fail-entry':
        return { reason: 'error', detail: `VM entry failed (${exit.code}): ${exit.detail}` };
    }
  }
}
