// Correct IEEE 754 rounding of single and double results in every MXCSR rounding mode (SDM Vol. 1,
// 4.8 and 11.5.2). The host computes in double precision with round-to-nearest only, so an operation
// first produces its exact result as m * 2^e with m a double in [1, 2) and `resid`, the sign of the
// exact value minus m (from error-free transformations: TwoSum, Dekker's TwoProduct), and `round`
// then rounds that to 24 or 53 bits with unbounded exponent, detects overflow and tininess (after
// rounding, as Intel does) and denormalizes. Everything is plain numbers: no allocation.
import { MX_OE, MX_PE, MX_UE } from './state.js';

export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

const bits = new Float64Array(1);
const words = new Int32Array(bits.buffer);
const TWO_64 = 18446744073709551616;
const SPLITTER = 134217729; // 2^27 + 1
const MAX_SINGLE = 3.4028234663852886e38;

/** The decomposed exact result: |value| = (m + tiny of sign resid) * 2^e, sign `neg`. */
export const x = { neg: false, m: 1, e: 0, resid: 0 };
/** Post-computation flags (OE, UE, PE) of the last `round`, and whether its result was tiny. */
export const post = { flags: 0, tiny: false };

/** 2^k exactly, for -1074 <= k <= 1023. */
export function pow2(k: number): number {
  if (k < -1022) return pow2(k + 1022) * pow2(-1022);
  words[0] = 0;
  words[1] = (k + 1023) << 20;
  return bits[0];
}

/** floor(log2 v) for finite v > 0 (subnormal doubles included). */
export function exponentOf(v: number): number {
  bits[0] = v;
  const e = (words[1] >>> 20) & 0x7ff;
  if (e !== 0) return e - 1023;
  bits[0] = v * TWO_64;
  return ((words[1] >>> 20) & 0x7ff) - 1023 - 64;
}

/** v * 2^k where the result is a normal double (steps keep every intermediate exact). */
function scale(v: number, k: number): number {
  while (k > 1000) {
    v *= pow2(1000);
    k -= 1000;
  }
  while (k < -1000) {
    v *= pow2(-1000);
    k += 1000;
  }
  return v * pow2(k);
}

/** Sets `x` for the magnitude `v` (> 0, finite) with residual sign `resid`, exponent offset `e0`. */
function setMagnitude(neg: boolean, v: number, resid: number, e0: number): void {
  const e = exponentOf(v);
  x.neg = neg;
  x.m = scale(v, -e);
  x.e = e + e0;
  x.resid = resid;
}

/** `x` for a finite nonzero double known exactly. */
export function exactValue(v: number): void {
  setMagnitude(v < 0, Math.abs(v), 0, 0);
}

