// SSE/SSE2 architectural state (SDM Vol. 1, 10.2): XMM0-XMM15 and MXCSR. The registers are one
// ArrayBuffer seen through typed views, so an instruction reads and writes lanes in place and
// allocates nothing; two extra 16-byte slots hold a memory source and a result being built.

/** MXCSR exception flags (bits 0-5) and their masks (bits 7-12, the flag << 7). */
export const MX_IE = 1;
export const MX_DE = 2;
export const MX_ZE = 4;
export const MX_OE = 8;
export const MX_UE = 16;
export const MX_PE = 32;
export const MX_DAZ = 1 << 6;
export const MX_FTZ = 1 << 15;
export const MX_RC_SHIFT = 13;
/** MXCSR after RESET: every exception masked, round to nearest. */
export const MXCSR_RESET = 0x1f80;
/** Bits MXCSR may hold on this model (DAZ included): FXSAVE's MXCSR_MASK; others are #GP(0) to load. */
export const MXCSR_MASK = 0xffff;

/** Slot of the memory source operand, and of a result assembled before it is committed. */
export const SRC = 16;
export const TMP = 17;
const SLOTS = 18;

export class SseState {
  readonly buffer = new ArrayBuffer(SLOTS * 16);
  readonly u8 = new Uint8Array(this.buffer);
  readonly i8 = new Int8Array(this.buffer);
  readonly u16 = new Uint16Array(this.buffer);
  readonly i16 = new Int16Array(this.buffer);
  readonly i32 = new Int32Array(this.buffer);
  readonly u32 = new Uint32Array(this.buffer);
  readonly f32 = new Float32Array(this.buffer);
  readonly f64 = new Float64Array(this.buffer);
  mxcsr = MXCSR_RESET;

  /** RESET (SDM Vol. 3A, Table 9-1): XMM registers zero, MXCSR 1F80H. */
  reset(): void {
    this.i32.fill(0);
    this.mxcsr = MXCSR_RESET;
  }
}
