// Conversions between the x87's 80-bit extended-precision format (Intel SDM vol. 1, 4.2.2: sign,
// 15-bit exponent biased by 16383, 64-bit significand with an explicit integer bit) and the float64
// this model computes in. Stack registers hold float64, so values keep 53 of the 64 significand bits:
// the documented precision limit of this FPU (as in other JavaScript PCs).

const scratch = new DataView(new ArrayBuffer(8));
const TWO_POW_32 = 4294967296;

/** The 10 bytes of an 80-bit value, split so no allocation is needed per conversion. */
export interface Float80Parts {
  /** Significand bits 0..31. */
  low: number;
  /** Significand bits 32..63 (bit 31 is the explicit integer bit). */
  high: number;
  /** Sign (bit 15) and biased exponent (bits 0..14). */
  signExp: number;
}

/** Decodes an 80-bit value into the nearest float64 (round to nearest even). */
export function float80ToNumber(low: number, high: number, signExp: number): number {
  const sign = signExp & 0x8000 ? -1 : 1;
  const exp = signExp & 0x7fff;
  low >>>= 0;
  high >>>= 0;
  if (exp === 0x7fff) {
    // Infinity only with significand 1.000...; everything else (incl. pseudo-infinities) is NaN.
    return high === 0x80000000 && low === 0 ? sign * Infinity : NaN;
  }
  if (exp === 0 && high === 0 && low === 0) return sign * 0;
  // significand = high·2^32 + low, value = significand · 2^(exp − 16383 − 63). Denormals use exp 1.
  const e = (exp === 0 ? 1 : exp) - 16383 - 63;
  // Split the scaling so intermediate powers never overflow or underflow on their own.
  const significand = high * TWO_POW_32 + low; // rounds to 53 bits: the only rounding step
  return sign * scale(significand, e);
}

function scale(x: number, e: number): number {
  while (e > 1000) { x *= 2 ** 1000; e -= 1000; }
  while (e < -1000) { x *= 2 ** -1000; e += 1000; if (x === 0) return 0; }
  return x * 2 ** e;
}

/** Encodes a float64 exactly into 80-bit form (every float64 is representable). */
export function numberToFloat80(value: number, out: Float80Parts): void {
  scratch.setFloat64(0, value, true);
  const lo = scratch.getUint32(0, true);
  const hi = scratch.getUint32(4, true);
  const sign = hi >>> 31 ? 0x8000 : 0;
  const exp64 = (hi >>> 20) & 0x7ff;
  let mantHi = hi & 0xfffff; // 20 bits
  let mantLo = lo; // 32 bits
  if (exp64 === 0x7ff) {
    out.signExp = sign | 0x7fff;
    if (mantHi === 0 && mantLo === 0) { out.high = 0x80000000; out.low = 0; return; }
    // NaN: keep the payload left-aligned, integer bit set (quiet bit follows from the float64).
    out.high = (0x80000000 | (mantHi << 11) | (mantLo >>> 21)) >>> 0;
    out.low = (mantLo << 11) >>> 0;
    return;
  }
  if (exp64 === 0) {
    if (mantHi === 0 && mantLo === 0) { out.signExp = sign; out.high = 0; out.low = 0; return; }
    // float64 denormal: normalise (the extended exponent range covers it).
    let e = -1022;
    while ((mantHi & 0x100000) === 0) {
      mantHi = ((mantHi << 1) | (mantLo >>> 31)) & 0x1fffff;
      mantLo = (mantLo << 1) >>> 0;
      e--;
    }
    mantHi &= 0xfffff;
    out.signExp = sign | (e + 16383);
  } else {
    out.signExp = sign | (exp64 - 1023 + 16383);
  }
  // 1.mantissa(52 bits) → explicit integer bit at 63, mantissa in bits 62..11.
  out.high = (0x80000000 | (mantHi << 11) | (mantLo >>> 21)) >>> 0;
  out.low = (mantLo << 11) >>> 0;
}

/** The x87 tag of a value (SDM vol. 1, 8.1.7): 0 valid, 1 zero, 2 special (NaN, ∞, denormal). */
export function tagOf(value: number): number {
  if (value === 0) return 1;
  if (!Number.isFinite(value)) return 2;
  return 0;
}
