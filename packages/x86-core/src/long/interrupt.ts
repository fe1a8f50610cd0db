// Interrupt and exception delivery in IA-32e mode (SDM Vol. 3A 6.14): 16-byte IDT gates naming a
// 64-bit code segment, a stack switch to RSPn or to an IST entry of the 64-bit TSS, RSP aligned
// down to 16 bytes, and SS, RSP, RFLAGS, CS, RIP (and the error code) pushed as qwords. Also
// IRET in 64-bit mode, which pops all five whatever the privilege change.
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import type { InterruptKind } from '../system/interrupt.js';
import type { SystemCpu } from '../system/cpu-view.js';
import type { Descriptor } from '../system/descriptor.js';
import { GP, NP, SS_FAULT, TS, pushesErrorCode } from '../system/vectors.js';
import { TWO_32, canonical, checkCanonical, read64, readHi, readLinear, write64, writeLinear } from './memory.js';

const CS = 1;
const SS = 2;
const TR = 7;
const UNUSABLE = 1 << 16;
const FLAG_TF = 1 << 8;
const FLAG_IF = 1 << 9;
const FLAG_IOPL = 3 << 12;
const FLAG_NT = 1 << 14;
const FLAG_RF = 1 << 16;
const FLAG_VM = 1 << 17;
/** RFLAGS bits IRET may load (AC VIF VIP ID and the arithmetic and control flags; not VM in IA-32e mode). */
const IRET_FLAGS = 0x3f7fd5;

/** A descriptor read through the 64-bit GDT base: its two dwords and where it lies. */
export const desc = { lo: 0, hi: 0, address: 0 };

/** The GDT or LDT as a canonical base and a limit. */
function tableBase(cpu: Cpu, selector: number): number {
  if (selector & 4) {
    if ((cpu.segAccess[6] & UNUSABLE) !== 0 || (cpu.seg[6] & 0xfffc) === 0) return NaN;
    return canonical(cpu.segBase[6], cpu.long.segBaseHi[6]);
  }
  return canonical(cpu.gdtrBase, cpu.long.gdtrBaseHi);
}

/** Reads the 8-byte descriptor `selector` names into `desc`; false beyond its table's limit. */
export function readDescriptor64(cpu: Cpu, selector: number): boolean {
  const base = tableBase(cpu, selector);
  const limit = (selector & 4 ? cpu.segLimit[6] : cpu.gdtrLimit) >>> 0;
  const offset = selector & 0xfff8;
  if (base !== base || offset + 7 > limit) return false;
  desc.address = base + offset;
  desc.lo = readLinear(cpu, desc.address, 4, true);
  desc.hi = readLinear(cpu, desc.address + 4, 4, true);
  return true;
}

/** `readDescriptor64` into a system/ Descriptor: LAR/LSL/VERR/VERW in 64-bit mode. */
export function readDescriptorInto64(cpu: SystemCpu, selector: number, into: Descriptor): boolean {
  if (!readDescriptor64(cpu as Cpu, selector)) return false;
  into.lo = desc.lo;
  into.hi = desc.hi;
  into.address = desc.address;
  return true;
}

/** Loads a segment register's cache from `desc` (base bits 63:32 cleared). */
export function loadFromDesc(cpu: Cpu, reg: number, selector: number): void {
  const lo = desc.lo;
  const h = desc.hi;
  cpu.seg[reg] = selector;
  cpu.segBase[reg] = (lo >>> 16) | ((h & 0xff) << 16) | (h & 0xff000000);
  const raw = (lo & 0xffff) | (h & 0xf0000);
  cpu.segLimit[reg] = h & 0x800000 ? (raw << 12) | 0xfff : raw;
  cpu.segAccess[reg] = (h >>> 8) & 0xf0ff;
  cpu.long.segBaseHi[reg] = 0;
  if (reg === CS) cpu.codeSizeChanged();
}

/** Sets the accessed bit of the descriptor in `desc` (its access byte, as system/descriptor.ts does). */
export function markAccessed(cpu: Cpu): void {
  if ((desc.hi & 0x100) === 0) {
    desc.hi |= 0x100;
    writeLinear(cpu, desc.address + 5, 1, (desc.hi >>> 8) & 0xff, true);
  }
}

/** Loads SS with a null selector of RPL `cpl` (IA-32e mode: an inner-level stack needs no descriptor). */
export function loadNullSs(cpu: Cpu, cpl: number): void {
  cpu.seg[SS] = cpl;
  cpu.segBase[SS] = 0;
  cpu.segLimit[SS] = 0;
  cpu.segAccess[SS] = UNUSABLE | (cpl << 5);
  cpu.long.segBaseHi[SS] = 0;
}

/** A code descriptor is a 64-bit one: L = 1 and D = 0. */
function isCode64(h: number): boolean {
  return (h & 0x600000) === 0x200000;
}

