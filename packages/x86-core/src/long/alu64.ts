// 64-bit integer arithmetic (SDM Vol. 2, per instruction) on (low, high) int32 pairs. The flags are
// computed eagerly (`Cpu.setArith`): 64-bit code leaves the i686 core's lazy-flag paths alone. The
// high dword of a result is left in `hi.v`. Byte, word and dword operations in 64-bit mode use the
// i686 core's alu.ts unchanged.
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { AF, CF, OF, PARITY, PF, SF, ZF } from '../flags.js';
import { hi } from './operands.js';

const TWO_32 = 0x1_0000_0000;

function resultFlags(lo: number, high: number): number {
  let f = PARITY[lo & 0xff] ? PF : 0;
  if (lo === 0 && high === 0) f |= ZF;
  if (high < 0) f |= SF;
  return f;
}

/** ADD OR ADC SBB AND SUB XOR CMP (ModRM reg order) on qwords; CMP returns `a`. */
export function alu64(cpu: Cpu, op: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  let lo: number;
  let high: number;
  let f: number;
  switch (op) {
    case 1: case 4: case 6:
      lo = op === 1 ? aLo | bLo : op === 4 ? aLo & bLo : aLo ^ bLo;
      high = op === 1 ? aHi | bHi : op === 4 ? aHi & bHi : aHi ^ bHi;
      f = resultFlags(lo, high);
      break;
    case 0: case 2: {
      const cin = op === 2 ? cpu.getCF() : 0;
      const s = (aLo >>> 0) + (bLo >>> 0) + cin;
      lo = s | 0;
      const hs = (aHi >>> 0) + (bHi >>> 0) + (s >= TWO_32 ? 1 : 0);
      high = hs | 0;
      f = resultFlags(lo, high) | (hs >= TWO_32 ? CF : 0) | (((aHi ^ high) & (bHi ^ high)) < 0 ? OF : 0);
      f |= (aLo ^ bLo ^ lo) & AF;
      break;
    }
    default: {
      const bin = op === 3 ? cpu.getCF() : 0;
      const s = (aLo >>> 0) - (bLo >>> 0) - bin;
      lo = s | 0;
      const hs = (aHi >>> 0) - (bHi >>> 0) - (s < 0 ? 1 : 0);
      high = hs | 0;
      f = resultFlags(lo, high) | (hs < 0 ? CF : 0) | (((aHi ^ bHi) & (aHi ^ high)) < 0 ? OF : 0);
      f |= (aLo ^ bLo ^ lo) & AF;
    }
  }
  cpu.setArith(f);
  if (op === 7) {
    hi.v = aHi;
    return aLo;
  }
  hi.v = high;
  return lo;
}

/** INC/DEC on a qword: ADD/SUB 1 with CF kept. */
export function incDec64(cpu: Cpu, aLo: number, aHi: number, dec: boolean): number {
  const cf = cpu.getCF();
  const lo = alu64(cpu, dec ? 5 : 0, aLo, aHi, 1, 0);
  const high = hi.v;
  cpu.flags = (cpu.flags & ~CF) | cf;
  hi.v = high;
  return lo;
}

/** TEST on qwords. */
export function test64(cpu: Cpu, aLo: number, aHi: number, bLo: number, bHi: number): void {
  cpu.setArith(resultFlags(aLo & bLo, aHi & bHi));
}

/** Shift left by 0-63 (result high in hi.v). */
export function shl64(lo: number, high: number, c: number): number {
  if (c === 0) { hi.v = high; return lo; }
  if (c < 32) { hi.v = (high << c) | (lo >>> (32 - c)); return lo << c; }
  hi.v = lo << (c - 32);
  return 0;
}

export function shr64(lo: number, high: number, c: number, arithmetic: boolean): number {
  if (c === 0) { hi.v = high; return lo; }
  if (c < 32) {
    hi.v = arithmetic ? high >> c : high >>> c;
    return (lo >>> c) | (high << (32 - c));
  }
  hi.v = arithmetic ? high >> 31 : 0;
  return arithmetic ? high >> (c - 32) : c === 32 ? high : high >>> (c - 32);
}

/** Bit `n` (0-63) of a qword. */
function bit(lo: number, high: number, n: number): number {
  return n < 32 ? (lo >>> n) & 1 : (high >>> (n - 32)) & 1;
}

