// x87 instruction semantics for the escape opcodes D8..DF (SDM vol. 2 "FPU instructions"; opcode map
// in vol. 2 appendix A.5). The CPU decodes prefixes and the ModRM/effective address, checks CR0.EM/TS
// (#NM) and pending exceptions (#MF, see `needsPendingCheck`), then calls `executeFpu`.
import { fsave, frstor, loadEnvironment, storeEnvironment } from './environment.js';
import {
  Fpu, INDEFINITE, SW_C0, SW_C1, SW_C2, SW_C3, SW_CC, SW_IE, SW_OE, SW_ZE,
} from './fpu.js';
import { FPU_PROTECTED, type FpuHost } from './host.js';
import { partialRemainder, type RemainderResult } from './remainder.js';
import {
  readBcd, readInt16, readInt32, readInt64, readReal32, readReal64, readReal80, writeBcd, writeInteger,
  writeReal32, writeReal64, writeReal80,
} from './operands.js';

/** Result of `executeFpu`: 0 done, or an exception vector the CPU must raise (#UD). */
export type FpuOutcome = 0 | 6;
const UD = 6;

const LOG2_10 = Math.log2(10);
const LOG2_E = Math.LOG2E;
const LOG10_2 = Math.log10(2);
const LN_2 = Math.LN2;
/** Beyond ±2^63 the trigonometric instructions leave the operand alone and set C2. */
const TRIG_LIMIT = 9223372036854775808;

// EFLAGS bits FCMOVcc reads.
const CF = 0x1;
const PF = 0x4;
const ZF = 0x40;

/**
 * Memory operand bytes of each x87 escape (D8-DF) by ModRM reg field (SDM Vol. 1, 8.1.10): 14 is the
 * 16-bit FPU environment (28 with a 32-bit operand size), 94 the 16-bit FSAVE image (108).
 */
const ESC_OPERAND_SIZE = new Uint8Array([
  4, 4, 4, 4, 4, 4, 4, 4, // D8 m32fp
  4, 0, 4, 4, 14, 2, 14, 2, // D9
  4, 4, 4, 4, 4, 4, 4, 4, // DA m32int
  4, 4, 4, 4, 0, 10, 0, 10, // DB
  8, 8, 8, 8, 8, 8, 8, 8, // DC m64fp
  8, 8, 8, 8, 94, 0, 94, 2, // DD
  2, 2, 2, 2, 2, 2, 2, 2, // DE m16int
  2, 2, 2, 2, 10, 8, 10, 8, // DF
]);

/** Bytes the memory form `modrm` (< C0H) of escape `esc` (0-7) reads or writes; 0 for none. */
export function memoryOperandBytes(esc: number, modrm: number, opSize32: boolean): number {
  const size = ESC_OPERAND_SIZE[(esc << 3) | ((modrm >> 3) & 7)];
  if (size > 90) return opSize32 ? size + 14 : size;
  return size === 14 && opSize32 ? 28 : size;
}

/** Memory forms that store: FST/FSTP/FIST/FISTP (/2 /3), FNSTENV/FNSTCW, FSTP m80, FNSAVE/FNSTSW, FBSTP/FISTP m64. */
export function isFpuStore(esc: number, modrm: number): boolean {
  const reg = (modrm >> 3) & 7;
  return (esc & 1) !== 0 && (reg === 2 || reg === 3 || reg >= 6);
}

/**
 * True for instructions that first report a pending unmasked exception (#MF): every x87
 * instruction except the no-wait control forms FNINIT, FNCLEX, FNSTENV, FNSAVE, FNSTSW and FNSTCW.
 */
export function needsPendingCheck(esc: number, modrm: number): boolean {
  const reg = (modrm >>> 3) & 7;
  if (modrm >= 0xc0) {
    if (esc === 3 && (modrm === 0xe2 || modrm === 0xe3)) return false; // FNCLEX, FNINIT
    if (esc === 7 && modrm === 0xe0) return false; // FNSTSW AX
    if (esc === 3 && (modrm === 0xe0 || modrm === 0xe1 || modrm === 0xe4)) return false; // FENI/FDISI/FSETPM
    return true;
  }
  if (esc === 1 && (reg === 6 || reg === 7)) return false; // FNSTENV, FNSTCW
  if (esc === 5 && (reg === 6 || reg === 7)) return false; // FNSAVE, FNSTSW m16
  return true;
}

