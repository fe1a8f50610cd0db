// FPREM and FPREM1 as the SDM specifies them (vol. 2, FPREM/FPREM1 "Operation"): with exponents
// D apart, D < 64 yields the complete remainder and the quotient's low three bits; otherwise a
// partial remainder (C2 = 1) after reducing by ST(1)·2^(D−N), and the program loops. Computed on exact
// integer significands, so quotient bits and partial results match hardware bit for bit.

/** N for partial reductions: 32 + (D mod 32), the choice observed on Intel hardware. */
function reductionSteps(d: number): number {
  return 32 + (d % 32);
}

const view = new DataView(new ArrayBuffer(8));

/** x = significand · 2^exponent with a 53-bit integer significand (finite, non-zero x). */
function decompose(x: number): { m: bigint; e: number } {
  view.setFloat64(0, Math.abs(x), true);
  const hi = view.getUint32(4, true);
  const lo = view.getUint32(0, true);
  const biased = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  return biased === 0 ? { m: frac, e: -1074 } : { m: frac | (1n << 52n), e: biased - 1075 };
}

/** floor(log2 |x|): the x87's unbiased exponent of a finite non-zero value. */
function exponentOf(x: number): number {
  const { m, e } = decompose(x);
  return e + m.toString(2).length - 1;
}

/**
 * r · 2^exp as a number. The remainder's set bits span at most 53 positions (see the header), so
 * dropping low zero bits first keeps Number() exact, and the power is applied in steps that can
 * neither overflow nor underflow on their own.
 */
function toNumber(r: bigint, exp: number): number {
  if (r === 0n) return 0;
  const excess = Math.max(0, r.toString(2).length - 60);
  let value = Number(r >> BigInt(excess));
  let e = exp + excess;
  while (e > 1000) { value *= 2 ** 1000; e -= 1000; }
  while (e < -1000) { value *= 2 ** -1000; e += 1000; }
  return value * 2 ** e;
}

export interface RemainderResult {
  value: number;
  /** Low three quotient bits (Q2 Q1 Q0), valid when complete. */
  quotientBits: number;
  complete: boolean;
}

/** Remainder of finite x by finite non-zero y; `ieee` selects FPREM1's round-to-nearest quotient. */
export function partialRemainder(x: number, y: number, ieee: boolean, out: RemainderResult): void {
  const d = exponentOf(x) - exponentOf(y);
  if (d < 0 && !ieee) {
    // |x| < |y|: quotient 0, x is already the remainder.
    out.value = x; out.quotientBits = 0; out.complete = true;
    return;
  }
  const a = decompose(x);
  const b = decompose(y);
  // Work at the smaller binary exponent so both significands are exact integers.
  const base = Math.min(a.e, b.e);
  const X = a.m << BigInt(a.e - base);
  let Y = b.m << BigInt(b.e - base);
  let shift = 0;
  if (d >= 64) shift = d - reductionSteps(d);
  Y <<= BigInt(shift);
  let q = X / Y;
  let r = X - q * Y;
  if (ieee && shift === 0) {
    const twice = r * 2n;
    if (twice > Y || (twice === Y && (q & 1n) === 1n)) { q += 1n; r -= Y; }
  }
  const magnitude = toNumber(r, base);
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1;
  out.value = r === 0n ? sign * 0 : sign * magnitude;
  out.complete = shift === 0;
  out.quotientBits = Number(q & 7n);
}
