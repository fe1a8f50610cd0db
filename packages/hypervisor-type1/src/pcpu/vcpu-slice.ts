// One scheduler slice of one vCPU on a pCPU: run(budget) until the slice's wall time is used, the
// hypervisor preempts, the guest halts or something ends it. Budgets follow the measured speed so
// that each run() takes about a twentieth of the slice (an exit is the only point a pCPU can stop).
import type { InterruptController, Vcpu } from '@ringvisor/vmm-api';
import { CTRL_PREEMPT, LINE_ENDED, type SliceOutcome } from './protocol.js';

/** Result a hypercall gets when nothing serves it (-ENOSYS, as Xen answers unknown hypercalls). */
const HYPERCALL_UNKNOWN = -38;
const MIN_BUDGET = 500;
const RUNS_PER_SLICE = 20;

const noTick = (): number => Infinity;

export interface SliceResult {
  readonly ranNs: number;
  readonly retired: number;
  readonly outcome: SliceOutcome;
  readonly detail?: string;
}

export class SliceRunner {
  /** Instructions per millisecond, learnt from the runs so far. */
  private rate = 20_000;

  constructor(private readonly ctrl: Int32Array, private readonly now: () => number = () => performance.now()) {}

  /**
   * `tick` runs at every boundary between runs: the pCPU's own device timers (local-devices.ts);
   * it returns the ms until the next of them, and no run goes past it.
   */
  run(vcpu: Vcpu, interrupts: InterruptController, lines: Int32Array, sliceNs: number, tick: () => number = noTick): SliceResult {
    const start = this.now();
    const end = start + sliceNs / 1e6;
    const before = vcpu.retired;
    const finish = (outcome: SliceOutcome, detail?: string): SliceResult => ({
      ranNs: Math.round((this.now() - start) * 1e6), retired: vcpu.retired - before, outcome, ...(detail ? { detail } : {}),
    });
    for (;;) {
      const timerMs = tick();
      if (Atomics.load(lines, LINE_ENDED) !== 0) return finish('ended');
      if (Atomics.load(this.ctrl, CTRL_PREEMPT) !== 0) return finish('preempted');
      const t = this.now();
      if (t >= end) return finish('slice');
      const room = Math.min(end - t, sliceNs / 1e6 / RUNS_PER_SLICE);
      const budget = timerMs < room ? Math.max(1, Math.round(this.rate * timerMs)) : Math.max(MIN_BUDGET, Math.round(this.rate * room));
      const retiredBefore = vcpu.retired;
      const exit = vcpu.run(budget);
      const ms = this.now() - t;
      const done = vcpu.retired - retiredBefore;
      if (ms > 0.05 && done > 0) this.rate = 0.75 * this.rate + 0.25 * (done / ms);
      switch (exit.reason) {
        case 'budget':
          continue;
        case 'hlt':
          if (!exit.interruptsEnabled) return finish('crashed', 'HLT with interrupts disabled: nothing can wake the CPU');
          if (interrupts.pending() || vcpu.hasPendingEvent?.() === true) continue;
          return finish('blocked');
        case 'irq-window':
          if (interrupts.pending() && vcpu.interruptible) vcpu.injectInterrupt(interrupts.acknowledge());
          vcpu.requestInterruptWindow(interrupts.pending());
          continue;
        case 'hypercall':
          exit.complete(HYPERCALL_UNKNOWN);
          continue;
        case 'shutdown':
          if (exit.cause !== 'triple-fault') return finish('ended', exit.cause);
          return finish('crashed', `triple fault${exit.detail ? `: ${exit.detail}` : ''}`);
        case 'exception':
          return finish('crashed', `unhandled exception vector ${exit.vector}`);
        case 'internal-error':
          return finish('crashed', exit.detail);
        case 'fail-entry':
          return finish('crashed', `VM entry failed (${exit.code}): ${exit.detail}`);
      }
    }
  }
}