/** Whether the instruction updates the last-instruction pointers (control instructions do not). */
function isControl(esc: number, modrm: number): boolean {
  const reg = (modrm >>> 3) & 7;
  if (modrm >= 0xc0) return (esc === 3 && modrm >= 0xe0 && modrm <= 0xe4) || (esc === 7 && modrm === 0xe0);
  return (esc === 1 && reg >= 4) || (esc === 5 && reg >= 4);
}

/**
 * Executes one x87 instruction. `esc` is the opcode's low three bits (D8 → 0 … DF → 7); `at` is the
 * memory operand's effective address (ignored for register forms); `mode` holds FPU_OPSIZE32 and
 * FPU_PROTECTED; `ip`/`cs` locate the instruction for FSTENV's pointers.
 */
export function executeFpu(
  fpu: Fpu, host: FpuHost, esc: number, modrm: number, at: number, mode: number, ip: number, cs: number,
): FpuOutcome {
  if (!isControl(esc, modrm)) {
    fpu.fop = ((esc & 7) << 8) | modrm;
    fpu.fip = ip >>> 0;
    fpu.fcs = cs & 0xffff;
    if (modrm < 0xc0) {
      // Like FIP, a real-address (or virtual-8086) FDP is the operand's linear address (SDM Vol. 1
      // 8.1.10, Figures 8-10/8-11: FSTENV/FSAVE store its bits 31/19-16 above the low word).
      fpu.fdp = mode & FPU_PROTECTED ? at >>> 0 : (host.dataBase() + at) >>> 0;
      fpu.fds = host.dataSelector() & 0xffff;
    }
  }
  return modrm < 0xc0 ? memoryForm(fpu, host, esc & 7, (modrm >>> 3) & 7, at, mode) : registerForm(fpu, host, esc & 7, modrm);
}

function memoryForm(fpu: Fpu, host: FpuHost, esc: number, reg: number, at: number, mode: number): FpuOutcome {
  switch (esc) {
    case 0: arith(fpu, reg, 0, readReal32(host, at), false); return 0;
    case 2: arith(fpu, reg, 0, readInt32(host, at), false); return 0;
    case 4: arith(fpu, reg, 0, readReal64(host, at), false); return 0;
    case 6: arith(fpu, reg, 0, readInt16(host, at), false); return 0;
    case 1:
      switch (reg) {
        case 0: fpu.push(readReal32(host, at)); return 0;
        case 2: writeReal32(host, at, storeValue(fpu)); return 0;
        case 3: writeReal32(host, at, storeValue(fpu)); fpu.pop(); return 0;
        case 4: loadEnvironment(fpu, host, at, mode); return 0;
        case 5: fpu.cw = host.read16(at) & 0x1f7f | 0x40; fpu.updateSummary(); return 0;
        case 6: storeEnvironment(fpu, host, at, mode); fpu.cw |= 0x3f; fpu.updateSummary(); return 0;
        case 7: host.write16(at, fpu.cw); return 0;
        default: return UD;
      }
    case 3:
      switch (reg) {
        case 0: fpu.push(readInt32(host, at)); return 0;
        case 2: writeInteger(fpu, host, at, storeValue(fpu), 4); return 0;
        case 3: writeInteger(fpu, host, at, storeValue(fpu), 4); fpu.pop(); return 0;
        case 5: fpu.push(readReal80(host, at)); return 0;
        case 7: writeReal80(host, at, storeValue(fpu)); fpu.pop(); return 0;
        default: return UD; // /1 FISTTP is SSE3; /4 and /6 are reserved
      }
    case 5:
      switch (reg) {
        case 0: fpu.push(readReal64(host, at)); return 0;
        case 2: writeReal64(host, at, storeValue(fpu)); return 0;
        case 3: writeReal64(host, at, storeValue(fpu)); fpu.pop(); return 0;
        case 4: frstor(fpu, host, at, mode); return 0;
        case 6: fsave(fpu, host, at, mode); return 0;
        case 7: host.write16(at, fpu.statusWord); return 0;
        default: return UD;
      }
    case 7:
      switch (reg) {
        case 0: fpu.push(readInt16(host, at)); return 0;
        case 2: writeInteger(fpu, host, at, storeValue(fpu), 2); return 0;
        case 3: writeInteger(fpu, host, at, storeValue(fpu), 2); fpu.pop(); return 0;
        case 4: fpu.push(readBcd(host, at)); return 0;
        case 5: fpu.push(readInt64(host, at)); return 0;
        case 6: writeBcd(fpu, host, at, storeValue(fpu)); fpu.pop(); return 0;
        case 7: writeInteger(fpu, host, at, storeValue(fpu), 8); fpu.pop(); return 0;
        default: return UD;
      }
  }
  return UD;
}

