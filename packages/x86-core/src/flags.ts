/** EFLAGS bits (Intel SDM Vol. 1, 3.4.3). */
export const CF = 0x0001;
export const PF = 0x0004;
export const AF = 0x0010;
export const ZF = 0x0040;
export const SF = 0x0080;
export const TF = 0x0100;
export const IF = 0x0200;
export const DF = 0x0400;
export const OF = 0x0800;
export const IOPL = 0x3000;
export const NT = 0x4000;
export const RF = 0x10000;
export const VM = 0x20000;
export const AC = 0x40000;
export const VIF = 0x80000;
export const VIP = 0x100000;
export const ID = 0x200000;

/** The six status flags an arithmetic instruction produces; the ones computed lazily. */
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** Bit 1 always reads as one. */
export const FIXED_ONE = 0x0002;
/** Every bit an i686 without VME lets software hold. */
export const SETTABLE = ARITH | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

/** PF for each low result byte: set when the byte has an even number of one bits. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let v = i; v; v >>= 1) bits += v & 1;
  PARITY[i] = bits & 1 ? 0 : PF;
}

/** Lazy-flag producers: what the last flag-setting instruction was. */
export const LAZY_ADD = 0;
export const LAZY_SUB = 1;
export const LAZY_LOGIC = 2;
export const LAZY_ADC = 3;
export const LAZY_SBB = 4;

/** Operand sizes as indexes: byte, word, dword. */
export const SIZE_MASK = [0xff, 0xffff, -1];
export const SIGN_BIT = [0x80, 0x8000, -0x80000000];
