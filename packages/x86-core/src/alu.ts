import type { Cpu } from './cpu.js';
import { throwFault } from './fault.js';
import {
  AF, ARITH, CF, LAZY_ADC, LAZY_ADD, LAZY_LOGIC, LAZY_SBB, LAZY_SUB, OF, PARITY, SF, SIGN_BIT, SIZE_MASK, ZF,
} from './flags.js';

// Integer arithmetic (SDM Vol. 2, one instruction each). Values travel as: bytes and words unsigned,
// dwords as signed int32. `size` is 0 (byte), 1 (word) or 2 (dword).

const BITS = [8, 16, 32];

/** ADD OR ADC SBB AND SUB XOR CMP, in the order of the ModRM reg field of opcodes 80-83. */
export function alu(cpu: Cpu, op: number, a: number, b: number, size: number): number {
  const mask = SIZE_MASK[size];
  let r: number;
  let lazy: number;
  switch (op) {
    case 0: r = a + b; lazy = LAZY_ADD; break;
    case 1: r = a | b; lazy = LAZY_LOGIC; break;
    case 2: {
      const cin = cpu.getCF();
      cpu.flags = (cpu.flags & ~CF) | cin;
      r = a + b + cin;
      lazy = LAZY_ADC;
      break;
    }
    case 3: {
      const cin = cpu.getCF();
      cpu.flags = (cpu.flags & ~CF) | cin;
      r = a - b - cin;
      lazy = LAZY_SBB;
      break;
    }
    case 4: r = a & b; lazy = LAZY_LOGIC; break;
    case 5: r = a - b; lazy = LAZY_SUB; break;
    case 6: r = a ^ b; lazy = LAZY_LOGIC; break;
    default: r = a - b; lazy = LAZY_SUB; break;
  }
  r &= mask;
  storeLazy(cpu, lazy, a, b, r, size, ARITH);
  return op === 7 ? a : size === 2 ? r : r & mask;
}

/** INC and DEC: like ADD/SUB 1, but CF keeps its value. */
export function incDec(cpu: Cpu, a: number, dec: boolean, size: number): number {
  if (cpu.lazyMask & CF) cpu.flags = (cpu.flags & ~CF) | cpu.getCF();
  const r = (dec ? a - 1 : a + 1) & SIZE_MASK[size];
  storeLazy(cpu, dec ? LAZY_SUB : LAZY_ADD, a, 1, r, size, ARITH & ~CF);
  return r;
}

/** Leaves the arithmetic flags named in `mask` lazy: they follow from `op` on `a`, `b` giving `r`. */
export function storeLazy(cpu: Cpu, op: number, a: number, b: number, r: number, size: number, mask: number): void {
  cpu.lazyOp = op;
  cpu.lazyA = a;
  cpu.lazyB = b;
  cpu.lazyRes = r;
  cpu.lazySize = size;
  cpu.lazyMask = mask;
}

function szp(r: number, size: number): number {
  let f = PARITY[r & 0xff];
  if ((r & SIZE_MASK[size]) === 0) f |= ZF;
  if (r & SIGN_BIT[size]) f |= SF;
  return f;
}