/** ST(0) for a store; an empty register is a stack underflow (IE) and stores the indefinite. */
function storeValue(fpu: Fpu): number {
  return fpu.st(0);
}

function registerForm(fpu: Fpu, host: FpuHost, esc: number, modrm: number): FpuOutcome {
  const reg = (modrm >>> 3) & 7;
  const i = modrm & 7;
  switch (esc) {
    case 0: arith(fpu, reg, 0, fpu.st(i), false); return 0;
    case 4: arith(fpu, reg, i, fpu.st(0), true); return 0;
    case 6:
      if (reg === 3) {
        if (i !== 1) return UD;
        compare(fpu, fpu.st(0), fpu.st(1), false); fpu.pop(); fpu.pop(); return 0; // FCOMPP
      }
      // FADDP…FDIVP pop; so does DE D0+i, an undocumented alias of FCOMP.
      arith(fpu, reg, i, fpu.st(0), true);
      fpu.pop();
      return 0;
    case 1: return d9Register(fpu, reg, i, modrm);
    case 2:
      if (reg < 4) { fcmov(fpu, host, reg, false, i); return 0; }
      if (modrm === 0xe9) { compare(fpu, fpu.st(0), fpu.st(1), true); fpu.pop(); fpu.pop(); return 0; } // FUCOMPP
      return UD;
    case 3:
      if (reg < 4) { fcmov(fpu, host, reg, true, i); return 0; }
      if (reg === 4) {
        if (modrm === 0xe2) { fpu.sw &= ~0x80ff; return 0; } // FNCLEX
        if (modrm === 0xe3) { fpu.reset(); return 0; } // FNINIT
        if (modrm === 0xe0 || modrm === 0xe1 || modrm === 0xe4) return 0; // FENI/FDISI/FSETPM: no-ops since the 387
        return UD;
      }
      if (reg === 5) { compareToFlags(fpu, host, i, true); return 0; } // FUCOMI
      if (reg === 6) { compareToFlags(fpu, host, i, false); return 0; } // FCOMI
      return UD;
    case 5:
      switch (reg) {
        case 0: fpu.empty[(fpu.top + i) & 7] = 1; return 0; // FFREE
        case 1: fxch(fpu, i); return 0; // undocumented alias of FXCH
        case 2: fpu.setSt(i, fpu.st(0)); return 0; // FST ST(i)
        case 3: fpu.setSt(i, fpu.st(0)); fpu.pop(); return 0; // FSTP ST(i)
        case 4: compare(fpu, fpu.st(0), fpu.st(i), true); return 0; // FUCOM
        case 5: compare(fpu, fpu.st(0), fpu.st(i), true); fpu.pop(); return 0; // FUCOMP
        default: return UD;
      }
    case 7:
      switch (reg) {
        case 0: fpu.empty[(fpu.top + i) & 7] = 1; fpu.pop(); return 0; // FFREEP
        case 1: fxch(fpu, i); return 0;
        case 2: case 3: fpu.setSt(i, fpu.st(0)); fpu.pop(); return 0; // FSTP aliases
        case 4:
          if (modrm !== 0xe0) return UD;
          host.setAx(fpu.statusWord); return 0; // FNSTSW AX
        case 5: compareToFlags(fpu, host, i, true); fpu.pop(); return 0; // FUCOMIP
        case 6: compareToFlags(fpu, host, i, false); fpu.pop(); return 0; // FCOMIP
        default: return UD;
      }
  }
  return UD;
}

