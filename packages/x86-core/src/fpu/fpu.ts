// The x87 register stack, control/status/tag words and exception bookkeeping (Intel SDM vol. 1,
// chapter 8). Instruction semantics are in execute.ts; state images in environment.ts.
import { tagOf } from './float80.js';

// Status word bits.
export const SW_IE = 0x0001; // invalid operation
export const SW_DE = 0x0002; // denormal operand (not signalled by this model)
export const SW_ZE = 0x0004; // zero divide
export const SW_OE = 0x0008; // overflow
export const SW_UE = 0x0010; // underflow (not signalled by this model)
export const SW_PE = 0x0020; // precision (signalled by the integer-rounding instructions only)
export const SW_SF = 0x0040; // stack fault (with IE; C1 tells overflow from underflow)
export const SW_ES = 0x0080; // an unmasked exception is pending: the next waiting instruction takes #MF
export const SW_C0 = 0x0100;
export const SW_C1 = 0x0200;
export const SW_C2 = 0x0400;
export const SW_C3 = 0x4000;
export const SW_B = 0x8000;
export const SW_CC = SW_C0 | SW_C1 | SW_C2 | SW_C3;
const SW_TOP_SHIFT = 11;

/** Control word after FNINIT: all exceptions masked, 64-bit precision, round to nearest. */
export const CW_DEFAULT = 0x037f;
/** The "real indefinite" a masked invalid operation produces. */
export const INDEFINITE = NaN;

export class Fpu {
  /** Physical registers R0..R7; ST(i) is R[(top + i) & 7]. */
  readonly regs = new Float64Array(8);
  /** 1 where the physical register is empty. */
  readonly empty = new Uint8Array(8).fill(1);
  top = 0;
  cw = CW_DEFAULT;
  /** Status word without TOP (bits 11..13 come from `top`). */
  sw = 0;
  // Last non-control instruction and data pointers (FSTENV/FSAVE/FXSAVE report them).
  fip = 0;
  fcs = 0;
  fdp = 0;
  fds = 0;
  fop = 0;

  reset(): void {
    this.empty.fill(1);
    this.top = 0;
    this.cw = CW_DEFAULT;
    this.sw = 0;
    this.fip = this.fcs = this.fdp = this.fds = this.fop = 0;
  }

  get statusWord(): number {
    return (this.sw & ~(7 << SW_TOP_SHIFT)) | (this.top << SW_TOP_SHIFT);
  }

  set statusWord(value: number) {
    this.top = (value >>> SW_TOP_SHIFT) & 7;
    this.sw = value & 0xffff & ~(7 << SW_TOP_SHIFT);
    this.updateSummary();
  }

  /** The full tag word: 2 bits per physical register (0 valid, 1 zero, 2 special, 3 empty). */
  get tagWord(): number {
    let tw = 0;
    for (let r = 0; r < 8; r++) tw |= (this.empty[r] ? 3 : tagOf(this.regs[r])) << (r * 2);
    return tw;
  }

  set tagWord(value: number) {
    for (let r = 0; r < 8; r++) this.empty[r] = ((value >>> (r * 2)) & 3) === 3 ? 1 : 0;
  }

  /** True when an unmasked exception waits to be reported (#MF or FERR#). */
  get exceptionPending(): boolean {
    return (this.sw & SW_ES) !== 0;
  }

  /** Records exception flags; ES and B follow whether any flagged exception is unmasked. */
  signal(flags: number): void {
    this.sw |= flags;
    this.updateSummary();
  }

  updateSummary(): void {
    if (this.sw & ~this.cw & 0x3f) this.sw |= SW_ES | SW_B;
    else this.sw &= ~(SW_ES | SW_B);
  }

  isEmpty(i: number): boolean {
    return this.empty[(this.top + i) & 7] === 1;
  }

  /** ST(i); an empty register is a stack underflow whose masked answer is the indefinite NaN. */
  st(i: number): number {
    const r = (this.top + i) & 7;
    if (this.empty[r]) {
      this.sw &= ~SW_C1;
      this.signal(SW_IE | SW_SF);
      return INDEFINITE;
    }
    return this.regs[r];
  }

  setSt(i: number, value: number): void {
    const r = (this.top + i) & 7;
    this.regs[r] = value;
    this.empty[r] = 0;
  }

  push(value: number): void {
    const r = (this.top - 1) & 7;
    if (!this.empty[r]) {
      // Stack overflow: C1=1 marks overflow; the masked response pushes the indefinite.
      this.sw |= SW_C1;
      this.signal(SW_IE | SW_SF);
      value = INDEFINITE;
    }
    this.top = r;
    this.regs[r] = value;
    this.empty[r] = 0;
  }

  pop(): void {
    this.empty[this.top] = 1;
    this.top = (this.top + 1) & 7;
  }

  /**
   * Rounding as the control word's RC field says (00 nearest even, 01 down, 10 up, 11 toward
   * zero); an inexact result flags PE, with C1 telling whether it was rounded up.
   */
  roundToInteger(x: number): number {
    const r = this.roundByControl(x);
    this.noteRounding(x, r);
    return r;
  }

  /** Flags PE (and C1 when the magnitude grew) for a finite value that rounding changed. */
  noteRounding(x: number, r: number): void {
    if (r !== x && x === x && Number.isFinite(x)) {
      this.sw = Math.abs(r) > Math.abs(x) ? this.sw | SW_C1 : this.sw & ~SW_C1;
      this.signal(SW_PE);
    }
  }

  roundByControl(x: number): number {
    switch ((this.cw >>> 10) & 3) {
      case 0: {
        const r = Math.round(x);
        // Math.round breaks ties upward; the x87 breaks them to even.
        return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
      }
      case 1: return Math.floor(x);
      case 2: return Math.ceil(x);
      default: return Math.trunc(x);
    }
  }
}