/** ROL ROR RCL RCR SHL SHR SAL SAR on a qword; `count` masked to 6 bits. */
export function shift64(cpu: Cpu, op: number, lo: number, high: number, count: number): number {
  const c = count & 63;
  if (c === 0) { hi.v = high; return lo; }
  cpu.materializeFlags();
  let flags = cpu.flags;
  let rLo: number;
  let rHi: number;
  switch (op) {
    case 0: case 1: {
      const left = op === 0 ? c : 64 - c;
      const a = shl64(lo, high, left);
      const aHi = hi.v;
      const b = shr64(lo, high, 64 - left, false);
      rLo = a | b;
      rHi = aHi | hi.v;
      const cf = op === 0 ? rLo & 1 : rHi >>> 31;
      const of = op === 0 ? (rHi >>> 31) ^ cf : ((rHi >>> 31) ^ (rHi >>> 30)) & 1;
      flags = (flags & ~(CF | OF)) | cf | (of ? OF : 0);
      break;
    }
    case 2: case 3: {
      // Through CF: one bit at a time (count <= 63).
      let cf = flags & CF;
      rLo = lo;
      rHi = high;
      for (let i = 0; i < c; i++) {
        if (op === 2) {
          const out = rHi >>> 31;
          rHi = (rHi << 1) | (rLo >>> 31);
          rLo = (rLo << 1) | cf;
          cf = out;
        } else {
          const out = rLo & 1;
          rLo = (rLo >>> 1) | (rHi << 31);
          rHi = (rHi >>> 1) | (cf << 31);
          cf = out;
        }
      }
      const of = op === 2 ? (rHi >>> 31) ^ cf : ((rHi >>> 31) ^ (rHi >>> 30)) & 1;
      flags = (flags & ~(CF | OF)) | cf | (of ? OF : 0);
      break;
    }
    case 4: case 6: {
      rLo = shl64(lo, high, c);
      rHi = hi.v;
      const cf = bit(lo, high, 64 - c);
      flags = (flags & ~(CF | OF | SF | ZF | PF | AF)) | resultFlags(rLo, rHi) | cf | (((rHi >>> 31) ^ cf) ? OF : 0);
      break;
    }
    default: {
      const arithmetic = op === 7;
      rLo = shr64(lo, high, c, arithmetic);
      rHi = hi.v;
      const cf = bit(lo, high, c - 1);
      const of = !arithmetic && (high >>> 31) !== 0;
      flags = (flags & ~(CF | OF | SF | ZF | PF | AF)) | resultFlags(rLo, rHi) | cf | (of ? OF : 0);
    }
  }
  cpu.flags = flags;
  cpu.lazyMask = 0;
  hi.v = rHi;
  return rLo;
}

/**
 * SHLD (left) / SHRD on qwords: `a` shifted by `count` & 63 with the bits of `b` coming in. CF is
 * the last bit out of `a`, OF a change of sign (the SDM defines it for a count of 1 only), AF 0 as
 * for the narrower forms; a count of 0 changes nothing.
 */
export function doubleShift64(cpu: Cpu, left: boolean, aLo: number, aHi: number, bLo: number, bHi: number, count: number): number {
  const c = count & 63;
  if (c === 0) { hi.v = aHi; return aLo; }
  const a = left ? shl64(aLo, aHi, c) : shr64(aLo, aHi, c, false);
  const aOut = hi.v;
  const b = left ? shr64(bLo, bHi, 64 - c, false) : shl64(bLo, bHi, 64 - c);
  const rLo = a | b;
  const rHi = aOut | hi.v;
  const cf = left ? bit(aLo, aHi, 64 - c) : bit(aLo, aHi, c - 1);
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~(CF | OF | SF | ZF | PF | AF)) | resultFlags(rLo, rHi) | cf | ((aHi ^ rHi) < 0 ? OF : 0);
  cpu.lazyMask = 0;
  hi.v = rHi;
  return rLo;
}

// 64 x 64 -> 128-bit products in 16-bit limbs (no BigInt, no allocation).
const limbs = new Float64Array(8);
const acc = new Float64Array(8);
/** The product's four dwords, low first. */
export const product = new Int32Array(4);