/** ROL ROR RCL RCR SHL SHR SAL SAR (group 2). `count` is the raw count; it is masked to 5 bits. */
export function shift(cpu: Cpu, op: number, a: number, count: number, size: number): number {
  count &= 31;
  if (count === 0) return a;
  const bits = BITS[size];
  const mask = SIZE_MASK[size];
  const sign = SIGN_BIT[size];
  // Rotates keep SF/ZF/AF/PF, so they need them materialised; shifts replace all six.
  if (op < 4) cpu.materializeFlags();
  const flags = cpu.flags;
  let r: number;
  let cf: number;
  let of: number;
  switch (op) {
    case 0: { // ROL
      const c = count & (bits - 1);
      r = c === 0 ? a : ((a << c) | ((a & mask) >>> (bits - c))) & mask;
      cf = r & 1;
      of = (r & sign ? 1 : 0) ^ cf;
      cpu.flags = (flags & ~(CF | OF)) | cf | (of ? OF : 0);
      return r;
    }
    case 1: { // ROR
      const c = count & (bits - 1);
      r = c === 0 ? a : (((a & mask) >>> c) | (a << (bits - c))) & mask;
      cf = r & sign ? 1 : 0;
      of = ((r ^ (r << 1)) & sign) !== 0 ? 1 : 0;
      cpu.flags = (flags & ~(CF | OF)) | cf | (of ? OF : 0);
      return r;
    }
    case 2: { // RCL: rotate through CF, a (bits+1)-bit rotation
      const c = size === 2 ? count : count % (bits + 1);
      if (c === 0) return a;
      let v = a & mask;
      let carry = flags & CF;
      for (let i = 0; i < c; i++) {
        const out = v & sign ? 1 : 0;
        v = ((v << 1) | carry) & mask;
        carry = out;
      }
      r = size === 2 ? v | 0 : v;
      of = (r & sign ? 1 : 0) ^ carry;
      cpu.flags = (flags & ~(CF | OF)) | carry | (of ? OF : 0);
      return r;
    }
    case 3: { // RCR
      const c = size === 2 ? count : count % (bits + 1);
      if (c === 0) return a;
      let v = a & mask;
      let carry = flags & CF;
      of = ((v & sign ? 1 : 0) ^ carry);
      for (let i = 0; i < c; i++) {
        const out = v & 1;
        v = ((v & mask) >>> 1) | (carry ? sign : 0);
        v &= mask;
        carry = out;
      }
      r = size === 2 ? v | 0 : v;
      cpu.flags = (flags & ~(CF | OF)) | carry | (of ? OF : 0);
      return r;
    }
    case 4:
    case 6: { // SHL/SAL
      r = (a << count) & mask;
      cf = count <= bits ? ((a << (count - 1)) & sign ? 1 : 0) : 0;
      if (size === 2) cf = (a << (count - 1)) < 0 ? 1 : 0;
      of = (r & sign ? 1 : 0) ^ cf;
      break;
    }
    case 5: { // SHR
      const u = size === 2 ? a >>> 0 : a & mask;
      r = count >= 32 ? 0 : (u >>> count) & mask;
      cf = (u >>> (count - 1)) & 1;
      of = u & sign ? 1 : 0;
      break;
    }
    default: { // SAR
      const s = size === 0 ? (a << 24) >> 24 : size === 1 ? (a << 16) >> 16 : a | 0;
      r = (s >> count) & mask;
      cf = (s >> (count - 1)) & 1;
      of = 0;
      break;
    }
  }
  if (size === 2) r |= 0;
  cpu.setLogicFlags(r, size, cf | (of ? OF : 0));
  return r;
}

/** SHLD (left) and SHRD: shift `a`, filling from `b`. Counts above the operand size leave an undefined result. */
export function doubleShift(cpu: Cpu, left: boolean, a: number, b: number, count: number, size: number): number {
  count &= 31;
  if (count === 0) return a;
  const mask = SIZE_MASK[size];
  const sign = SIGN_BIT[size];
  let r: number;
  let cf: number;
  if (size === 2) {
    if (left) {
      r = (a << count) | (b >>> (32 - count));
      cf = (a >>> (32 - count)) & 1;
    } else {
      r = (a >>> count) | (b << (32 - count));
      cf = (a >>> (count - 1)) & 1;
    }
    r |= 0;
  } else {
    // A 16-bit operand shifts through a 32-bit a:b (SHLD) or b:a (SHRD) pair.
    if (left) {
      const pair = (((a & 0xffff) << 16) | (b & 0xffff)) >>> 0;
      const wide = count <= 16 ? pair : ((pair << 16) | (a & 0xffff)) >>> 0;
      const c = count <= 16 ? count : count - 16;
      r = ((wide << c) >>> 16) & mask;
      cf = ((wide << (c - 1)) >>> 31) & 1;
    } else {
      const pair = (((b & 0xffff) << 16) | (a & 0xffff)) >>> 0;
      const wide = count <= 16 ? pair : ((pair >>> 16) | ((a & 0xffff) << 16)) >>> 0;
      const c = count <= 16 ? count : count - 16;
      r = (wide >>> c) & mask;
      cf = (wide >>> (c - 1)) & 1;
    }
  }
  const of = ((a ^ r) & sign) !== 0 ? OF : 0;
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~ARITH) | cf | of | szp(r, size);
  return r;
}

