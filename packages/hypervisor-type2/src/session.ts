import type { ExitStats, Vcpu } from '@ringvisor/vmm-api';
import type { HostedLoopClock } from './loop-clocks.js';
import type { FromWorker, ToWorker } from './protocol.js';
import type { VmEnd } from './result.js';
import type { RunLoop } from './run-loop.js';
import { snapshotStats, type StatsSnapshot } from './stats.js';

/** The parts of a built VM a session drives besides its run loop. */
export interface SessionParts {
  readonly loop: RunLoop;
  readonly clock: HostedLoopClock;
  readonly vcpu: Vcpu;
  readonly stats: ExitStats;
  /** Last POST code (port 0x80), or null. */
  postCode(): number | null;
  /** Hands bytes typed on the host to the guest's serial port. */
  serialInput(bytes: Uint8Array): void;
  /** Presses the ACPI power button. */
  pressPowerButton(): void;
  /** The host wrote `count` bytes of earlier output: the guest may transmit again. */
  serialOutputAcknowledged(count: number): void;
  /** Serial output produced since the last call, or null if none. */
  takeSerialOutput(): Uint8Array | null;
  /** Releases the VM's host resources once the run has ended. */
  destroy(): void;
}

/**
 * Runs one VM on its thread's event loop: guest slices alternate with message handling, a halted
 * guest sleeps in a timer (never in a blocking wait), and pause/resume/stop/stats/serial input are
 * served between slices. In the worker it talks to `parentPort`; tests drive it directly.
 */
export class VmSession {
  private paused = false;
  private ended = false;
  private inputOpen: boolean;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private runMs = 0;

  constructor(
    private readonly parts: SessionParts,
    private readonly send: (message: FromWorker) => void,
    options: { serialInput: boolean },
  ) {
    this.inputOpen = options.serialInput;
  }

  start(): void {
    this.wake();
  }

  handle(message: ToWorker): void {
    if (this.ended) return;
    switch (message.type) {
      case 'pause':
        this.paused = true;
        this.cancel();
        return;
      case 'resume':
        this.paused = false;
        this.wake();
        return;
      case 'stop':
        this.parts.loop.stop(message.end);
        this.finish(message.end);
        return;
      case 'stats':
        this.send({ type: 'stats', id: message.id, snapshot: this.snapshot() });
        return;
      case 'serial-in':
        this.parts.serialInput(message.bytes);
        this.wake();
        return;
      case 'serial-ack':
        this.parts.serialOutputAcknowledged(message.bytes);
        this.wake();
        return;
      case 'power-button':
        this.parts.pressPowerButton();
        this.wake();
        return;
      case 'serial-in-closed':
        this.inputOpen = false;
        this.wake();
        return;
    }
  }

  snapshot(): StatsSnapshot {
    const { stats, vcpu, clock, loop } = this.parts;
    return snapshotStats(stats, {
      post: this.parts.postCode(), instructions: loop.retired, instructionsEstimated: vcpu.retiredIsEstimate === true, guestNs: clock.now(), runMs: this.runMs,
    });
  }

  /** Runs the next slice as soon as the event loop is free (unless paused or over). */
  private wake(): void {
    if (this.paused || this.ended) return;
    this.cancel();
    this.timer = setImmediate(() => this.pump());
  }

  private cancel(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer as NodeJS.Timeout);
    clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = null;
  }

  private pump(): void {
    this.timer = null;
    if (this.paused || this.ended) return;
    const started = performance.now();
    let outcome;
    try {
      outcome = this.parts.loop.step();
    } catch (error) {
      // A strategy bug must end this VM with a report, not take the host process down.
      outcome = { kind: 'end' as const, end: { reason: 'error' as const, detail: `VMM failure: ${(error as Error).message}` } };
    }
    this.runMs += performance.now() - started;
    this.flushSerial();
    switch (outcome.kind) {
      case 'yield':
        this.wake();
        return;
      case 'wait':
        if (outcome.until !== Infinity) {
          this.timer = setTimeout(() => this.pump(), this.parts.clock.msUntil(outcome.until));
        } else if (!this.inputOpen) {
          this.finish({ reason: 'idle', detail: 'halted waiting for input after the serial input closed, no timer armed' });
        }
        // Otherwise serial input (or resume) wakes the loop.
        return;
      case 'end':
        this.finish(outcome.end);
        return;
    }
  }

  private flushSerial(): void {
    const bytes = this.parts.takeSerialOutput();
    if (bytes) this.send({ type: 'serial-out', bytes });
  }

  private finish(end: VmEnd): void {
    if (this.ended) return;
    this.cancel();
    this.flushSerial();
    this.ended = true;
    const stats = this.snapshot();
    this.parts.destroy();
    this.send({ type: 'ended', end, stats });
  }
}
