// Far CALL, JMP and RET in 64-bit mode (SDM Vol. 2 "CALL", "JMP", "RET", their IA-32e parts; Vol.
// 3A 5.8.3.1): to a code segment at the same level, through a 64-bit call gate (16 bytes; a CALL to
// a more privileged non-conforming segment switches to TSS.RSPn with SS null and pushes SS, RSP, CS
// and RIP as qwords; no parameters are copied), and far returns to the same or an outer level (which
// pop RSP and SS as well). IA-32e mode has no task switches: a TSS or task gate is #GP. Pushes and
// pops have the operand size: 2, 4 or 8 bytes (66h, none, REX.W).
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { GP, NP, SS_FAULT } from '../system/vectors.js';
import { desc, loadFromDesc, loadNullSs, markAccessed, nullInaccessibleSegments, readDescriptor64, tssStack } from './interrupt.js';
import { TWO_32, canonical, readLinear, write64 } from './memory.js';
import { addRsp, peek, popped, push } from './stack.js';

const CS = 1;
const SS = 2;
const TYPE_CALL_GATE = 0xc;

/** The code segment a far transfer goes to, once checked (module state: no allocation per transfer). */
const code = { selector: 0, lo: 0, hi: 0, address: 0 };
/** The target offset, once checked: RIP's dwords. */
const rip = { lo: 0, hi: 0 };

/** Loads RSP with a new 64-bit value (a stack switch). */
function loadRsp(cpu: Cpu, value: number): void {
  const high = Math.floor(value / TWO_32);
  cpu.reg32[4] = (value - high * TWO_32) | 0;
  cpu.regHi[4] = high | 0;
}

/** Pushes CS and the return RIP `ret` (a number), each of `bytes`, on the current stack. */
function pushReturn(cpu: Cpu, ret: number, bytes: number): void {
  const retHi = Math.floor(ret / TWO_32);
  push(cpu, cpu.seg[CS], 0, bytes);
  push(cpu, (ret - retHi * TWO_32) | 0, retHi | 0, bytes);
}

/**
 * Checks the offset hi:lo for the code descriptor in `code`: canonical for a 64-bit segment (#GP(0)),
 * within the limit for a compatibility-mode one (#GP(0)); stores it in `rip`.
 */
function checkOffset(lo: number, hi: number): void {
  const h = code.hi;
  if ((h & 0x600000) === 0x200000) {
    if (canonical(lo, hi) !== canonical(lo, hi)) throwFault(GP, 0);
    rip.lo = lo;
    rip.hi = hi;
    return;
  }
  const raw = (code.lo & 0xffff) | (h & 0xf0000);
  const limit = h & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
  if (lo >>> 0 > limit) throwFault(GP, 0);
  rip.lo = lo;
  rip.hi = 0;
}

/**
 * Reads the code descriptor `selector` names into `code` and checks it as a far CALL/JMP target
 * (`ret` false) or a far RET's (true): a present code segment, not L and D both set, at the level
 * the transfer allows (conforming: DPL ≤ CPL, else DPL = CPL and RPL ≤ CPL; RET: RPL ≥ CPL with
 * DPL ≤ RPL conforming, = RPL otherwise).
 */
function readCode(cpu: Cpu, selector: number, ret: boolean): void {
  const error = selector & 0xfffc;
  if (error === 0) throwFault(GP, 0);
  if (!readDescriptor64(cpu, selector)) throwFault(GP, error);
  const h = desc.hi;
  if ((h & 0x1800) !== 0x1800) throwFault(GP, error);
  const dpl = (h >>> 13) & 3;
  const rpl = selector & 3;
  const conforming = (h & 0x400) !== 0;
  const denied = ret
    ? rpl < cpu.cpl || (conforming ? dpl > rpl : dpl !== rpl)
    : conforming ? dpl > cpu.cpl : dpl !== cpu.cpl || rpl > cpu.cpl;
  if (denied) throwFault(GP, error);
  if ((h & 0x8000) === 0) throwFault(NP, error);
  if ((h & 0x600000) === 0x600000) throwFault(GP, error);
  code.selector = selector;
  code.lo = desc.lo;
  code.hi = h;
  code.address = desc.address;
}

/** Loads CS from `code` with RPL `cpl` (setting the descriptor's accessed bit) and RIP from `rip`. */
function enterCode(cpu: Cpu, cpl: number): void {
  desc.lo = code.lo;
  desc.hi = code.hi;
  desc.address = code.address;
  markAccessed(cpu);
  loadFromDesc(cpu, CS, (code.selector & 0xfffc) | cpl);
  cpu.eip = rip.lo >>> 0;
  cpu.ripHi = rip.hi;
  cpu.codeSizeChanged();
}

/**
 * Far CALL (`ret` = the return RIP as a number) or JMP (`ret` < 0) m16:16/32/64 in 64-bit mode to
 * `selector`:hi:lo, with operand size `bytes`.
 */
export function farCallOrJump64(cpu: Cpu, selector: number, lo: number, hi: number, bytes: number, ret: number): void {
  const error = selector & 0xfffc;
  if (error === 0) throwFault(GP, 0);
  if (!readDescriptor64(cpu, selector)) throwFault(GP, error);
  if ((desc.hi & 0x1000) === 0) {
    throughGate(cpu, selector, ret);
    return;
  }
  readCode(cpu, selector, false);
  checkOffset(lo, bytes === 8 ? hi : 0);
  // A fault on the second push leaves RSP to the run loop, which restores it to the instruction's start.
  if (ret >= 0) pushReturn(cpu, ret, bytes);
  enterCode(cpu, cpu.cpl);
}

