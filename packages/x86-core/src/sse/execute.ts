// SSE and SSE2 instructions (SDM Vol. 2; opcode map Vol. 2 Table A-3, 0F 10-17, 28-2F, 50-7F, C2-C6,
// D1-FE): decoded by mandatory prefix (none, 66, F3, F2: SDM Vol. 2, 2.1.2 — F2/F3 over 66), from
// either decoder through `access.ts`. The MMX-register forms (no 66 on the integer opcodes,
// CVTPI2PS, MOVQ2DQ...) raise #UD: this CPU has no MMX.
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { CF, PF, ZF } from '../flags.js';
import { d } from '../long/decode-state.js';
import { checkCanonical, probeWrite, writeLinear } from '../long/memory.js';
import { linearAt } from '../long/operands.js';
import {
  decodeModrm, fetchByte, gprHi, loadMemory, readGpr, readIntegerSource, rexW, storeMemory, sx, writeGpr,
  writeIntegerDestination,
} from './access.js';
import { exactInt64, exactValue } from './exact.js';
import { integerOp, shiftBytes, shiftLanes } from './integer.js';
import {
  FINITE, OP_SQRT, QNAN, R_INDEFINITE, R_QUIET_A, R_QUIET_B, R_RAW_A, R_RAW_B, SNAN, acc, beginLanes,
  binaryLane, classDouble, classSingle, classify, compareLane, integer, lane, orderLanes, out, roundExact, toInteger,
  toSingle,
} from './lanes.js';
import { HAS_IMM, SSE_OPCODE } from './opcodes.js';
import { group15 } from './state-save.js';
import { MX_DE, MX_IE, MX_UE, SRC, TMP, type SseState } from './state.js';

const CR0_EM = 4;
const CR0_TS = 8;
const CR4_OSFXSR = 1 << 9;
const CR4_OSXMMEXCPT = 1 << 10;

/** The SSE availability checks (SDM Vol. 3A 13.1.4): CR0.EM or no CR4.OSFXSR #UD, then CR0.TS #NM. */
export function requireSse(cpu: Cpu): void {
  if (cpu.cr0 & CR0_EM || !(cpu.cr4 & CR4_OSFXSR)) throwFault(6);
  if (cpu.cr0 & CR0_TS) throwFault(7);
}

/**
 * The lanes' flags into MXCSR; an unmasked one raises #XM (or #UD without CR4.OSXMMEXCPT) before
 * the destination changes. An unmasked pre-computation exception (IE, DE, ZE) reports only those.
 */
function signal(cpu: Cpu): void {
  const st = cpu.sse;
  const masks = (st.mxcsr >> 7) & 0x3f;
  if (acc.pre & ~masks) {
    st.mxcsr |= acc.pre;
    simdFault(cpu);
  }
  if (acc.tiny && !(masks & MX_UE)) acc.post |= MX_UE;
  st.mxcsr |= acc.pre | acc.post;
  if (acc.post & ~masks) simdFault(cpu);
}

function simdFault(cpu: Cpu): never {
  return throwFault(cpu.cr4 & CR4_OSXMMEXCPT ? 19 : 6);
}

/** Copies `dwords` dwords of TMP to register `r`. */
function commit(st: SseState, r: number, dwords: number): void {
  const i32 = st.i32;
  for (let i = 0; i < dwords; i++) i32[r * 4 + i] = i32[TMP * 4 + i];
}

/** The r/m XMM operand: a register slot, or SRC with `bytes` of memory loaded (`aligned`: #GP rule). */
function xmmSource(cpu: Cpu, bytes: number, aligned: boolean): number {
  if (!sx.memory) return sx.rm;
  loadMemory(cpu, bytes, aligned);
  return SRC;
}

function copy(st: SseState, to: number, from: number, dwords: number): void {
  const i32 = st.i32;
  for (let i = 0; i < dwords; i++) i32[to + i] = i32[from + i];
}

