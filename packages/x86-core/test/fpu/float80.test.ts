import { describe, expect, it } from 'vitest';
import { float80ToNumber, numberToFloat80, type Float80Parts } from '../../src/fpu/float80.js';

const enc = (x: number): Float80Parts => {
  const p = { low: 0, high: 0, signExp: 0 };
  numberToFloat80(x, p);
  return p;
};

describe('80-bit extended format', () => {
  it('encodes the values the SDM tabulates', () => {
    expect(enc(1)).toEqual({ signExp: 0x3fff, high: 0x80000000, low: 0 });
    expect(enc(-2)).toEqual({ signExp: 0xc000, high: 0x80000000, low: 0 });
    expect(enc(0)).toEqual({ signExp: 0, high: 0, low: 0 });
    expect(enc(-0).signExp).toBe(0x8000);
    expect(enc(Infinity)).toEqual({ signExp: 0x7fff, high: 0x80000000, low: 0 });
    // π to 64 bits is C90FDAA2 2168C235 (rounded down from …C234C4C6); float64 keeps 53 of them.
    expect(enc(Math.PI)).toEqual({ signExp: 0x4000, high: 0xc90fdaa2, low: 0x2168c000 });
  });

  it('normalises float64 denormals into the wider exponent range', () => {
    expect(enc(Number.MIN_VALUE)).toEqual({ signExp: 16383 - 1074, high: 0x80000000, low: 0 });
    expect(float80ToNumber(0, 0x80000000, 16383 - 1074)).toBe(Number.MIN_VALUE);
  });

  it('round-trips every float64 exactly', () => {
    const samples = [1.5, -3.75e-300, 1.7976931348623157e308, 2.2250738585072014e-308, 123456789.125, -0.1, 5e-324];
    for (const x of samples) {
      const p = enc(x);
      expect(float80ToNumber(p.low, p.high, p.signExp)).toBe(x);
    }
  });

  it('decodes values outside float64 range to ∞ or 0 and pseudo-NaNs to NaN', () => {
    expect(float80ToNumber(0, 0x80000000, 0x7ffe)).toBe(Infinity);
    expect(float80ToNumber(0, 0x80000000, 0x8001)).toBe(-0);
    expect(float80ToNumber(1, 0x80000000, 0x7fff)).toBeNaN();
    expect(float80ToNumber(0, 0xc0000000, 0xffff)).toBeNaN();
  });

  it('rounds the 64-bit significand to nearest even', () => {
    // 1 + 2^-53 is exactly halfway between 1 and the next float64: ties go to even (1).
    expect(float80ToNumber(0x400, 0x80000000, 0x3fff)).toBe(1);
    // 1 + 3·2^-54 rounds up to 1 + 2^-52.
    expect(float80ToNumber(0x600, 0x80000000, 0x3fff)).toBe(1 + 2 ** -52);
  });
});
