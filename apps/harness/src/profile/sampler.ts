import type { Registers, SpecialRegisters, Vcpu, VmExit } from '@ringvisor/vmm-api';

/** Where the guest was when a sample was taken. */
export interface Sample {
  readonly eip: number;
  /** CR0.PG: before paging the decompressor runs at physical addresses. */
  readonly paging: boolean;
  readonly user: boolean;
  /** Frame pointer, for walking the kernel's stack. */
  readonly ebp: number;
}

/**
 * A vCPU that stops every `period` instructions retired and reports where the guest is. It cuts
 * the run loop's budgets at the sample points, so a run never retires past one; the run loop sees
 * an ordinary 'budget' exit there.
 */
export class SamplingVcpu implements Vcpu {
  private untilSample: number;

  constructor(private readonly inner: Vcpu, private readonly period: number, private readonly onSample: (s: Sample) => void) {
    this.untilSample = period;
  }

  get index(): number { return this.inner.index; }
  get retired(): number { return this.inner.retired; }
  get interruptible(): boolean { return this.inner.interruptible; }

  run(budget: number): VmExit {
    const before = this.inner.retired;
    const exit = this.inner.run(Math.min(budget, this.untilSample));
    this.untilSample -= this.inner.retired - before;
    if (this.untilSample <= 0) {
      this.untilSample += this.period;
      const sregs = this.inner.getSpecialRegisters();
      const regs = this.inner.getRegisters();
      this.onSample({ eip: regs.eip, ebp: regs.ebp, paging: (sregs.cr0 & 0x80000000) !== 0, user: (sregs.cs.selector & 3) === 3 });
    }
    return exit;
  }

  requestInterruptWindow(enable: boolean): void { this.inner.requestInterruptWindow(enable); }
  injectInterrupt(vector: number): void { this.inner.injectInterrupt(vector); }
  getRegisters(): Registers { return this.inner.getRegisters(); }
  setRegisters(regs: Registers): void { this.inner.setRegisters(regs); }
  getSpecialRegisters(): SpecialRegisters { return this.inner.getSpecialRegisters(); }
  setSpecialRegisters(sregs: SpecialRegisters): void { this.inner.setSpecialRegisters(sregs); }
}