/** Writes one lane result of `binaryLane` to lane `t` (single: u32 index; double: f64 index). */
function writeLane(st: SseState, single: boolean, kind: number, t: number, ia: number, ib: number): void {
  const u = st.u32;
  if (single) {
    switch (kind) {
      case R_QUIET_A: u[t] = u[ia] | 0x400000; return;
      case R_QUIET_B: u[t] = u[ib] | 0x400000; return;
      case R_RAW_B: u[t] = u[ib]; return;
      case R_RAW_A: u[t] = u[ia]; return;
      case R_INDEFINITE: u[t] = 0xffc00000; return;
      default: st.f32[t] = out.v; return;
    }
  }
  switch (kind) {
    case R_QUIET_A: u[2 * t] = u[2 * ia]; u[2 * t + 1] = u[2 * ia + 1] | 0x80000; return;
    case R_QUIET_B: u[2 * t] = u[2 * ib]; u[2 * t + 1] = u[2 * ib + 1] | 0x80000; return;
    case R_RAW_B: u[2 * t] = u[2 * ib]; u[2 * t + 1] = u[2 * ib + 1]; return;
    case R_RAW_A: u[2 * t] = u[2 * ia]; u[2 * t + 1] = u[2 * ia + 1]; return;
    case R_INDEFINITE: u[2 * t] = 0; u[2 * t + 1] = 0xfff80000; return;
    default: st.f64[t] = out.v; return;
  }
}

/** ADD/MUL/SUB/MIN/DIV/MAX/SQRT in the form the prefix picks (PS, PD, SS, SD). */
function arithmetic(cpu: Cpu, op: number): void {
  const st = cpu.sse;
  const single = sx.pfx === 0 || sx.pfx === 2;
  const packed = sx.pfx < 2;
  const lanes = packed ? (single ? 4 : 2) : 1;
  requireSse(cpu);
  const src = xmmSource(cpu, packed ? 16 : single ? 4 : 8, packed);
  const dst = sx.reg;
  const kind = op === 0x51 ? OP_SQRT : op & 7;
  const per = single ? 4 : 2;
  beginLanes(st);
  for (let l = 0; l < lanes; l++) {
    const r = binaryLane(st, kind, single, dst * per + l, src * per + l);
    writeLane(st, single, r, TMP * per + l, dst * per + l, src * per + l);
  }
  signal(cpu);
  commit(st, dst, packed ? 4 : single ? 1 : 2);
}

/** CMPPS/CMPPD/CMPSS/CMPSD xmm, xmm/m, imm8 (predicate imm8[2:0]). */
function compare(cpu: Cpu): void {
  const st = cpu.sse;
  const single = sx.pfx === 0 || sx.pfx === 2;
  const packed = sx.pfx < 2;
  const lanes = packed ? (single ? 4 : 2) : 1;
  const predicate = fetchByte(cpu) & 7;
  requireSse(cpu);
  const src = xmmSource(cpu, packed ? 16 : single ? 4 : 8, packed);
  const dst = sx.reg;
  const per = single ? 4 : 2;
  beginLanes(st);
  for (let l = 0; l < lanes; l++) {
    const v = compareLane(st, predicate, single, dst * per + l, src * per + l) ? -1 : 0;
    if (single) st.i32[TMP * 4 + l] = v;
    else st.i32[TMP * 4 + 2 * l] = st.i32[TMP * 4 + 2 * l + 1] = v;
  }
  signal(cpu);
  commit(st, dst, packed ? 4 : single ? 1 : 2);
}

/** COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF from the order; OF, SF, AF cleared. */
function compareFlags(cpu: Cpu, signaling: boolean): void {
  const st = cpu.sse;
  const single = sx.pfx === 0;
  requireSse(cpu);
  const src = xmmSource(cpu, single ? 4 : 8, false);
  beginLanes(st);
  const per = single ? 4 : 2;
  const order = orderLanes(st, signaling, single, sx.reg * per, src * per);
  signal(cpu);
  cpu.setArith(order === 3 ? ZF | PF | CF : order === 2 ? ZF : order === 1 ? CF : 0);
}