/**
 * The eight arithmetic operations selected by ModRM.reg: FADD, FMUL, FCOM, FCOMP, FSUB, FSUBR, FDIV,
 * FDIVR with ST(dest) as destination. `reversedForm` is the DC/DE register encoding, in which the
 * SUB/SUBR and DIV/DIVR pairs swap meaning (SDM vol. 2, FSUB/FDIV opcode tables).
 */
function arith(fpu: Fpu, reg: number, dest: number, src: number, reversedForm: boolean): void {
  const d = fpu.st(dest);
  if (reg === 2 || reg === 3) {
    // The DC/DE register forms are aliases that still compare ST(0) with ST(i).
    if (reversedForm) compare(fpu, src, d, false);
    else compare(fpu, d, src, false);
    if (reg === 3) fpu.pop();
    return;
  }
  fpu.sw &= ~SW_C1;
  let op = reg;
  if (reversedForm && reg >= 4) op ^= 1;
  let r: number;
  switch (op) {
    case 0: r = d + src; break;
    case 1: r = d * src; break;
    case 4: r = d - src; break;
    case 5: r = src - d; break;
    case 6: r = divide(fpu, d, src); break;
    default: r = divide(fpu, src, d); break;
  }
  fpu.setSt(dest, checkResult(fpu, r, d, src));
}

function divide(fpu: Fpu, a: number, b: number): number {
  if (b === 0 && a === a && a !== 0 && Number.isFinite(a)) fpu.signal(SW_ZE);
  return a / b;
}

/** Flags IE for an invalid operation (NaN out of non-NaN inputs) and OE for overflow to ∞. */
function checkResult(fpu: Fpu, r: number, a: number, b: number): number {
  if (r !== r) {
    if (a === a && b === b) fpu.signal(SW_IE);
    return INDEFINITE;
  }
  if (!Number.isFinite(r) && Number.isFinite(a) && Number.isFinite(b) && !(fpu.sw & SW_ZE)) fpu.signal(SW_OE);
  return r;
}

/** FCOM/FUCOM family: C3 C2 C0 = 000 greater, 001 less, 100 equal, 111 unordered. */
function compare(fpu: Fpu, a: number, b: number, unordered: boolean): void {
  fpu.sw &= ~SW_CC;
  if (a !== a || b !== b) {
    // Every NaN is quiet in float64: FUCOM accepts it, FCOM signals invalid.
    if (!unordered) fpu.signal(SW_IE);
    fpu.sw |= SW_C3 | SW_C2 | SW_C0;
  } else if (a < b) fpu.sw |= SW_C0;
  else if (a === b) fpu.sw |= SW_C3;
}

function compareToFlags(fpu: Fpu, host: FpuHost, i: number, unordered: boolean): void {
  const a = fpu.st(0);
  const b = fpu.st(i);
  fpu.sw &= ~SW_C1;
  if (a !== a || b !== b) {
    if (!unordered) fpu.signal(SW_IE);
    host.setCompareFlags(true, true, true);
  } else host.setCompareFlags(a === b, false, a < b);
}

/** FCMOVcc: B, E, BE, U (DA) and their negations (DB). */
function fcmov(fpu: Fpu, host: FpuHost, cond: number, negate: boolean, i: number): void {
  const f = host.getEflags();
  let take: boolean;
  switch (cond) {
    case 0: take = (f & CF) !== 0; break;
    case 1: take = (f & ZF) !== 0; break;
    case 2: take = (f & (CF | ZF)) !== 0; break;
    default: take = (f & PF) !== 0; break;
  }
  const v = fpu.st(i);
  if (take !== negate) fpu.setSt(0, v);
}

function fxch(fpu: Fpu, i: number): void {
  const a = fpu.st(0);
  const b = fpu.st(i);
  fpu.sw &= ~SW_C1;
  fpu.setSt(0, b);
  fpu.setSt(i, a);
}