/** The qword at byte `offset` of the 64-bit TSS: #TS(TR) beyond its limit, #SS(ext) if not canonical. */
export function tssStack(cpu: Cpu, offset: number, ext: number): number {
  if (offset + 7 > cpu.segLimit[TR] >>> 0) throwFault(TS, (cpu.seg[TR] & 0xfffc) | ext);
  const base = canonical(cpu.segBase[TR], cpu.long.segBaseHi[TR]);
  const lo = read64(cpu, base + offset, true);
  const rsp = canonical(lo, readHi);
  if (rsp !== rsp) throwFault(SS_FAULT, ext);
  return rsp;
}

/**
 * Delivers `vector` through the 64-bit IDT (in 64-bit and compatibility mode). `ext` is the EXT bit
 * for error codes of faults raised while delivering; faults propagate to system/interrupt.ts, which
 * escalates to #DF and triple fault.
 */
export function deliverLong(cpu: Cpu, vector: number, kind: InterruptKind, errorCode: number, ext: number): void {
  const hasErrorCode = kind === 'exception' && pushesErrorCode(vector);
  const software = kind === 'software' || kind === 'int3' || kind === 'into';
  const gateError = vector * 8 + 2 + ext;
  if (vector * 16 + 15 > cpu.idtrLimit >>> 0) throwFault(GP, gateError);
  const gate = canonical(cpu.idtrBase, cpu.long.idtrBaseHi) + vector * 16;
  const g0 = readLinear(cpu, gate, 4, true);
  const g1 = readLinear(cpu, gate + 4, 4, true);
  const g2 = readLinear(cpu, gate + 8, 4, true);
  const g3 = readLinear(cpu, gate + 12, 4, true);
  const type = (g1 >>> 8) & 0x1f;
  if ((type !== 0xe && type !== 0xf) || (g3 & 0x1f00) !== 0) throwFault(GP, gateError);
  if (software && ((g1 >>> 13) & 3) < cpu.cpl) throwFault(GP, vector * 8 + 2);
  if ((g1 & 0x8000) === 0) throwFault(NP, gateError);

  const selector = g0 >>> 16;
  const csError = (selector & 0xfffc) | ext;
  if ((selector & 0xfffc) === 0) throwFault(GP, ext);
  if (!readDescriptor64(cpu, selector)) throwFault(GP, csError);
  const codeHi = desc.hi;
  const dpl = (codeHi >>> 13) & 3;
  if ((codeHi & 0x1800) !== 0x1800 || !isCode64(codeHi) || dpl > cpu.cpl) throwFault(GP, csError);
  if ((codeHi & 0x8000) === 0) throwFault(NP, csError);
  const target = canonical((g0 & 0xffff) | (g1 & 0xffff0000), g2);
  if (target !== target) throwFault(GP, ext);

  const oldCpl = cpu.cpl;
  const newCpl = (codeHi & 0x400) !== 0 ? oldCpl : dpl;
  const ist = g1 & 7;
  const oldRsp = canonical(cpu.reg32[4], cpu.regHi[4]);
  let rsp: number;
  if (ist !== 0) rsp = tssStack(cpu, 0x24 + (ist - 1) * 8, ext);
  else if (newCpl < oldCpl) rsp = tssStack(cpu, 4 + newCpl * 8, ext);
  else {
    rsp = cpu.mode64 ? oldRsp : cpu.reg32[4] >>> 0;
    if (rsp !== rsp) throwFault(SS_FAULT, ext);
  }
  rsp = Math.floor(rsp / 16) * 16;
  const eflags = cpu.getEflags();
  const pushes = hasErrorCode ? 6 : 5;
  const bottom = rsp - pushes * 8;
  checkCanonical(bottom, true);
  // The frame is written at the new privilege level; a fault here leaves every register as it was.
  const savedCpl = cpu.cpl;
  cpu.cpl = newCpl;
  try {
    write64(cpu, rsp - 8, cpu.seg[SS], 0, false, true);
    write64(cpu, rsp - 16, cpu.reg32[4], cpu.mode64 ? cpu.regHi[4] : 0, false, true);
    write64(cpu, rsp - 24, eflags, 0, false, true);
    write64(cpu, rsp - 32, cpu.seg[CS], 0, false, true);
    write64(cpu, rsp - 40, cpu.eip, cpu.ripHi, false, true);
    if (hasErrorCode) write64(cpu, rsp - 48, errorCode, 0, false, true);
  } finally {
    cpu.cpl = savedCpl;
  }
  markAccessed(cpu);
  if (newCpl !== oldCpl) loadNullSs(cpu, newCpl);
  cpu.reg32[4] = bottom | 0;
  cpu.regHi[4] = Math.floor(bottom / TWO_32) | 0;
  cpu.cpl = newCpl;
  let flags = eflags & ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
  if (type === 0xe) flags &= ~FLAG_IF;
  cpu.setEflags(flags);
  loadFromDesc(cpu, CS, (selector & 0xfffc) | newCpl);
  cpu.eip = (g0 & 0xffff) | (g1 & 0xffff0000);
  cpu.eip >>>= 0;
  cpu.ripHi = g2;
  cpu.codeSizeChanged();
}

let itemHi = 0;