/** ANDPS ANDNPS ORPS XORPS (and PD): bitwise, no exceptions. */
function logical(cpu: Cpu, op: number): void {
  const st = cpu.sse;
  requireSse(cpu);
  const src = xmmSource(cpu, 16, true);
  const dst = sx.reg;
  const i32 = st.i32;
  for (let i = 0; i < 4; i++) {
    const a = i32[dst * 4 + i];
    const b = i32[src * 4 + i];
    i32[TMP * 4 + i] = op === 0x54 ? a & b : op === 0x55 ? ~a & b : op === 0x56 ? a | b : a ^ b;
  }
  commit(st, dst, 4);
}

/** The quiet double of single lane `i` (SNaN: invalid) into double lane `t`, or the value. */
function singleToDouble(st: SseState, i: number, t: number): void {
  const c = classSingle(st, i);
  if (c >= QNAN) {
    if (c === SNAN) acc.pre |= MX_IE;
    const b = st.u32[i] | 0x400000;
    st.u32[2 * t + 1] = (b & 0x80000000) | 0x7ff00000 | ((b & 0x7fffff) >>> 3);
    st.u32[2 * t] = (b & 7) << 29;
    return;
  }
  if (lane.denormal) acc.pre |= MX_DE;
  st.f64[t] = lane.v;
}

/** Double lane `i` rounded to single lane `t` (NaN: quieted, its payload's top bits kept). */
function doubleToSingle(st: SseState, i: number, t: number): void {
  const c = classDouble(st, i);
  if (c >= QNAN) {
    if (c === SNAN) acc.pre |= MX_IE;
    const hi = st.u32[2 * i + 1];
    st.u32[t] = (hi & 0x80000000) | 0x7fc00000 | ((hi & 0xfffff) << 3) | (st.u32[2 * i] >>> 29);
    return;
  }
  if (lane.denormal) acc.pre |= MX_DE;
  st.f32[t] = c === FINITE ? toSingle(lane.v) : lane.v;
}

/** A 32- or 64-bit integer (hi:lo) rounded to single or double lane `t`. */
function integerToFloat(st: SseState, lo: number, hi: number, single: boolean, t: number): void {
  let v: number;
  if (lo === 0 && hi === 0) v = 0;
  else if (hi === lo >> 31) {
    exactValue(lo);
    v = single ? roundExact(true) : lo;
  } else {
    exactInt64(lo, hi);
    v = roundExact(single);
  }
  if (single) st.f32[t] = v;
  else st.f64[t] = v;
}

/** 0F 5A: CVTPS2PD, CVTPD2PS, CVTSS2SD, CVTSD2SS. */
function convertPrecision(cpu: Cpu): void {
  const st = cpu.sse;
  requireSse(cpu);
  const src = xmmSource(cpu, sx.pfx === 0 ? 8 : sx.pfx === 1 ? 16 : sx.pfx === 2 ? 4 : 8, sx.pfx === 1);
  const dst = sx.reg;
  beginLanes(st);
  switch (sx.pfx) {
    case 0: singleToDouble(st, src * 4, TMP * 2); singleToDouble(st, src * 4 + 1, TMP * 2 + 1); break;
    case 1:
      doubleToSingle(st, src * 2, TMP * 4);
      doubleToSingle(st, src * 2 + 1, TMP * 4 + 1);
      st.i32[TMP * 4 + 2] = st.i32[TMP * 4 + 3] = 0;
      break;
    case 2: singleToDouble(st, src * 4, TMP * 2); break;
    default: doubleToSingle(st, src * 2, TMP * 4); break;
  }
  signal(cpu);
  commit(st, dst, sx.pfx < 2 ? 4 : sx.pfx === 2 ? 2 : 1);
}

/** 0F 5B: CVTDQ2PS, CVTPS2DQ (66), CVTTPS2DQ (F3). */
function convertDwords(cpu: Cpu): void {
  const st = cpu.sse;
  if (sx.pfx === 3) throwFault(6);
  requireSse(cpu);
  const src = xmmSource(cpu, 16, true);
  beginLanes(st);
  for (let l = 0; l < 4; l++) {
    if (sx.pfx === 0) integerToFloat(st, st.i32[src * 4 + l], st.i32[src * 4 + l] >> 31, true, TMP * 4 + l);
    else {
      const c = classSingle(st, src * 4 + l);
      toInteger(c, lane.v, false, sx.pfx === 2);
      st.i32[TMP * 4 + l] = integer.lo;
    }
  }
  signal(cpu);
  commit(st, sx.reg, 4);
}