/** Unsigned 32×32 → 64: high half in `mulHigh`, low half returned. */
export let mulHigh = 0;
export function mul32(a: number, b: number): number {
  const ua = a >>> 0;
  const ub = b >>> 0;
  const a0 = ua & 0xffff;
  const a1 = ua >>> 16;
  const b0 = ub & 0xffff;
  const b1 = ub >>> 16;
  const mid = a1 * b0 + a0 * b1 + ((a0 * b0) >>> 16);
  mulHigh = (a1 * b1 + Math.floor(mid / 65536)) >>> 0;
  return Math.imul(ua, ub);
}

/** MUL r/m: CF=OF=1 when the high half is non-zero. SF/ZF/AF/PF are undefined; we set them from the low half. */
export function mul(cpu: Cpu, src: number, size: number): void {
  const r32 = cpu.reg32;
  let high: number;
  let low: number;
  if (size === 0) {
    const p = cpu.reg8[0] * (src & 0xff);
    cpu.reg16[0] = p;
    high = p >>> 8;
    low = p & 0xff;
  } else if (size === 1) {
    const p = cpu.reg16[0] * (src & 0xffff);
    cpu.reg16[0] = p;
    cpu.reg16[4] = p >>> 16;
    high = p >>> 16;
    low = p & 0xffff;
  } else {
    low = mul32(r32[0], src);
    high = mulHigh;
    r32[0] = low;
    r32[2] = high;
  }
  const c = high !== 0 ? CF | OF : 0;
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~ARITH) | c | szp(low, size);
}

function signExtend(v: number, size: number): number {
  return size === 0 ? (v << 24) >> 24 : size === 1 ? (v << 16) >> 16 : v | 0;
}

/** Signed multiply with truncation to `size`; CF=OF=1 when the product does not fit. Returns the low part. */
export function imulTruncate(cpu: Cpu, a: number, b: number, size: number): number {
  let low: number;
  let fits: boolean;
  if (size === 2) {
    low = Math.imul(a, b);
    // The double product is exact below 2^53 and far from the int32 range above it, so it tells
    // whether the signed result fits.
    const p = (a | 0) * (b | 0);
    fits = p >= -0x80000000 && p <= 0x7fffffff;
  } else {
    const p = signExtend(a, size) * signExtend(b, size);
    low = p & SIZE_MASK[size];
    fits = signExtend(low, size) === p;
  }
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~ARITH) | (fits ? 0 : CF | OF) | szp(low, size);
  return low;
}

/** One-operand IMUL: the full product in AX, DX:AX or EDX:EAX. */
export function imulWide(cpu: Cpu, src: number, size: number): void {
  let fits: boolean;
  let low: number;
  if (size === 0) {
    const p = signExtend(cpu.reg8[0], 0) * signExtend(src, 0);
    cpu.reg16[0] = p;
    low = p & 0xff;
    fits = signExtend(low, 0) === p;
  } else if (size === 1) {
    const p = signExtend(cpu.reg16[0], 1) * signExtend(src, 1);
    cpu.reg16[0] = p;
    cpu.reg16[4] = p >> 16;
    low = p & 0xffff;
    fits = signExtend(low, 1) === p;
  } else {
    const a = cpu.reg32[0];
    low = mul32(a, src);
    let high = mulHigh;
    if (a < 0) high = (high - (src >>> 0)) >>> 0;
    if ((src | 0) < 0) high = (high - (a >>> 0)) >>> 0;
    cpu.reg32[0] = low;
    cpu.reg32[2] = high;
    fits = (high | 0) === (low < 0 ? -1 : 0);
  }
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~ARITH) | (fits ? 0 : CF | OF) | szp(low, size);
}

/** Divides the unsigned 64-bit hi:lo by d (hi < d): quotient returned, remainder in `divRemainder`. */
export let divRemainder = 0;
function divide64(hi: number, lo: number, d: number): number {
  let rem = hi;
  const n1 = rem * 65536 + (lo >>> 16);
  const q1 = Math.floor(n1 / d);
  rem = n1 - q1 * d;
  const n0 = rem * 65536 + (lo & 0xffff);
  const q0 = Math.floor(n0 / d);
  divRemainder = n0 - q0 * d;
  return q1 * 65536 + q0;
}

