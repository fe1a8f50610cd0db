// The SSE2 integer instructions on XMM registers (SDM Vol. 2, PADD..PXOR, 66 0F 60-FE): lane-wise
// arithmetic, saturation, compares, multiplies, averages, sums of differences, packs, unpacks and
// shifts. Each computes into the TMP slot from the destination `dst` and the source `src` slots
// (either may be the other), so the caller commits whole registers.
import { TMP, type SseState } from './state.js';

const T8 = TMP * 16;
const T16 = TMP * 8;
const T32 = TMP * 4;

function satS8(v: number): number {
  return v > 127 ? 127 : v < -128 ? -128 : v;
}
function satU8(v: number): number {
  return v > 255 ? 255 : v < 0 ? 0 : v;
}
function satS16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}
function satU16(v: number): number {
  return v > 65535 ? 65535 : v < 0 ? 0 : v;
}

/** 64-bit lane add or subtract on dword pairs (PADDQ, PSUBQ). */
function addQuad(s: SseState, a: number, b: number, t: number, subtract: boolean): void {
  const u = s.u32;
  const bl = subtract ? (~u[b] + 1) >>> 0 : u[b];
  const bh = subtract ? (~u[b + 1] + (u[b] === 0 ? 1 : 0)) >>> 0 : u[b + 1];
  const lo = u[a] + bl;
  u[t] = lo;
  u[t + 1] = u[a + 1] + bh + (lo > 0xffffffff ? 1 : 0);
}

/** The unsigned 32 x 32 -> 64-bit product into dwords t, t+1 (PMULUDQ), exactly in 16-bit limbs. */
function multiplyQuad(s: SseState, a: number, b: number, t: number): void {
  const x = s.u32[a];
  const y = s.u32[b];
  const low = (x & 0xffff) * y;
  const high = (x >>> 16) * y;
  const sum = low + (high % 65536) * 65536;
  s.u32[t] = sum;
  s.u32[t + 1] = Math.floor(high / 65536) + Math.floor(sum / 4294967296);
}

/**
 * 66 0F `op` (60-6D, 74-76, D1-FE except the moves, conversions and shifts by immediate) on slots
 * dst, src into TMP. False for an opcode that is not one of these.
 */