/** 0F E6: CVTTPD2DQ (66), CVTDQ2PD (F3), CVTPD2DQ (F2). */
function convertE6(cpu: Cpu): void {
  const st = cpu.sse;
  if (sx.pfx === 0) throwFault(6);
  requireSse(cpu);
  const src = xmmSource(cpu, sx.pfx === 2 ? 8 : 16, sx.pfx !== 2);
  beginLanes(st);
  if (sx.pfx === 2) {
    st.f64[TMP * 2] = st.i32[src * 4];
    st.f64[TMP * 2 + 1] = st.i32[src * 4 + 1];
  } else {
    for (let l = 0; l < 2; l++) {
      const c = classDouble(st, src * 2 + l);
      toInteger(c, lane.v, false, sx.pfx === 1);
      st.i32[TMP * 4 + l] = integer.lo;
    }
    st.i32[TMP * 4 + 2] = st.i32[TMP * 4 + 3] = 0;
  }
  signal(cpu);
  commit(st, sx.reg, 4);
}

/** F3/F2 0F 2A: CVTSI2SS/CVTSI2SD xmm, r/m32 (r/m64 with REX.W). */
function convertFromInteger(cpu: Cpu): void {
  const st = cpu.sse;
  if (sx.pfx < 2) throwFault(6); // CVTPI2PS/CVTPI2PD take an MMX register
  const wide = rexW();
  requireSse(cpu);
  const lo = readIntegerSource(cpu, wide);
  const hi = wide ? gprHi.v : lo >> 31;
  beginLanes(st);
  const single = sx.pfx === 2;
  integerToFloat(st, lo, hi, single, single ? TMP * 4 : TMP * 2);
  signal(cpu);
  commit(st, sx.reg, single ? 1 : 2);
}

/** F3/F2 0F 2C/2D: CVTTSS2SI, CVTSS2SI, CVTTSD2SI, CVTSD2SI r32/r64, xmm/m. */
function convertToInteger(cpu: Cpu, truncate: boolean): void {
  const st = cpu.sse;
  if (sx.pfx < 2) throwFault(6);
  const single = sx.pfx === 2;
  const wide = rexW();
  requireSse(cpu);
  const src = xmmSource(cpu, single ? 4 : 8, false);
  beginLanes(st);
  const c = classify(st, single, single ? src * 4 : src * 2);
  toInteger(c, lane.v, wide, truncate);
  signal(cpu);
  writeGpr(cpu, sx.reg, integer.lo, integer.hi, wide);
}

/** RCPPS/RCPSS and RSQRTPS/RSQRTSS: within 1.5 * 2^-12 (these give the correctly rounded value). */
function reciprocal(cpu: Cpu, root: boolean): void {
  const st = cpu.sse;
  if (sx.pfx === 1 || sx.pfx === 3) throwFault(6);
  const packed = sx.pfx === 0;
  requireSse(cpu);
  const src = xmmSource(cpu, packed ? 16 : 4, packed);
  const lanes = packed ? 4 : 1;
  const u = st.u32;
  for (let l = 0; l < lanes; l++) {
    const i = src * 4 + l;
    const t = TMP * 4 + l;
    const b = u[i];
    // No MXCSR flags; denormal inputs count as zeros and tiny results flush to zero (SDM "RCPPS").
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) u[t] = b | 0x400000;
    else if ((b & 0x7f800000) === 0) u[t] = (b & 0x80000000) | 0x7f800000;
    else if (root && b >>> 31) u[t] = 0xffc00000;
    else {
      const v = st.f32[i];
      const r = Math.fround(root ? 1 / Math.sqrt(v) : 1 / v);
      st.f32[t] = Math.abs(r) < 1.1754943508222875e-38 ? (r < 0 ? -0 : 0) : r;
    }
  }
  commit(st, sx.reg, packed ? 4 : 1);
}