function d9Register(fpu: Fpu, reg: number, i: number, modrm: number): FpuOutcome {
  switch (reg) {
    case 0: fpu.push(fpu.st(i)); return 0; // FLD ST(i): read before the push moves TOP
    case 1: fxch(fpu, i); return 0;
    case 2: return modrm === 0xd0 ? 0 : UD; // FNOP
    case 3: fpu.setSt(i, fpu.st(0)); fpu.pop(); return 0; // FSTP1 alias
  }
  switch (modrm) {
    case 0xe0: fpu.setSt(0, -fpu.st(0)); return 0; // FCHS
    case 0xe1: fpu.setSt(0, Math.abs(fpu.st(0))); return 0; // FABS
    case 0xe4: compare(fpu, fpu.st(0), 0, false); return 0; // FTST
    case 0xe5: examine(fpu); return 0; // FXAM
    case 0xe8: fpu.push(1); return 0;
    case 0xe9: fpu.push(LOG2_10); return 0;
    case 0xea: fpu.push(LOG2_E); return 0;
    case 0xeb: fpu.push(Math.PI); return 0;
    case 0xec: fpu.push(LOG10_2); return 0;
    case 0xed: fpu.push(LN_2); return 0;
    case 0xee: fpu.push(0); return 0;
    case 0xf0: unary(fpu, 2 ** fpu.st(0) - 1); return 0; // F2XM1 (defined for −1 ≤ x ≤ 1)
    case 0xf1: binaryPop(fpu, fpu.st(1) * Math.log2(fpu.st(0))); return 0; // FYL2X
    case 0xf2: return trig(fpu, 'tan');
    case 0xf3: binaryPop(fpu, Math.atan2(fpu.st(1), fpu.st(0))); return 0; // FPATAN
    case 0xf4: extract(fpu); return 0; // FXTRACT
    case 0xf5: remainder(fpu, true); return 0; // FPREM1
    case 0xf6: fpu.top = (fpu.top - 1) & 7; fpu.sw &= ~SW_C1; return 0; // FDECSTP
    case 0xf7: fpu.top = (fpu.top + 1) & 7; fpu.sw &= ~SW_C1; return 0; // FINCSTP
    case 0xf8: remainder(fpu, false); return 0; // FPREM
    case 0xf9: binaryPop(fpu, fpu.st(1) * Math.log2(fpu.st(0) + 1)); return 0; // FYL2XP1
    case 0xfa: { // FSQRT
      const x = fpu.st(0);
      if (x < 0) fpu.signal(SW_IE);
      unary(fpu, x < 0 ? INDEFINITE : Math.sqrt(x));
      return 0;
    }
    case 0xfb: return trig(fpu, 'sincos');
    case 0xfc: fpu.setSt(0, fpu.roundToInteger(fpu.st(0))); return 0; // FRNDINT (C1 from rounding)
    case 0xfd: { // FSCALE: ST(0) · 2^trunc(ST(1))
      const x = fpu.st(0);
      const y = fpu.st(1);
      unary(fpu, checkResult(fpu, scaleBy(x, Math.trunc(y)), x, y));
      return 0;
    }
    case 0xfe: return trig(fpu, 'sin');
    case 0xff: return trig(fpu, 'cos');
  }
  return UD;
}

function unary(fpu: Fpu, value: number): void {
  fpu.sw &= ~SW_C1;
  fpu.setSt(0, value);
}

/** Writes ST(1) and pops (FYL2X, FYL2XP1, FPATAN). */
function binaryPop(fpu: Fpu, value: number): void {
  fpu.sw &= ~SW_C1;
  if (value !== value && fpu.st(0) === fpu.st(0) && fpu.st(1) === fpu.st(1)) fpu.signal(SW_IE);
  fpu.setSt(1, value);
  fpu.pop();
}

/** Beyond this, any finite non-zero float64 has saturated to ∞ or 0: keeps the loop below bounded. */
const SCALE_LIMIT = 70000;

function scaleBy(x: number, n: number): number {
  if (n !== n) return NaN;
  if (x === 0 || !Number.isFinite(x)) return n === Infinity && x === 0 ? NaN : n === -Infinity && !Number.isFinite(x) ? NaN : x;
  n = Math.max(-SCALE_LIMIT, Math.min(SCALE_LIMIT, n));
  // Split large exponents so 2^n itself never overflows before the product does.
  while (n > 1000) { x *= 2 ** 1000; n -= 1000; }
  while (n < -1000) { x *= 2 ** -1000; n += 1000; }
  return x * 2 ** n;
}

