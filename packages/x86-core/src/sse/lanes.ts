// One lane of a floating-point SSE instruction (SDM Vol. 1, 4.8.3 and 11.5; each instruction's
// "SIMD Floating-Point Exceptions"): operand classes read from the raw bits (NaNs never pass
// through a JS number, which may not keep their payload), DAZ, NaN propagation (Table 4-7: the first
// source's NaN wins, quieted), invalid operations with the QNaN indefinite, divide-by-zero, and the
// finite cases through `exact.ts`. Flags accumulate in `acc` (pre- and post-computation apart, as
// an unmasked pre-computation exception suppresses the post-computation ones).
import {
  RC_DOWN, exactProduct, exactQuotient, exactSqrt, exactSum, exactValue, lastInexact, post, round, roundMagnitude,
} from './exact.js';
import { MX_DAZ, MX_DE, MX_FTZ, MX_IE, MX_PE, MX_RC_SHIFT, MX_UE, MX_ZE, type SseState } from './state.js';

export const FINITE = 0;
export const ZERO = 1;
export const INF = 2;
export const QNAN = 3;
export const SNAN = 4;

/**
 * The instruction's flags so far: pre-computation (IE, DE, ZE), post-computation (OE, UE, PE), and
 * `tiny` for a tiny result, which an unmasked underflow reports even when exact (SDM Vol. 1 4.9.1.5).
 */
export const acc = { pre: 0, post: 0, tiny: false, mode: 0, daz: false, ftz: false };

/** Starts an instruction: its rounding mode and DAZ/FTZ from MXCSR, no flags yet. */
export function beginLanes(st: SseState): void {
  acc.pre = acc.post = 0;
  acc.tiny = false;
  acc.mode = (st.mxcsr >> MX_RC_SHIFT) & 3;
  acc.daz = (st.mxcsr & MX_DAZ) !== 0;
  // FTZ answers a masked underflow only; an unmasked one raises #XM.
  acc.ftz = (st.mxcsr & MX_FTZ) !== 0 && (st.mxcsr & (MX_UE << 7)) !== 0;
}

/** The value of the last classified lane (denormals as zeros under DAZ); `denormal` if it was one. */
export const lane = { v: 0, denormal: false };

/**
 * The class of a lane from its fields: exponent all ones or all zeros, fraction nonzero, quiet bit,
 * sign. A zero-exponent nonzero lane is a denormal (`lane.denormal`), or a signed zero under DAZ;
 * infinities (and NaNs, whose value is never used) get `lane.v` here, finite lanes from the caller.
 */
function classOf(maxExponent: boolean, zeroExponent: boolean, fraction: boolean, quiet: boolean, negative: boolean): number {
  lane.denormal = false;
  if (maxExponent) {
    lane.v = negative ? -Infinity : Infinity;
    return !fraction ? INF : quiet ? QNAN : SNAN;
  }
  if (zeroExponent && fraction) {
    if (acc.daz) {
      lane.v = negative ? -0 : 0;
      return ZERO;
    }
    lane.denormal = true;
  }
  return FINITE;
}

/** Class of single lane `i` (a u32 index). */
export function classSingle(st: SseState, i: number): number {
  const b = st.u32[i];
  const e = b & 0x7f800000;
  const c = classOf(e === 0x7f800000, e === 0, (b & 0x7fffff) !== 0, (b & 0x400000) !== 0, b >>> 31 !== 0);
  if (c !== FINITE) return c;
  lane.v = st.f32[i];
  return lane.v === 0 ? ZERO : FINITE;
}

/** Class of double lane `i` (an f64 index). */
export function classDouble(st: SseState, i: number): number {
  const hi = st.u32[2 * i + 1];
  const e = hi & 0x7ff00000;
  const fraction = ((hi & 0xfffff) | st.u32[2 * i]) !== 0;
  const c = classOf(e === 0x7ff00000, e === 0, fraction, (hi & 0x80000) !== 0, hi >>> 31 !== 0);
  if (c !== FINITE) return c;
  lane.v = st.f64[i];
  return lane.v === 0 ? ZERO : FINITE;
}

export function classify(st: SseState, single: boolean, i: number): number {
  return single ? classSingle(st, i) : classDouble(st, i);
}