/** SHUFPS / SHUFPD xmm, xmm/m128, imm8. */
function shuffleFloat(cpu: Cpu): void {
  const st = cpu.sse;
  if (sx.pfx > 1) throwFault(6);
  const imm = fetchByte(cpu);
  requireSse(cpu);
  const src = xmmSource(cpu, 16, true);
  const dst = sx.reg;
  const i32 = st.i32;
  if (sx.pfx === 0) {
    i32[TMP * 4] = i32[dst * 4 + (imm & 3)];
    i32[TMP * 4 + 1] = i32[dst * 4 + ((imm >> 2) & 3)];
    i32[TMP * 4 + 2] = i32[src * 4 + ((imm >> 4) & 3)];
    i32[TMP * 4 + 3] = i32[src * 4 + ((imm >> 6) & 3)];
  } else {
    copy(st, TMP * 4, dst * 4 + (imm & 1) * 2, 2);
    copy(st, TMP * 4 + 2, src * 4 + ((imm >> 1) & 1) * 2, 2);
  }
  commit(st, dst, 4);
}

/** UNPCKLPS/UNPCKHPS/UNPCKLPD/UNPCKHPD. */
function unpackFloat(cpu: Cpu, high: boolean): void {
  const st = cpu.sse;
  if (sx.pfx > 1) throwFault(6);
  requireSse(cpu);
  const src = xmmSource(cpu, 16, true);
  const dst = sx.reg;
  const i32 = st.i32;
  const h = high ? 2 : 0;
  if (sx.pfx === 0) {
    i32[TMP * 4] = i32[dst * 4 + h];
    i32[TMP * 4 + 1] = i32[src * 4 + h];
    i32[TMP * 4 + 2] = i32[dst * 4 + h + 1];
    i32[TMP * 4 + 3] = i32[src * 4 + h + 1];
  } else {
    copy(st, TMP * 4, dst * 4 + h, 2);
    copy(st, TMP * 4 + 2, src * 4 + h, 2);
  }
  commit(st, dst, 4);
}

/** PSHUFD (66), PSHUFHW (F3), PSHUFLW (F2) xmm, xmm/m128, imm8. */
function shuffleInteger(cpu: Cpu): void {
  const st = cpu.sse;
  if (sx.pfx === 0) throwFault(6);
  const imm = fetchByte(cpu);
  requireSse(cpu);
  const src = xmmSource(cpu, 16, true);
  if (sx.pfx === 1) {
    for (let i = 0; i < 4; i++) st.i32[TMP * 4 + i] = st.i32[src * 4 + ((imm >> (2 * i)) & 3)];
  } else {
    const h = sx.pfx === 2 ? 4 : 0; // the shuffled half; the other is copied
    copy(st, TMP * 4 + (h === 4 ? 0 : 2), src * 4 + (h === 4 ? 0 : 2), 2);
    for (let i = 0; i < 4; i++) st.u16[TMP * 8 + h + i] = st.u16[src * 8 + h + ((imm >> (2 * i)) & 3)];
  }
  commit(st, sx.reg, 4);
}

/** 66 0F 71/72/73: shifts of the r/m register by imm8 (group 12, 13, 14). */
function shiftImmediate(cpu: Cpu, op: number): void {
  const st = cpu.sse;
  const g = (sx.modrm >> 3) & 7;
  const imm = fetchByte(cpu);
  if (sx.pfx !== 1 || sx.memory) throwFault(6);
  const r = sx.rm;
  if (op === 0x73 && (g === 3 || g === 7)) {
    requireSse(cpu);
    shiftBytes(st, r, g === 7, imm > 16 ? 16 : imm);
  } else {
    const kind = g === 2 ? 0 : g === 4 ? 1 : g === 6 ? 2 : -1;
    if (kind < 0 || (op === 0x73 && kind === 1)) throwFault(6);
    requireSse(cpu);
    shiftLanes(st, r, kind, op === 0x71 ? 16 : op === 0x72 ? 32 : 64, imm, 0);
  }
  commit(st, r, 4);
}

