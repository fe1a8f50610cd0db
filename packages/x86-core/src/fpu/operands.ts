// Memory operand formats of the x87 (SDM vol. 1, 4.2 and 4.7): single/double/extended reals,
// 16/32/64-bit integers and 18-digit packed BCD, read and written through the host.
import { float80ToNumber, numberToFloat80, type Float80Parts } from './float80.js';
import type { Fpu } from './fpu.js';
import { SW_IE } from './fpu.js';
import type { FpuHost } from './host.js';

const view = new DataView(new ArrayBuffer(8));
const parts: Float80Parts = { low: 0, high: 0, signExp: 0 };
const TWO_POW_32 = 4294967296;
const TWO_POW_63 = 9223372036854775808;

export function readReal32(host: FpuHost, at: number): number {
  view.setUint32(0, host.read32(at), true);
  return view.getFloat32(0, true);
}

export function readReal64(host: FpuHost, at: number): number {
  view.setUint32(0, host.read32(at), true);
  view.setUint32(4, host.read32(at + 4), true);
  return view.getFloat64(0, true);
}

export function readReal80(host: FpuHost, at: number): number {
  return float80ToNumber(host.read32(at), host.read32(at + 4), host.read16(at + 8));
}

export function writeReal32(host: FpuHost, at: number, value: number): void {
  view.setFloat32(0, value, true);
  host.write32(at, view.getUint32(0, true));
}

export function writeReal64(host: FpuHost, at: number, value: number): void {
  view.setFloat64(0, value, true);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  host.write32(at, lo);
  host.write32(at + 4, hi);
}

export function writeReal80(host: FpuHost, at: number, value: number): void {
  numberToFloat80(value, parts);
  host.write32(at, parts.low);
  host.write32(at + 4, parts.high);
  host.write16(at + 8, parts.signExp);
}

export function readInt16(host: FpuHost, at: number): number {
  return (host.read16(at) << 16) >> 16;
}

export function readInt32(host: FpuHost, at: number): number {
  return host.read32(at) | 0;
}

/** 64-bit integers beyond 2^53 lose their low bits (the stack holds float64). */
export function readInt64(host: FpuHost, at: number): number {
  const lo = host.read32(at) >>> 0;
  const hi = host.read32(at + 4) | 0;
  return hi * TWO_POW_32 + lo;
}

/**
 * Rounds per RC and stores an integer of `bytes` width; NaN, infinities and out-of-range values
 * raise IE and store the integer indefinite (only the sign bit set), as the masked response.
 */
export function writeInteger(fpu: Fpu, host: FpuHost, at: number, value: number, bytes: 2 | 4 | 8): void {
  const r = fpu.roundByControl(value);
  const limit = bytes === 2 ? 32768 : bytes === 4 ? 2147483648 : TWO_POW_63;
  const ok = r >= -limit && r < limit; // false for NaN too
  // An unrepresentable value is an invalid operation only; PE belongs to representable results.
  if (ok) fpu.noteRounding(value, r);
  else fpu.signal(SW_IE);
  if (bytes === 2) host.write16(at, ok ? r & 0xffff : 0x8000);
  else if (bytes === 4) host.write32(at, ok ? r | 0 : 0x80000000);
  else {
    let lo = 0;
    let hi = 0x80000000;
    if (ok) {
      hi = Math.floor(r / TWO_POW_32);
      lo = r - hi * TWO_POW_32;
    }
    host.write32(at, lo >>> 0);
    host.write32(at + 4, hi | 0);
  }
}

/** FBLD: 18 BCD digits in bytes 0..8 (low digit first), sign in bit 7 of byte 9. */
export function readBcd(host: FpuHost, at: number): number {
  let value = 0;
  for (let i = 8; i >= 0; i--) {
    const b = host.read8(at + i);
    // Invalid digits (A-F) give an undefined result on hardware; this model takes them at face value.
    value = value * 100 + (b >>> 4) * 10 + (b & 15);
  }
  return host.read8(at + 9) & 0x80 ? -value : value;
}

/** FBSTP: rounds per RC; out of range or NaN raises IE and stores the BCD indefinite. */
export function writeBcd(fpu: Fpu, host: FpuHost, at: number, value: number): void {
  const r = fpu.roundByControl(value);
  if (!(Math.abs(r) < 1e18)) {
    fpu.signal(SW_IE);
    for (let i = 0; i < 7; i++) host.write8(at + i, 0);
    host.write8(at + 7, 0xc0);
    host.write8(at + 8, 0xff);
    host.write8(at + 9, 0xff);
    return;
  }
  fpu.noteRounding(value, r);
  let rest = Math.abs(r);
  for (let i = 0; i < 9; i++) {
    const two = rest % 100;
    rest = Math.floor(rest / 100);
    host.write8(at + i, ((Math.floor(two / 10) << 4) | (two % 10)) & 0xff);
  }
  host.write8(at + 9, r < 0 || Object.is(r, -0) ? 0x80 : 0);
}