/** DIV r/m: #DE on a zero divisor or a quotient that does not fit. Flags are undefined; left as they were. */
export function div(cpu: Cpu, src: number, size: number): void {
  if (size === 0) {
    const d = src & 0xff;
    if (d === 0) throwFault(0);
    const n = cpu.reg16[0];
    const q = Math.floor(n / d);
    if (q > 0xff) throwFault(0);
    cpu.reg8[0] = q;
    cpu.reg8[1] = n % d;
  } else if (size === 1) {
    const d = src & 0xffff;
    if (d === 0) throwFault(0);
    const n = cpu.reg16[4] * 65536 + cpu.reg16[0];
    const q = Math.floor(n / d);
    if (q > 0xffff) throwFault(0);
    cpu.reg16[0] = q;
    cpu.reg16[4] = n % d;
  } else {
    const d = src >>> 0;
    if (d === 0) throwFault(0);
    const hi = cpu.reg32[2] >>> 0;
    if (hi >= d) throwFault(0);
    const q = divide64(hi, cpu.reg32[0] >>> 0, d);
    cpu.reg32[0] = q;
    cpu.reg32[2] = divRemainder;
  }
}

/** IDIV r/m: signed, quotient truncated toward zero, remainder takes the dividend's sign. */
export function idiv(cpu: Cpu, src: number, size: number): void {
  if (size === 0) {
    const d = signExtend(src, 0);
    if (d === 0) throwFault(0);
    const n = signExtend(cpu.reg16[0], 1);
    const q = Math.trunc(n / d);
    if (q > 127 || q < -128) throwFault(0);
    cpu.reg8[0] = q;
    cpu.reg8[1] = n % d;
  } else if (size === 1) {
    const d = signExtend(src, 1);
    if (d === 0) throwFault(0);
    const n = ((cpu.reg16[4] << 16) | cpu.reg16[0]) | 0;
    const q = Math.trunc(n / d);
    if (q > 32767 || q < -32768) throwFault(0);
    cpu.reg16[0] = q;
    cpu.reg16[4] = n % d;
  } else {
    const d = src | 0;
    if (d === 0) throwFault(0);
    let hi = cpu.reg32[2] >>> 0;
    let lo = cpu.reg32[0] >>> 0;
    const negative = (hi & 0x80000000) !== 0;
    if (negative) {
      lo = (~lo + 1) >>> 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    }
    const ad = Math.abs(d);
    if (hi >= ad) throwFault(0);
    let q = divide64(hi, lo, ad);
    let rem = divRemainder;
    if (negative !== d < 0) q = -q;
    if (negative) rem = -rem;
    if (q > 0x7fffffff || q < -0x80000000) throwFault(0);
    cpu.reg32[0] = q;
    cpu.reg32[2] = rem;
  }
}

// ---- BCD (SDM Vol. 2, DAA DAS AAA AAS AAM AAD) ----------------------------------------------

/** DAA (after an addition) and DAS (after a subtraction): OF is undefined; left clear. */
export function decimalAdjust(cpu: Cpu, subtract: boolean): void {
  const oldAl = cpu.reg8[0];
  const oldCf = cpu.getCF();
  const step = subtract ? -1 : 1;
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0xf) > 9 || cpu.getAF()) {
    al = (al + 6 * step) & 0xff;
    cf = oldCf | ((subtract ? oldAl < 6 : oldAl + 6 > 0xff) ? 1 : 0);
    af = AF;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60 * step) & 0xff;
    cf = 1;
  }
  cpu.reg8[0] = al;
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~ARITH) | cf | af | szp(al, 0);
}

/** AAA/AAS: OF SF ZF PF are undefined; set from AL here. */
export function aaa(cpu: Cpu, subtract: boolean): void {
  let ax = cpu.reg16[0];
  let f = 0;
  if ((ax & 0xf) > 9 || cpu.getAF()) {
    ax = subtract ? ax - 6 : ax + 0x106;
    if (subtract) ax = (ax & 0xff) | ((((ax >> 8) - 1) & 0xff) << 8);
    f = AF | CF;
  }
  ax &= 0xff0f;
  cpu.reg16[0] = ax;
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~ARITH) | f | szp(ax & 0xff, 0);
}

export function aam(cpu: Cpu, base: number): void {
  if (base === 0) throwFault(0);
  const al = cpu.reg8[0];
  cpu.reg8[1] = Math.floor(al / base);
  const r = al % base;
  cpu.reg8[0] = r;
  cpu.setLogicFlags(r, 0, 0);
}

export function aad(cpu: Cpu, base: number): void {
  const r = (cpu.reg8[0] + cpu.reg8[1] * base) & 0xff;
  cpu.reg16[0] = r;
  cpu.setLogicFlags(r, 0, 0);
}