/** Moves of whole registers and of their halves and lanes (0F 10-17, 28, 29, 2B, 6E-7F, D6, E7). */
function move(cpu: Cpu, op: number): void {
  const st = cpu.sse;
  const i32 = st.i32;
  const p = sx.pfx;
  const reg = sx.reg;
  switch (op) {
    case 0x10: case 0x28: case 0x6f: {
      if (op === 0x28 && p > 1) throwFault(6);
      if (op === 0x6f && p < 1) throwFault(6);
      if (op === 0x6f && p === 3) throwFault(6);
      requireSse(cpu);
      if (op === 0x10 && p >= 2) {
        // MOVSS/MOVSD: from memory the rest is zeroed, from a register it is kept.
        const dwords = p === 2 ? 1 : 2;
        if (sx.memory) {
          loadMemory(cpu, dwords * 4, false);
          for (let i = 0; i < 4; i++) i32[reg * 4 + i] = i < dwords ? i32[SRC * 4 + i] : 0;
        } else copy(st, reg * 4, sx.rm * 4, dwords);
        return;
      }
      const aligned = op === 0x28 || (op === 0x6f && p === 1);
      const src = xmmSource(cpu, 16, aligned);
      copy(st, reg * 4, src * 4, 4);
      return;
    }
    case 0x11: case 0x29: case 0x7f: {
      if (op === 0x29 && p > 1) throwFault(6);
      if (op === 0x7f && (p === 0 || p === 3)) throwFault(6);
      requireSse(cpu);
      const dwords = op === 0x11 && p === 2 ? 1 : op === 0x11 && p === 3 ? 2 : 4;
      if (sx.memory) storeMemory(cpu, reg, 0, dwords * 4, op === 0x29 || (op === 0x7f && p === 1));
      else copy(st, sx.rm * 4, reg * 4, dwords);
      return;
    }
    case 0x12: case 0x16: {
      if (p > 1 || (p === 1 && !sx.memory)) throwFault(6); // F3/F2 forms are SSE3
      requireSse(cpu);
      const to = op === 0x12 ? 0 : 2;
      if (sx.memory) {
        loadMemory(cpu, 8, false);
        copy(st, reg * 4 + to, SRC * 4, 2);
      } else copy(st, reg * 4 + to, sx.rm * 4 + (op === 0x12 ? 2 : 0), 2); // MOVHLPS, MOVLHPS
      return;
    }
    case 0x13: case 0x17:
      if (p > 1 || !sx.memory) throwFault(6);
      requireSse(cpu);
      storeMemory(cpu, reg, op === 0x13 ? 0 : 8, 8, false);
      return;
    case 0x2b: case 0xe7:
      if (!sx.memory || (op === 0x2b ? p > 1 : p !== 1)) throwFault(6);
      requireSse(cpu);
      storeMemory(cpu, reg, 0, 16, true);
      return;
    case 0x6e: {
      if (p !== 1) throwFault(6);
      const wide = rexW();
      requireSse(cpu);
      const lo = readIntegerSource(cpu, wide);
      const hi = wide ? gprHi.v : 0;
      i32[reg * 4] = lo;
      i32[reg * 4 + 1] = hi;
      i32[reg * 4 + 2] = i32[reg * 4 + 3] = 0;
      return;
    }
    case 0x7e: {
      if (p === 2) {
        // MOVQ xmm, xmm/m64: the high qword is zeroed.
        requireSse(cpu);
        const src = xmmSource(cpu, 8, false);
        copy(st, TMP * 4, src * 4, 2);
        i32[TMP * 4 + 2] = i32[TMP * 4 + 3] = 0;
        commit(st, reg, 4);
        return;
      }
      if (p !== 1) throwFault(6);
      const wide = rexW();
      requireSse(cpu);
      writeIntegerDestination(cpu, i32[reg * 4], wide ? i32[reg * 4 + 1] : 0, wide);
      return;
    }
    default: {
      // 66 0F D6: MOVQ xmm/m64, xmm.
      if (p !== 1) throwFault(6);
      requireSse(cpu);
      if (sx.memory) storeMemory(cpu, reg, 0, 8, false);
      else {
        copy(st, sx.rm * 4, reg * 4, 2);
        i32[sx.rm * 4 + 2] = i32[sx.rm * 4 + 3] = 0;
      }
    }
  }
}