/** A far CALL/JMP through the system descriptor in `desc`: only a 64-bit call gate goes anywhere. */
function throughGate(cpu: Cpu, selector: number, ret: number): void {
  const error = selector & 0xfffc;
  const g0 = desc.lo;
  const g1 = desc.hi;
  if (((g1 >>> 8) & 0x1f) !== TYPE_CALL_GATE) throwFault(GP, error);
  const gateDpl = (g1 >>> 13) & 3;
  if (gateDpl < cpu.cpl || gateDpl < (selector & 3)) throwFault(GP, error);
  if ((g1 & 0x8000) === 0) throwFault(NP, error);
  // The upper half: offset bits 63:32, and a type field that must be 0 (no descriptor starts there).
  const limit = (selector & 4 ? cpu.segLimit[6] : cpu.gdtrLimit) >>> 0;
  if ((selector & 0xfff8) + 15 > limit) throwFault(GP, error);
  const g2 = readLinear(cpu, desc.address + 8, 4, true);
  const g3 = readLinear(cpu, desc.address + 12, 4, true);
  if ((g3 & 0x1f00) !== 0) throwFault(GP, error);

  const target = g0 >>> 16;
  const codeError = target & 0xfffc;
  if (codeError === 0) throwFault(GP, 0);
  if (!readDescriptor64(cpu, target)) throwFault(GP, codeError);
  const h = desc.hi;
  const dpl = (h >>> 13) & 3;
  const conforming = (h & 0x400) !== 0;
  if ((h & 0x1800) !== 0x1800) throwFault(GP, codeError);
  if (ret >= 0 ? dpl > cpu.cpl : conforming ? dpl > cpu.cpl : dpl !== cpu.cpl) throwFault(GP, codeError);
  if ((h & 0x600000) !== 0x200000) throwFault(GP, codeError);
  if ((h & 0x8000) === 0) throwFault(NP, codeError);
  code.selector = target;
  code.lo = desc.lo;
  code.hi = h;
  code.address = desc.address;
  const offsetLo = (g0 & 0xffff) | (g1 & 0xffff0000);
  if (canonical(offsetLo, g2) !== canonical(offsetLo, g2)) throwFault(GP, 0);
  rip.lo = offsetLo;
  rip.hi = g2;

  const oldCpl = cpu.cpl;
  if (ret < 0 || conforming || dpl === oldCpl) {
    if (ret >= 0) pushReturn(cpu, ret, 8);
    enterCode(cpu, oldCpl);
    return;
  }
  // To an inner level: the new stack from the TSS, SS null with the new RPL, four qwords pushed.
  const rsp = tssStack(cpu, 4 + dpl * 8, 0);
  const retHi = Math.floor(ret / TWO_32);
  cpu.cpl = dpl;
  try {
    write64(cpu, rsp - 8, cpu.seg[SS], 0, false, true);
    write64(cpu, rsp - 16, cpu.reg32[4], cpu.regHi[4], false, true);
    write64(cpu, rsp - 24, cpu.seg[CS], 0, false, true);
    write64(cpu, rsp - 32, (ret - retHi * TWO_32) | 0, retHi | 0, false, true);
  } catch (e) {
    cpu.cpl = oldCpl;
    throw e;
  }
  loadNullSs(cpu, dpl);
  loadRsp(cpu, rsp - 32);
  enterCode(cpu, dpl);
}

/**
 * Far RET (imm16 `release`) in 64-bit mode with operand size `bytes`: pops RIP and CS, and for a
 * return to an outer level RSP and SS, releasing `release` bytes on each stack.
 */
export function farReturn64(cpu: Cpu, bytes: number, release: number): void {
  const lo = peek(cpu, 0, bytes);
  const hi = popped.hi;
  const selector = peek(cpu, bytes, bytes) & 0xffff;
  readCode(cpu, selector, true);
  const rpl = selector & 3;
  checkOffset(lo, hi);
  if (rpl === cpu.cpl) {
    addRsp(cpu, 2 * bytes + release);
    enterCode(cpu, rpl);
    return;
  }
  const outer = 2 * bytes + release;
  const newRspLo = peek(cpu, outer, bytes);
  const newRspHi = popped.hi;
  const ssSelector = peek(cpu, outer + bytes, bytes) & 0xffff;
  const to64 = (code.hi & 0x600000) === 0x200000;
  let ssLo = 0;
  let ssHi = 0;
  if ((ssSelector & 0xfffc) === 0) {
    // A null SS is only for 64-bit code below ring 3 (SDM Vol. 2 "RET": IA-32e mode).
    if (!to64 || rpl === 3) throwFault(GP, 0);
  } else {
    const ssError = ssSelector & 0xfffc;
    if ((ssSelector & 3) !== rpl || !readDescriptor64(cpu, ssSelector)) throwFault(GP, ssError);
    const h = desc.hi;
    if ((h & 0x1a00) !== 0x1200 || ((h >>> 13) & 3) !== rpl) throwFault(GP, ssError);
    if ((h & 0x8000) === 0) throwFault(SS_FAULT, ssError);
    ssLo = desc.lo;
    ssHi = h;
  }
  cpu.cpl = rpl;
  enterCode(cpu, rpl);
  if ((ssSelector & 0xfffc) === 0) {
    loadNullSs(cpu, rpl);
    cpu.seg[SS] = ssSelector;
  } else {
    desc.lo = ssLo;
    desc.hi = ssHi;
    loadFromDesc(cpu, SS, ssSelector);
  }
  // Loaded as popped (a non-canonical RSP faults at its first use), zero-extended below 8 bytes.
  loadRsp(cpu, (bytes === 8 ? newRspHi : 0) * TWO_32 + (newRspLo >>> 0) + release);
  nullInaccessibleSegments(cpu, rpl);
}