/** Dekker's TwoProduct error of p = a * b (a, b in [1, 4): no overflow, no underflow). */
function productError(a: number, b: number, p: number): number {
  let c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLITTER * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/**
 * `x` for a + b (finite, not both zero); false when the exact sum is zero (the caller picks the
 * zero's sign by rounding mode). Operands far below the other keep only their sign, as a sticky bit.
 */
export function exactSum(a: number, b: number): boolean {
  if (a === 0 || b === 0) {
    exactValue(a === 0 ? b : a);
    return true;
  }
  const ea = exponentOf(Math.abs(a));
  const eb = exponentOf(Math.abs(b));
  const k = ea > eb ? ea : eb;
  const sa = ea - k < -80 ? (a < 0 ? -pow2(-90) : pow2(-90)) : scale(a, -k);
  const sb = eb - k < -80 ? (b < 0 ? -pow2(-90) : pow2(-90)) : scale(b, -k);
  const s = sa + sb;
  if (s === 0) return false;
  const bb = s - sa;
  const err = (sa - (s - bb)) + (sb - bb);
  const neg = s < 0;
  setMagnitude(neg, Math.abs(s), err === 0 ? 0 : (err > 0) !== neg ? 1 : -1, k);
  return true;
}

/** `x` for a * b (finite, nonzero). */
export function exactProduct(a: number, b: number): void {
  const ea = exponentOf(Math.abs(a));
  const eb = exponentOf(Math.abs(b));
  const ma = scale(Math.abs(a), -ea);
  const mb = scale(Math.abs(b), -eb);
  const p = ma * mb;
  const err = productError(ma, mb, p);
  setMagnitude((a < 0) !== (b < 0), p, Math.sign(err), ea + eb);
}

/** `x` for a / b (finite, nonzero). */
export function exactQuotient(a: number, b: number): void {
  const ea = exponentOf(Math.abs(a));
  const eb = exponentOf(Math.abs(b));
  const ma = scale(Math.abs(a), -ea);
  const mb = scale(Math.abs(b), -eb);
  const q = ma / mb;
  const p = q * mb;
  const r = (ma - p) - productError(q, mb, p);
  setMagnitude((a < 0) !== (b < 0), q, Math.sign(r), ea - eb);
}

/** `x` for sqrt(a) (a finite, > 0). */
export function exactSqrt(a: number): void {
  let e = exponentOf(a);
  let m = scale(a, -e);
  if (e & 1) {
    m *= 2;
    e -= 1;
  }
  const r = Math.sqrt(m);
  const p = r * r;
  const rem = (m - p) - productError(r, r, p);
  setMagnitude(false, r, Math.sign(rem), e / 2);
}

/** `x` for the 64-bit integer hi:lo (nonzero), exactly or with its residual. */
export function exactInt64(lo: number, hi: number): void {
  const a = hi * 4294967296;
  const b = lo >>> 0;
  const s = a + b;
  const bb = s - a;
  const err = (a - (s - bb)) + (b - bb);
  const neg = s < 0;
  setMagnitude(neg, Math.abs(s), err === 0 ? 0 : (err > 0) !== neg ? 1 : -1, 0);
}

let inexact = false;

/** Rounds the magnitude n (>= 0) plus a residual of sign `resid` to an integer in `mode`. */
export function roundMagnitude(n: number, resid: number, neg: boolean, mode: number): number {
  const fl = Math.floor(n);
  const frac = n - fl;
  inexact = frac !== 0 || resid !== 0;
  if (!inexact) return fl;
  if (mode === RC_NEAREST) {
    if (frac > 0.5) return fl + 1;
    if (frac < 0.5) return fl;
    return resid > 0 ? fl + 1 : resid < 0 ? fl : fl % 2 === 0 ? fl : fl + 1;
  }
  const away = (mode === RC_UP && !neg) || (mode === RC_DOWN && neg);
  if (away) return frac > 0 || resid > 0 ? fl + 1 : fl;
  return frac === 0 && resid < 0 ? fl - 1 : fl;
}

/** True when the last `roundMagnitude` discarded something. */
export function lastInexact(): boolean {
  return inexact;
}

/**
 * Rounds `x` to single (24 bits) or double (53 bits) precision in `mode`; `post.flags` gets OE|PE
 * on overflow (the masked result: infinity or the largest finite value by mode), UE|PE for a tiny
 * inexact result (or any tiny one under `ftz`, which returns a zero) and PE when inexact.
 */
export function round(single: boolean, mode: number, ftz: boolean): number {
  const p = single ? 24 : 53;
  const emin = single ? -126 : -1022;
  const emax = single ? 127 : 1023;
  const neg = x.neg;
  let be = x.e;
  // An exact value just below a power of two lies in the binade beneath m's.
  if (x.m === 1 && x.resid < 0) be -= 1;
  const n = scale(x.m, x.e - be + p - 1);
  const big = roundMagnitude(n, x.resid, neg, mode);
  const re = big === pow2(p) ? be + 1 : be;
  post.flags = 0;
  post.tiny = re < emin;
  if (re > emax) {
    post.flags = MX_OE | MX_PE;
    const toInfinity = mode === RC_NEAREST || (mode === RC_UP && !neg) || (mode === RC_DOWN && neg);
    const v = toInfinity ? Infinity : single ? MAX_SINGLE : Number.MAX_VALUE;
    return neg ? -v : v;
  }
  if (re < emin) {
    if (ftz) {
      post.flags = MX_UE | MX_PE;
      return neg ? -0 : 0;
    }
    // Denormalize: the quantum is fixed at 2^(emin - p + 1).
    const shift = x.e - (emin - p + 1);
    const small = roundMagnitude(shift < -60 ? pow2(-80) : scale(x.m, shift), x.resid, neg, mode);
    if (inexact) post.flags = MX_UE | MX_PE;
    const v = small * pow2(emin - p + 1);
    return neg ? -v : v;
  }
  if (inexact) post.flags = MX_PE;
  const v = scale(big, be - p + 1);
  return neg ? -v : v;
}