function trig(fpu: Fpu, kind: 'sin' | 'cos' | 'tan' | 'sincos'): FpuOutcome {
  const x = fpu.st(0);
  fpu.sw &= ~(SW_C1 | SW_C2);
  if (Math.abs(x) >= TRIG_LIMIT) {
    fpu.sw |= SW_C2; // operand out of range: left unchanged for the program to reduce
    return 0;
  }
  if (!Number.isFinite(x)) {
    if (x === x) fpu.signal(SW_IE);
    fpu.setSt(0, INDEFINITE);
    if (kind === 'tan' || kind === 'sincos') fpu.push(INDEFINITE);
    return 0;
  }
  switch (kind) {
    case 'sin': fpu.setSt(0, Math.sin(x)); break;
    case 'cos': fpu.setSt(0, Math.cos(x)); break;
    case 'tan': fpu.setSt(0, Math.tan(x)); fpu.push(1); break;
    case 'sincos': fpu.setSt(0, Math.sin(x)); fpu.push(Math.cos(x)); break;
  }
  return 0;
}

/** FXAM: class in C3 C2 C0 (empty 101, zero 100, normal 010, infinity 011, NaN 001), sign in C1. */
function examine(fpu: Fpu): void {
  const r = fpu.top;
  const x = fpu.regs[r];
  fpu.sw &= ~SW_CC;
  if (x < 0 || Object.is(x, -0) || (x !== x && signBit(x))) fpu.sw |= SW_C1;
  if (fpu.empty[r]) fpu.sw |= SW_C3 | SW_C0;
  else if (x === 0) fpu.sw |= SW_C3;
  else if (x !== x) fpu.sw |= SW_C0;
  else if (!Number.isFinite(x)) fpu.sw |= SW_C2 | SW_C0;
  else fpu.sw |= SW_C2;
}

const signView = new DataView(new ArrayBuffer(8));
function signBit(x: number): boolean {
  signView.setFloat64(0, x, true);
  return (signView.getUint8(7) & 0x80) !== 0;
}

/** FXTRACT: ST(0) → its unbiased exponent, then push the significand (1 ≤ |s| < 2). */
function extract(fpu: Fpu): void {
  const x = fpu.st(0);
  fpu.sw &= ~SW_C1;
  if (x === 0) {
    fpu.signal(SW_ZE);
    fpu.setSt(0, -Infinity);
    fpu.push(x);
    return;
  }
  if (!Number.isFinite(x)) {
    fpu.setSt(0, x !== x ? x : Infinity);
    fpu.push(x);
    return;
  }
  let e = Math.floor(Math.log2(Math.abs(x)));
  let s = scaleBy(x, -e);
  // log2 can be off by one ulp near powers of two: normalise exactly.
  if (Math.abs(s) >= 2) { s /= 2; e += 1; } else if (Math.abs(s) < 1) { s *= 2; e -= 1; }
  fpu.setSt(0, e);
  fpu.push(s);
}

const remainderResult: RemainderResult = { value: 0, quotientBits: 0, complete: true };

/** FPREM (quotient truncated, 8087 semantics) and FPREM1 (IEEE, quotient rounded to nearest even). */
function remainder(fpu: Fpu, ieee: boolean): void {
  const x = fpu.st(0);
  const y = fpu.st(1);
  fpu.sw &= ~SW_CC;
  if (x !== x || y !== y || !Number.isFinite(x) || y === 0) {
    if (x === x && y === y) fpu.signal(SW_IE);
    fpu.setSt(0, INDEFINITE);
    return;
  }
  if (!Number.isFinite(y) || x === 0) { fpu.setSt(0, x); return; }
  const out = remainderResult;
  partialRemainder(x, y, ieee, out);
  if (!out.complete) fpu.sw |= SW_C2;
  else {
    // C0, C3, C1 receive quotient bits 2, 1, 0.
    if (out.quotientBits & 4) fpu.sw |= SW_C0;
    if (out.quotientBits & 2) fpu.sw |= SW_C3;
    if (out.quotientBits & 1) fpu.sw |= SW_C1;
  }
  fpu.setSt(0, out.value);
}