export function integerOp(s: SseState, op: number, dst: number, src: number): boolean {
  const u8 = s.u8;
  const i8 = s.i8;
  const u16 = s.u16;
  const i16 = s.i16;
  const i32 = s.i32;
  const a8 = dst * 16;
  const b8 = src * 16;
  const a16 = dst * 8;
  const b16 = src * 8;
  const a32 = dst * 4;
  const b32 = src * 4;
  switch (op) {
    case 0x60: case 0x68: {
      const h = op === 0x68 ? 8 : 0;
      for (let i = 0; i < 8; i++) {
        u8[T8 + 2 * i] = u8[a8 + h + i];
        u8[T8 + 2 * i + 1] = u8[b8 + h + i];
      }
      return true;
    }
    case 0x61: case 0x69: {
      const h = op === 0x69 ? 4 : 0;
      for (let i = 0; i < 4; i++) {
        u16[T16 + 2 * i] = u16[a16 + h + i];
        u16[T16 + 2 * i + 1] = u16[b16 + h + i];
      }
      return true;
    }
    case 0x62: case 0x6a: {
      const h = op === 0x6a ? 2 : 0;
      for (let i = 0; i < 2; i++) {
        i32[T32 + 2 * i] = i32[a32 + h + i];
        i32[T32 + 2 * i + 1] = i32[b32 + h + i];
      }
      return true;
    }
    case 0x6c: case 0x6d: {
      const h = op === 0x6d ? 2 : 0;
      i32[T32] = i32[a32 + h];
      i32[T32 + 1] = i32[a32 + h + 1];
      i32[T32 + 2] = i32[b32 + h];
      i32[T32 + 3] = i32[b32 + h + 1];
      return true;
    }
    case 0x63: case 0x67:
      for (let i = 0; i < 8; i++) {
        i8[T8 + i] = op === 0x63 ? satS8(i16[a16 + i]) : satU8(i16[a16 + i]);
        i8[T8 + 8 + i] = op === 0x63 ? satS8(i16[b16 + i]) : satU8(i16[b16 + i]);
      }
      return true;
    case 0x6b:
      for (let i = 0; i < 4; i++) {
        i16[T16 + i] = satS16(i32[a32 + i]);
        i16[T16 + 4 + i] = satS16(i32[b32 + i]);
      }
      return true;
    case 0x64: for (let i = 0; i < 16; i++) u8[T8 + i] = i8[a8 + i] > i8[b8 + i] ? 0xff : 0; return true;
    case 0x65: for (let i = 0; i < 8; i++) u16[T16 + i] = i16[a16 + i] > i16[b16 + i] ? 0xffff : 0; return true;
    case 0x66: for (let i = 0; i < 4; i++) i32[T32 + i] = i32[a32 + i] > i32[b32 + i] ? -1 : 0; return true;
    case 0x74: for (let i = 0; i < 16; i++) u8[T8 + i] = u8[a8 + i] === u8[b8 + i] ? 0xff : 0; return true;
    case 0x75: for (let i = 0; i < 8; i++) u16[T16 + i] = u16[a16 + i] === u16[b16 + i] ? 0xffff : 0; return true;
    case 0x76: for (let i = 0; i < 4; i++) i32[T32 + i] = i32[a32 + i] === i32[b32 + i] ? -1 : 0; return true;
    case 0xd4: case 0xfb:
      addQuad(s, a32, b32, T32, op === 0xfb);
      addQuad(s, a32 + 2, b32 + 2, T32 + 2, op === 0xfb);
      return true;
    case 0xd5: for (let i = 0; i < 8; i++) u16[T16 + i] = Math.imul(i16[a16 + i], i16[b16 + i]); return true;
    case 0xe5: for (let i = 0; i < 8; i++) u16[T16 + i] = Math.imul(i16[a16 + i], i16[b16 + i]) >> 16; return true;
    case 0xe4: for (let i = 0; i < 8; i++) u16[T16 + i] = Math.floor((u16[a16 + i] * u16[b16 + i]) / 65536); return true;
    case 0xf4:
      multiplyQuad(s, a32, b32, T32);
      multiplyQuad(s, a32 + 2, b32 + 2, T32 + 2);
      return true;
    case 0xf5:
      for (let i = 0; i < 4; i++) {
        i32[T32 + i] = i16[a16 + 2 * i] * i16[b16 + 2 * i] + i16[a16 + 2 * i + 1] * i16[b16 + 2 * i + 1];
      }
      return true;
    case 0xf6:
      for (let q = 0; q < 2; q++) {
        let sum = 0;
        for (let i = 0; i < 8; i++) sum += Math.abs(u8[a8 + 8 * q + i] - u8[b8 + 8 * q + i]);
        i32[T32 + 2 * q] = sum;
        i32[T32 + 2 * q + 1] = 0;
      }
      return true;
    case 0xd8: for (let i = 0; i < 16; i++) u8[T8 + i] = satU8(u8[a8 + i] - u8[b8 + i]); return true;
    case 0xd9: for (let i = 0; i < 8; i++) u16[T16 + i] = satU16(u16[a16 + i] - u16[b16 + i]); return true;
    case 0xdc: for (let i = 0; i < 16; i++) u8[T8 + i] = satU8(u8[a8 + i] + u8[b8 + i]); return true;
    case 0xdd: for (let i = 0; i < 8; i++) u16[T16 + i] = satU16(u16[a16 + i] + u16[b16 + i]); return true;
    case 0xe8: for (let i = 0; i < 16; i++) i8[T8 + i] = satS8(i8[a8 + i] - i8[b8 + i]); return true;
    case 0xe9: for (let i = 0; i < 8; i++) i16[T16 + i] = satS16(i16[a16 + i] - i16[b16 + i]); return true;
    case 0xec: for (let i = 0; i < 16; i++) i8[T8 + i] = satS8(i8[a8 + i] + i8[b8 + i]); return true;
    case 0xed: for (let i = 0; i < 8; i++) i16[T16 + i] = satS16(i16[a16 + i] + i16[b16 + i]); return true;
    case 0xda: for (let i = 0; i < 16; i++) u8[T8 + i] = Math.min(u8[a8 + i], u8[b8 + i]); return true;
    case 0xde: for (let i = 0; i < 16; i++) u8[T8 + i] = Math.max(u8[a8 + i], u8[b8 + i]); return true;
    case 0xea: for (let i = 0; i < 8; i++) i16[T16 + i] = Math.min(i16[a16 + i], i16[b16 + i]); return true;
    case 0xee: for (let i = 0; i < 8; i++) i16[T16 + i] = Math.max(i16[a16 + i], i16[b16 + i]); return true;
    case 0xe0: for (let i = 0; i < 16; i++) u8[T8 + i] = (u8[a8 + i] + u8[b8 + i] + 1) >> 1; return true;
    case 0xe3: for (let i = 0; i < 8; i++) u16[T16 + i] = (u16[a16 + i] + u16[b16 + i] + 1) >> 1; return true;
    case 0xdb: for (let i = 0; i < 4; i++) i32[T32 + i] = i32[a32 + i] & i32[b32 + i]; return true;
    case 0xdf: for (let i = 0; i < 4; i++) i32[T32 + i] = ~i32[a32 + i] & i32[b32 + i]; return true;
    case 0xeb: for (let i = 0; i < 4; i++) i32[T32 + i] = i32[a32 + i] | i32[b32 + i]; return true;
    case 0xef: for (let i = 0; i < 4; i++) i32[T32 + i] = i32[a32 + i] ^ i32[b32 + i]; return true;
    case 0xf8: for (let i = 0; i < 16; i++) u8[T8 + i] = u8[a8 + i] - u8[b8 + i]; return true;
    case 0xf9: for (let i = 0; i < 8; i++) u16[T16 + i] = u16[a16 + i] - u16[b16 + i]; return true;
    case 0xfa: for (let i = 0; i < 4; i++) i32[T32 + i] = (i32[a32 + i] - i32[b32 + i]) | 0; return true;
    case 0xfc: for (let i = 0; i < 16; i++) u8[T8 + i] = u8[a8 + i] + u8[b8 + i]; return true;
    case 0xfd: for (let i = 0; i < 8; i++) u16[T16 + i] = u16[a16 + i] + u16[b16 + i]; return true;
    case 0xfe: for (let i = 0; i < 4; i++) i32[T32 + i] = (i32[a32 + i] + i32[b32 + i]) | 0; return true;
    default: return false;
  }
}