/** Item `i` of an IRET frame at `rsp` (high dword of a qword in `itemHi`). */
function popItem(cpu: Cpu, rsp: number, i: number, bytes: 4 | 8): number {
  if (bytes === 8) {
    const lo = read64(cpu, rsp + i * 8, false, true);
    itemHi = readHi;
    return lo;
  }
  itemHi = 0;
  return readLinear(cpu, rsp + i * 4, 4, false, true);
}

/**
 * IRET in 64-bit mode (SDM Vol. 2 "IRET", IA-32e mode): pops RIP, CS, RFLAGS, RSP and SS (items of
 * `bytes`: 8 with REX.W, else 4), to the same or an outer level, 64-bit or compatibility mode.
 */
export function iret64(cpu: Cpu, bytes: 4 | 8): void {
  const rsp = canonical(cpu.reg32[4], cpu.regHi[4]);
  if ((cpu.getEflags() & FLAG_NT) !== 0) throwFault(GP, 0);
  const ripLo = popItem(cpu, rsp, 0, bytes);
  const ripHi = itemHi;
  const csSel = popItem(cpu, rsp, 1, bytes) & 0xffff;
  const flagsImage = popItem(cpu, rsp, 2, bytes);
  const rspLo = popItem(cpu, rsp, 3, bytes);
  const rspHi = itemHi;
  const ssSel = popItem(cpu, rsp, 4, bytes) & 0xffff;

  const rpl = csSel & 3;
  const csError = csSel & 0xfffc;
  if (csError === 0) throwFault(GP, 0);
  if (!readDescriptor64(cpu, csSel)) throwFault(GP, csError);
  const codeHi = desc.hi;
  const codeLo = desc.lo;
  const codeAddress = desc.address;
  const dpl = (codeHi >>> 13) & 3;
  if ((codeHi & 0x1800) !== 0x1800 || rpl < cpu.cpl) throwFault(GP, csError);
  if ((codeHi & 0x400) !== 0 ? dpl > rpl : dpl !== rpl) throwFault(GP, csError);
  if ((codeHi & 0x8000) === 0) throwFault(NP, csError);
  const to64 = isCode64(codeHi);
  if ((codeHi & 0x600000) === 0x600000) throwFault(GP, csError);
  const newRip = to64 ? canonical(ripLo, ripHi) : ripLo >>> 0;
  if (newRip !== newRip) throwFault(GP, 0);

  // SS: null only back to 64-bit mode at an inner level; otherwise a writable data segment at RPL.
  const ssNull = (ssSel & 0xfffc) === 0;
  let ssLo = 0;
  let ssHi = 0;
  let ssAddress = 0;
  if (ssNull) {
    if (!to64 || rpl === 3) throwFault(GP, 0);
  } else {
    if (!readDescriptor64(cpu, ssSel)) throwFault(GP, ssSel & 0xfffc);
    ssLo = desc.lo;
    ssHi = desc.hi;
    ssAddress = desc.address;
    if ((ssSel & 3) !== rpl || (ssHi & 0x1a00) !== 0x1200 || ((ssHi >>> 13) & 3) !== rpl) throwFault(GP, ssSel & 0xfffc);
    if ((ssHi & 0x8000) === 0) throwFault(SS_FAULT, ssSel & 0xfffc);
  }

  // Commit.
  const oldCpl = cpu.cpl;
  const old = cpu.getEflags();
  let mask = IRET_FLAGS;
  if (oldCpl > 0) mask &= ~FLAG_IOPL;
  if (oldCpl > ((old & FLAG_IOPL) >>> 12)) mask &= ~FLAG_IF;
  cpu.setEflags((old & ~mask) | (flagsImage & mask));
  desc.lo = codeLo;
  desc.hi = codeHi;
  desc.address = codeAddress;
  markAccessed(cpu);
  cpu.cpl = rpl;
  loadFromDesc(cpu, CS, csSel);
  if (ssNull) loadNullSs(cpu, rpl);
  else {
    desc.lo = ssLo;
    desc.hi = ssHi;
    desc.address = ssAddress;
    markAccessed(cpu);
    loadFromDesc(cpu, SS, ssSel);
  }
  cpu.reg32[4] = rspLo;
  cpu.regHi[4] = to64 ? rspHi : 0;
  cpu.eip = ripLo >>> 0;
  cpu.ripHi = to64 ? ripHi : 0;
  if (rpl > oldCpl) nullInaccessibleSegments(cpu, rpl);
  cpu.codeSizeChanged();
}

const DATA_SEGMENTS = [0, 3, 4, 5] as const;

/** After a return to an outer level: DS ES FS GS holding data (or non-conforming code) more privileged become null. */
export function nullInaccessibleSegments(cpu: Cpu, cpl: number): void {
  for (let i = 0; i < 4; i++) {
    const s = DATA_SEGMENTS[i];
    const access = cpu.segAccess[s];
    if ((access & UNUSABLE) !== 0) continue;
    const conformingCode = (access & 0x1c) === 0x1c;
    if (!conformingCode && ((access >>> 5) & 3) < cpl) {
      cpu.seg[s] = 0;
      cpu.segAccess[s] = UNUSABLE;
      cpu.segBase[s] = 0;
      cpu.segLimit[s] = 0;
    }
  }
}