/** MOVMSKPS, MOVMSKPD (0F 50) and PMOVMSKB (66 0F D7): sign bits to a general register. */
function moveMask(cpu: Cpu, op: number): void {
  const st = cpu.sse;
  if (sx.memory || (op === 0x50 ? sx.pfx > 1 : sx.pfx !== 1)) throwFault(6);
  requireSse(cpu);
  const r = sx.rm;
  let mask = 0;
  if (op === 0xd7) for (let i = 0; i < 16; i++) mask |= (st.u8[r * 16 + i] >> 7) << i;
  else if (sx.pfx === 0) for (let i = 0; i < 4; i++) mask |= (st.u32[r * 4 + i] >>> 31) << i;
  else mask = (st.u32[r * 4 + 1] >>> 31) | ((st.u32[r * 4 + 3] >>> 31) << 1);
  writeGpr(cpu, sx.reg, mask, 0, sx.long);
}

/** PINSRW xmm, r32/m16, imm8 and PEXTRW r32, xmm, imm8 (66 0F C4/C5). */
function insertExtractWord(cpu: Cpu, op: number): void {
  const st = cpu.sse;
  if (sx.pfx !== 1) throwFault(6);
  const imm = fetchByte(cpu) & 7;
  if (op === 0xc5) {
    if (sx.memory) throwFault(6);
    requireSse(cpu);
    writeGpr(cpu, sx.reg, st.u16[sx.rm * 8 + imm], 0, sx.long);
    return;
  }
  requireSse(cpu);
  let v: number;
  if (sx.memory) {
    loadMemory(cpu, 2, false);
    v = st.u16[SRC * 8];
  } else v = readGpr(cpu, sx.rm, false);
  st.u16[sx.reg * 8 + imm] = v;
}

/** 66 0F F7: MASKMOVDQU xmm1, xmm2 — the bytes of xmm1 whose mask byte's top bit is set, to DS:rDI. */
function maskedStore(cpu: Cpu): void {
  const st = cpu.sse;
  if (sx.pfx !== 1 || sx.memory) throwFault(6);
  requireSse(cpu);
  const data = sx.reg;
  const mask = sx.rm;
  let any = 0;
  for (let i = 0; i < 16; i++) any |= st.u8[mask * 16 + i] & 0x80;
  if (any === 0) return;
  copy(st, SRC * 4, data * 4, 4);
  // The 16 bytes are checked for a write before any selected byte lands; unselected ones are untouched.
  if (sx.long) {
    maskedStoreLong(cpu, mask);
    return;
  }
  cpu.eaSeg = cpu.segOverride >= 0 ? cpu.segOverride : 3;
  cpu.eaOff = cpu.addrSize32 ? cpu.reg32[7] : cpu.reg32[7] & 0xffff;
  cpu.probeWrite(cpu.eaSeg, cpu.eaOff, 16);
  for (let i = 0; i < 16; i++) {
    if (st.u8[mask * 16 + i] & 0x80) {
      const off = cpu.addrSize32 ? (cpu.eaOff + i) | 0 : (cpu.eaOff + i) & 0xffff;
      cpu.write8(cpu.eaSeg, off, st.u8[SRC * 16 + i]);
    }
  }
}

function maskedStoreLong(cpu: Cpu, mask: number): void {
  const st = cpu.sse;
  const lo = cpu.reg32[7];
  const hi = d.addr32 ? 0 : cpu.regHi[7];
  const linear = linearAt(cpu, lo, hi, false);
  checkCanonical(linear + 15, false);
  probeWrite(cpu, linear);
  probeWrite(cpu, linear + 15);
  for (let i = 0; i < 16; i++) {
    if (st.u8[mask * 16 + i] & 0x80) writeLinear(cpu, linear + i, 1, st.u8[SRC * 16 + i]);
  }
}