/**
 * Shifts of slot `r` into TMP: `kind` 0 logical right, 1 arithmetic right, 2 left; `width` 16, 32
 * or 64 bits per lane; the count (a 64-bit value hi:lo) beyond the lane width clears the lane (or
 * fills it with the sign for arithmetic shifts).
 */
export function shiftLanes(s: SseState, r: number, kind: number, width: number, countLo: number, countHi: number): void {
  const big = countHi !== 0 || countLo >>> 0 >= width;
  const n = big ? width : countLo;
  if (width === 16) {
    for (let i = 0; i < 8; i++) {
      const v = s.i16[r * 8 + i];
      s.i16[T16 + i] = kind === 1 ? v >> (n > 15 ? 15 : n) : big ? 0 : kind === 0 ? (v & 0xffff) >>> n : v << n;
    }
  } else if (width === 32) {
    for (let i = 0; i < 4; i++) {
      const v = s.i32[r * 4 + i];
      s.i32[T32 + i] = kind === 1 ? v >> (n > 31 ? 31 : n) : big ? 0 : kind === 0 ? v >>> n : v << n;
    }
  } else {
    for (let q = 0; q < 2; q++) {
      const lo = s.i32[r * 4 + 2 * q];
      const hi = s.i32[r * 4 + 2 * q + 1];
      let rl = 0;
      let rh = 0;
      if (!big && n === 0) {
        rl = lo;
        rh = hi;
      } else if (!big && kind === 0) {
        rl = n < 32 ? (lo >>> n) | (hi << (32 - n)) : hi >>> (n - 32);
        rh = n < 32 ? hi >>> n : 0;
      } else if (!big) {
        rh = n < 32 ? (hi << n) | (lo >>> (32 - n)) : lo << (n - 32);
        rl = n < 32 ? lo << n : 0;
      }
      s.i32[T32 + 2 * q] = rl;
      s.i32[T32 + 2 * q + 1] = rh;
    }
  }
}

/** PSRLDQ / PSLLDQ: the whole register by `n` bytes into TMP. */
export function shiftBytes(s: SseState, r: number, left: boolean, n: number): void {
  for (let i = 0; i < 16; i++) {
    const from = left ? i - n : i + n;
    s.u8[T8 + i] = from >= 0 && from < 16 ? s.u8[r * 16 + from] : 0;
  }
}
