// Test doubles for the run loop: a vCPU that replays a script of exits, a virtual clock driven by
// the instructions the loop accounts, and an 8259-like interrupt source.
import { expect } from 'vitest';
import type { InterruptController, Registers, SpecialRegisters, Vcpu, VmExit } from '@ringvisor/vmm-api';
import type { LoopClock } from '../src/run-loop.js';

/** One scripted `run()`: how many instructions it retires and the exit it returns. */
export interface ScriptStep {
  readonly retire?: number;
  readonly exit: VmExit;
  /** Side effect during the run (a device write the guest makes, an interrupt it raises). */
  readonly during?: () => void;
}

export class FakeVcpu implements Vcpu {
  readonly index = 0;
  retired = 0;
  interruptible = true;
  windowRequested = false;
  readonly budgets: number[] = [];
  readonly injected: number[] = [];
  /** Sum of the TSC advances the loop asked for. */
  tscAdvanced = 0;
  /** How many runs it had had at each `preempted` call. */
  readonly preemptedAfter: number[] = [];
  private next = 0;

  constructor(private readonly script: ScriptStep[], private readonly after: VmExit = { reason: 'budget' }) {}

  run(budget: number): VmExit {
    this.budgets.push(budget);
    const step = this.script[this.next++];
    if (!step) {
      this.retired += budget;
      return this.after;
    }
    step.during?.();
    this.retired += step.retire ?? Math.min(budget, 10);
    return step.exit;
  }

  requestInterruptWindow(enable: boolean): void {
    this.windowRequested = enable;
  }

  injectInterrupt(vector: number): void {
    this.injected.push(vector);
  }

  advanceTsc(ticks: number): void {
    this.tscAdvanced += ticks;
  }

  preempted(agoNs: number): void {
    expect(agoNs).toBe(0);
    this.preemptedAfter.push(this.budgets.length);
  }

  getRegisters(): Registers {
    return { eax: 0, ecx: 0, edx: 0, ebx: 0, esp: 0, ebp: 0, esi: 0, edi: 0, eip: 0, eflags: 2 };
  }

  setRegisters(): void {}

  getSpecialRegisters(): SpecialRegisters {
    throw new Error('not used by the run loop');
  }

  setSpecialRegisters(): void {}
}

/** A virtual clock at 1 ns per instruction plus time skipped while halted. */
export class FakeClock implements LoopClock {
  readonly kind: 'virtual' | 'host';
  skipped = 0;
  retired = 0;
  private skippedTaken = 0;
  private timers: { deadline: number; callback: () => void }[] = [];

  constructor(kind: 'virtual' | 'host' = 'virtual') {
    this.kind = kind;
  }

  now(): number {
    return this.retired + this.skipped;
  }

  account(instructions: number): void {
    this.retired += instructions;
  }

  schedule(deadline: number, callback: () => void): void {
    this.timers.push({ deadline, callback });
    this.timers.sort((a, b) => a.deadline - b.deadline);
  }

  nextDeadline(): number {
    return this.timers[0]?.deadline ?? Infinity;
  }

  fireDue(): void {
    while (this.timers.length > 0 && this.timers[0].deadline <= this.now()) this.timers.shift()!.callback();
  }

  instructionsUntil(deadline: number): number {
    return deadline === Infinity ? Number.MAX_SAFE_INTEGER : Math.max(0, deadline - this.now());
  }

  takeSkippedInstructions(): number {
    const ticks = this.skipped - this.skippedTaken;
    this.skippedTaken = this.skipped;
    return ticks;
  }

  skipTo(deadline: number): boolean {
    if (this.kind === 'host') return false;
    if (deadline > this.now()) this.skipped += deadline - this.now();
    return true;
  }
}

export class FakePic implements InterruptController {
  readonly queue: number[] = [];

  raise(vector: number): void {
    this.queue.push(vector);
  }

  pending(): boolean {
    return this.queue.length > 0;
  }

  acknowledge(): number {
    return this.queue.shift() ?? 0x27;
  }
}