function limbsOf(lo: number, high: number, into: Float64Array, at: number): void {
  into[at] = lo & 0xffff;
  into[at + 1] = lo >>> 16;
  into[at + 2] = high & 0xffff;
  into[at + 3] = high >>> 16;
}

/** Unsigned 64 x 64 -> 128 into `product`. */
export function mulu64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  limbsOf(aLo, aHi, limbs, 0);
  limbsOf(bLo, bHi, limbs, 4);
  const out = acc;
  out.fill(0);
  for (let i = 0; i < 4; i++) {
    let carry = 0;
    for (let j = 0; j < 4; j++) {
      const t = out[i + j] + limbs[i] * limbs[4 + j] + carry;
      out[i + j] = t % 0x10000;
      carry = Math.floor(t / 0x10000);
    }
    out[i + 4] += carry;
  }
  for (let k = 0; k < 4; k++) product[k] = out[2 * k] | (out[2 * k + 1] << 16);
}

/** Signed 64 x 64 -> 128 into `product`: the unsigned product with each negative factor's correction. */
export function muls64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  mulu64(aLo, aHi, bLo, bHi);
  let h0 = product[2];
  let h1 = product[3];
  if (aHi < 0) {
    const s = (h0 >>> 0) - (bLo >>> 0);
    h1 = (h1 - bHi - (s < 0 ? 1 : 0)) | 0;
    h0 = s | 0;
  }
  if (bHi < 0) {
    const s = (h0 >>> 0) - (aLo >>> 0);
    h1 = (h1 - aHi - (s < 0 ? 1 : 0)) | 0;
    h0 = s | 0;
  }
  product[2] = h0;
  product[3] = h1;
}

/** MUL/IMUL r/m64 (one operand): RDX:RAX = RAX * src; CF = OF = the high half is significant. */
export function mulWide64(cpu: Cpu, srcLo: number, srcHi: number, signed: boolean): void {
  const r = cpu.reg32;
  const h = cpu.regHi;
  if (signed) muls64(r[0], h[0], srcLo, srcHi);
  else mulu64(r[0], h[0], srcLo, srcHi);
  r[0] = product[0];
  h[0] = product[1];
  r[2] = product[2];
  h[2] = product[3];
  const significant = signed
    ? product[2] !== product[1] >> 31 || product[3] !== product[1] >> 31
    : product[2] !== 0 || product[3] !== 0;
  cpu.setArith((significant ? CF | OF : 0) | resultFlags(product[0], product[1]) & ~ZF);
}

/** IMUL r64, r/m64(, imm): the low 64 bits; CF = OF = the product did not fit. */
export function imulTruncate64(cpu: Cpu, aLo: number, aHi: number, bLo: number, bHi: number): number {
  muls64(aLo, aHi, bLo, bHi);
  const fits = product[2] === product[1] >> 31 && product[3] === product[1] >> 31;
  cpu.setArith((fits ? 0 : CF | OF) | resultFlags(product[0], product[1]) & ~ZF);
  hi.v = product[1];
  return product[0];
}

function toBig(lo: number, high: number): bigint {
  return (BigInt(high >>> 0) << 32n) | BigInt(lo >>> 0);
}

/**
 * DIV/IDIV r/m64: RDX:RAX / src (#DE on a zero divisor or a quotient that does not fit). BigInt
 * here: a 128-by-64 division is rare and slow on hardware too; this is the one allocating path.
 */
export function divide64(cpu: Cpu, srcLo: number, srcHi: number, signed: boolean): void {
  const r = cpu.reg32;
  const h = cpu.regHi;
  let divisor = toBig(srcLo, srcHi);
  if (divisor === 0n) throwFault(0);
  let dividend = (toBig(r[2], h[2]) << 64n) | toBig(r[0], h[0]);
  if (signed) {
    dividend = BigInt.asIntN(128, dividend);
    divisor = BigInt.asIntN(64, divisor);
  }
  const q = dividend / divisor;
  const rem = dividend % divisor;
  if (signed ? q !== BigInt.asIntN(64, q) : q >> 64n !== 0n) throwFault(0);
  r[0] = Number(BigInt.asIntN(32, q));
  h[0] = Number(BigInt.asIntN(32, q >> 32n));
  r[2] = Number(BigInt.asIntN(32, rem));
  h[2] = Number(BigInt.asIntN(32, rem >> 32n));
}