// How a lane's result is written: a value, a source's NaN quieted, a source's raw bits, the indefinite.
export const R_VALUE = 0;
export const R_QUIET_A = 1;
export const R_QUIET_B = 2;
export const R_RAW_B = 3;
export const R_INDEFINITE = 4;
export const R_RAW_A = 5;

export const OP_ADD = 0;
export const OP_MUL = 1;
export const OP_SUB = 4;
export const OP_MIN = 5;
export const OP_DIV = 6;
export const OP_MAX = 7;
export const OP_SQRT = 8;

/** Result value for `R_VALUE`. */
export const out = { v: 0 };

/** Rounds `exact.x` in the instruction's mode, accumulating the post-computation flags. */
function rounded(single: boolean): number {
  const v = round(single, acc.mode, acc.ftz);
  acc.post |= post.flags;
  if (post.tiny) acc.tiny = true;
  return v;
}

/**
 * One lane of ADD/SUB/MUL/DIV/MIN/MAX (opcode low nibble as `op`: 8 add, 9 mul, C sub, D min, E
 * div, F max) on a (destination) and b (source), or SQRT of b. Returns the R_* kind; values in `out`.
 */
export function binaryLane(st: SseState, op: number, single: boolean, ia: number, ib: number): number {
  let ca = ZERO;
  let a = 0;
  let da = false;
  if (op !== OP_SQRT) {
    ca = classify(st, single, ia);
    a = lane.v;
    da = lane.denormal;
  }
  const cb = classify(st, single, ib);
  const b = lane.v;
  const db = lane.denormal;
  if (op === OP_MIN || op === OP_MAX) {
    // Any NaN (quiet too) is invalid and the second operand is returned as it is; so for two zeros.
    if (ca >= QNAN || cb >= QNAN) {
      acc.pre |= MX_IE;
      return R_RAW_B;
    }
    if (da || db) acc.pre |= MX_DE;
    out.v = (op === OP_MIN ? a < b : a > b) ? a : b;
    return R_VALUE;
  }
  if (ca === SNAN || cb === SNAN) acc.pre |= MX_IE;
  if (ca >= QNAN) return R_QUIET_A;
  if (cb >= QNAN) return R_QUIET_B;
  if (invalid(op, ca, a, cb, b)) {
    acc.pre |= MX_IE;
    return R_INDEFINITE;
  }
  if (da || db) acc.pre |= MX_DE;
  if (op === OP_SQRT) {
    // sqrt of a zero or +infinity is exact (negative values were invalid above).
    if (cb !== FINITE) out.v = Math.sqrt(b);
    else {
      exactSqrt(b);
      out.v = rounded(single);
    }
    return R_VALUE;
  }
  if (op === OP_DIV && cb === ZERO && ca === FINITE) acc.pre |= MX_ZE;
  if (ca === INF || cb === INF || (op !== OP_ADD && op !== OP_SUB && (ca === ZERO || cb === ZERO))) {
    // Exact: infinities, products and quotients of zeros, x / 0 (signed infinity, flagged above).
    out.v = op === OP_ADD ? a + b : op === OP_SUB ? a - b : op === OP_MUL ? a * b : a / b;
    return R_VALUE;
  }
  if (op === OP_ADD || op === OP_SUB) {
    const bb = op === OP_SUB ? -b : b;
    if (ca === ZERO && cb === ZERO) {
      // Zeros of unlike sign sum to +0, or -0 rounding down (IEEE 754 6.3).
      const na = Object.is(a, -0);
      const nb = Object.is(bb, -0);
      out.v = na === nb ? a : acc.mode === RC_DOWN ? -0 : 0;
      return R_VALUE;
    }
    out.v = exactSum(a, bb) ? rounded(single) : acc.mode === RC_DOWN ? -0 : 0;
    return R_VALUE;
  }
  if (op === OP_MUL) exactProduct(a, b);
  else exactQuotient(a, b);
  out.v = rounded(single);
  return R_VALUE;
}

function invalid(op: number, ca: number, a: number, cb: number, b: number): boolean {
  switch (op) {
    case OP_ADD: return ca === INF && cb === INF && (a > 0) !== (b > 0);
    case OP_SUB: return ca === INF && cb === INF && (a > 0) === (b > 0);
    case OP_MUL: return (ca === INF && cb === ZERO) || (ca === ZERO && cb === INF);
    case OP_DIV: return (ca === INF && cb === INF) || (ca === ZERO && cb === ZERO);
    case OP_SQRT: return b < 0;
    default: return false;
  }
}