/** 32-bit code (protected, real, v86 and compatibility mode): false when `op` is not an SSE opcode. */
export function sse32(cpu: Cpu, op: number): boolean {
  if (!SSE_OPCODE[op]) return false;
  sx.long = false;
  sx.pfx = cpu.rep === 0xf3 ? 2 : cpu.rep === 0xf2 ? 3 : cpu.opSize32 !== cpu.code32 ? 1 : 0;
  sx.wide = false;
  run(cpu, op);
  return true;
}

/** 64-bit mode. */
export function sse64(cpu: Cpu, op: number): boolean {
  if (!SSE_OPCODE[op]) return false;
  sx.long = true;
  sx.pfx = d.rep === 0xf3 ? 2 : d.rep === 0xf2 ? 3 : d.p66 ? 1 : 0;
  sx.wide = (d.rex & 8) !== 0;
  run(cpu, op);
  return true;
}

function run(cpu: Cpu, op: number): void {
  decodeModrm(cpu, HAS_IMM[op]);
  if (op === 0xae) {
    group15(cpu);
    return;
  }
  execute(cpu, op);
}

function execute(cpu: Cpu, op: number): void {
  const st = cpu.sse;
  switch (op) {
    case 0x10: case 0x11: case 0x12: case 0x13: case 0x16: case 0x17: case 0x28: case 0x29: case 0x2b:
    case 0x6e: case 0x6f: case 0x7e: case 0x7f: case 0xd6: case 0xe7:
      move(cpu, op);
      return;
    case 0x14: case 0x15: unpackFloat(cpu, op === 0x15); return;
    case 0x2a: convertFromInteger(cpu); return;
    case 0x2c: case 0x2d: convertToInteger(cpu, op === 0x2c); return;
    case 0x2e: case 0x2f:
      if (sx.pfx > 1) throwFault(6);
      compareFlags(cpu, op === 0x2f);
      return;
    case 0x50: case 0xd7: moveMask(cpu, op); return;
    case 0x51: case 0x58: case 0x59: case 0x5c: case 0x5d: case 0x5e: case 0x5f: arithmetic(cpu, op); return;
    case 0x52: case 0x53: reciprocal(cpu, op === 0x52); return;
    case 0x54: case 0x55: case 0x56: case 0x57:
      if (sx.pfx > 1) throwFault(6);
      logical(cpu, op);
      return;
    case 0x5a: convertPrecision(cpu); return;
    case 0x5b: convertDwords(cpu); return;
    case 0x70: shuffleInteger(cpu); return;
    case 0x71: case 0x72: case 0x73: shiftImmediate(cpu, op); return;
    case 0xc2: compare(cpu); return;
    case 0xc3: {
      // MOVNTI m32/m64, r32/r64 (NP): an integer store, no SSE state (so no CR0/CR4 checks).
      if (sx.pfx !== 0 || !sx.memory) throwFault(6);
      const wide = rexW();
      writeIntegerDestination(cpu, readGpr(cpu, sx.reg, wide), gprHi.v, wide);
      return;
    }
    case 0xc4: case 0xc5: insertExtractWord(cpu, op); return;
    case 0xc6: shuffleFloat(cpu); return;
    case 0xe6: convertE6(cpu); return;
    case 0xf7: maskedStore(cpu); return;
    case 0xd1: case 0xd2: case 0xd3: case 0xe1: case 0xe2: case 0xf1: case 0xf2: case 0xf3: {
      if (sx.pfx !== 1) throwFault(6);
      requireSse(cpu);
      const src = xmmSource(cpu, 16, true);
      const kind = op < 0xe0 ? 0 : op < 0xf0 ? 1 : 2;
      shiftLanes(st, sx.reg, kind, 16 << ((op & 3) - 1), st.i32[src * 4], st.i32[src * 4 + 1]);
      commit(st, sx.reg, 4);
      return;
    }
    default: {
      if (sx.pfx !== 1) throwFault(6); // the MMX forms
      requireSse(cpu);
      const src = xmmSource(cpu, 16, true);
      if (!integerOp(st, op, sx.reg, src)) throwFault(6);
      commit(st, sx.reg, 4);
    }
  }
}