/** Both operands of a comparison, classified (reused: no allocation). */
const pair = { ca: 0, a: 0, cb: 0, b: 0, denormal: false };

function classifyPair(st: SseState, single: boolean, ia: number, ib: number): typeof pair {
  pair.ca = classify(st, single, ia);
  pair.a = lane.v;
  pair.denormal = lane.denormal;
  pair.cb = classify(st, single, ib);
  pair.b = lane.v;
  pair.denormal ||= lane.denormal;
  return pair;
}

/**
 * CMPPS/CMPSS/CMPPD/CMPSD predicate `p` (0-7: EQ LT LE UNORD NEQ NLT NLE ORD) on lanes a, b:
 * true or false. LT, LE, NLT and NLE signal invalid on any NaN, the others on SNaNs only.
 */
export function compareLane(st: SseState, p: number, single: boolean, ia: number, ib: number): boolean {
  const { ca, a, cb, b, denormal } = classifyPair(st, single, ia, ib);
  const unordered = ca >= QNAN || cb >= QNAN;
  const signaling = (p & 3) === 1 || (p & 3) === 2;
  if (ca === SNAN || cb === SNAN || (unordered && signaling)) acc.pre |= MX_IE;
  else if (!unordered && denormal) acc.pre |= MX_DE;
  let r: boolean;
  switch (p & 3) {
    case 0: r = !unordered && a === b; break;
    case 1: r = !unordered && a < b; break;
    case 2: r = !unordered && a <= b; break;
    default: r = unordered; break;
  }
  return p & 4 ? !r : r;
}

/**
 * COMIS/UCOMIS: 0 greater, 1 less, 2 equal, 3 unordered. COMIS signals invalid on any NaN,
 * UCOMIS on SNaNs.
 */
export function orderLanes(st: SseState, signaling: boolean, single: boolean, ia: number, ib: number): number {
  const { ca, a, cb, b, denormal } = classifyPair(st, single, ia, ib);
  if (ca >= QNAN || cb >= QNAN) {
    if (signaling || ca === SNAN || cb === SNAN) acc.pre |= MX_IE;
    return 3;
  }
  if (denormal) acc.pre |= MX_DE;
  return a > b ? 0 : a < b ? 1 : 2;
}

/** Rounds the finite double `v` to single precision (CVTSD2SS, CVTPD2PS), flags accumulated. */
export function toSingle(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  exactValue(v);
  return rounded(true);
}

/** Rounds `exact.x` (set by the caller) in the instruction's mode. */
export function roundExact(single: boolean): number {
  return rounded(single);
}

export const integer = { lo: 0, hi: 0 };

/**
 * CVT(T)SS2SI/SD2SI/PS2DQ/PD2DQ lane: the value of class `c` to a 32- or 64-bit integer in
 * `integer`, rounded by MXCSR or truncated; NaN or out of range gives the integer indefinite (the
 * sign bit alone) and invalid, an inexact conversion precision.
 */
export function toInteger(c: number, v: number, wide: boolean, truncate: boolean): void {
  integer.lo = 0;
  integer.hi = wide ? 0x80000000 | 0 : 0;
  if (c >= INF) {
    if (!wide) integer.lo = 0x80000000 | 0;
    acc.pre |= MX_IE;
    return;
  }
  if (c === ZERO) {
    integer.hi = 0;
    return;
  }
  const neg = v < 0;
  const n = roundMagnitude(Math.abs(v), 0, neg, truncate ? 3 : acc.mode);
  const limit = wide ? 9223372036854775808 : 2147483648;
  if (n > limit || (n === limit && !neg)) {
    if (!wide) integer.lo = 0x80000000 | 0;
    acc.pre |= MX_IE;
    return;
  }
  if (lastInexact()) acc.post |= MX_PE;
  const s = neg ? -n : n;
  const high = Math.floor(s / 4294967296);
  integer.hi = wide ? high | 0 : 0;
  integer.lo = (s - high * 4294967296) | 0;
}

