// Two-byte opcodes (0F xx) in 64-bit mode: the system instructions with 64-bit operands and table
// bases, SYSCALL/SYSRET/SWAPGS/RDTSCP, and the integer 0F instructions at every operand size.
import { alu, doubleShift, imulTruncate } from '../alu.js';
import type { Cpu } from '../cpu.js';
import { cpuid } from '../cpuid.js';
import { throwFault } from '../fault.js';
import { ZF } from '../flags.js';
import { readMsr, writeMsr } from '../msr.js';
import { condition } from '../operands.js';
import {
  clearTaskSwitched, loadAccessRights, loadMachineStatusWord, loadSegmentLimit, readControlRegister,
  readDebugRegister, storeMachineStatusWord, verifyRead, verifyWrite, writeControlRegister, writeDebugRegister,
} from '../system/index.js';
import { sse64 } from '../sse/execute.js';
import { alu64, doubleShift64, imulTruncate64, shl64, shr64 } from './alu64.js';
import { d, fetch8, fetch32 } from './decode-state.js';
import { branch } from './execute.js';
import { desc, readDescriptor64, readDescriptorInto64 } from './interrupt.js';
import { TWO_32, readLinear } from './memory.js';
import {
  FS, GS, addToEa, decodeEa, eaLinear, getReg, hi, modrm, readAt, readE, readRmwE, regField, rmField, setReg, writeAt, writeE,
  writeRmwE,
} from './operands.js';
import { pop, push } from './stack.js';
import { loadSegment64 } from './segments.js';
import { loadTableRegister, loadTr64, swapgs, syscall, sysret } from './system.js';
import { sysenter, sysexit } from '../sysenter.js';

const LDTR = 6;
const UNUSABLE = 1 << 16;

function requireCpl0(cpu: Cpu): void {
  if (cpu.cpl !== 0) throwFault(13, 0);
}

export function step0f64(cpu: Cpu, op: number): void {
  const size = d.size;
  switch (op) {
    case 0x00: group6(cpu); return;
    case 0x01: group7(cpu); return;
    case 0x02: case 0x03: {
      const m = modrm(cpu);
      const v = op === 2 ? loadAccessRights(cpu, readE(cpu, m, 1), readDescriptorInto64) : loadSegmentLimit(cpu, readE(cpu, m, 1), readDescriptorInto64);
      if (v !== -1) setReg(cpu, size === 1 ? 1 : size, regField(m), v);
      return;
    }
    case 0x05: {
      // The one opcode intercept 64-bit mode honours so far: a para-virtualizing VMM takes SYSCALL
      // (Xen's hypercall instruction for 64-bit PV guests) before it changes anything.
      if (cpu.checkOpcodes && cpu.intercepts.opcodes[0x105]) {
        cpu.stop.opcode = 0x105;
        cpu.interceptStop('opcode');
      }
      const next = d.rip;
      const high = Math.floor(next / TWO_32);
      syscall(cpu, (next - high * TWO_32) | 0, high | 0);
      d.rip = cpu.ripHi * TWO_32 + (cpu.eip >>> 0);
      return;
    }
    case 0x06: clearTaskSwitched(cpu); return;
    case 0x07:
      sysret(cpu, size === 3);
      d.rip = cpu.ripHi * TWO_32 + (cpu.eip >>> 0);
      return;
    case 0x34: case 0x35:
      if (op === 0x34) sysenter(cpu);
      else sysexit(cpu, size === 3);
      d.rip = cpu.ripHi * TWO_32 + (cpu.eip >>> 0);
      return;
    case 0x08: case 0x09: requireCpl0(cpu); return;
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: {
      // Hint NOPs (0F 1F /0 is the multi-byte NOP): the operand is decoded, never accessed.
      const m = fetch8(cpu);
      if (m < 0xc0) decodeEa(cpu, m);
      return;
    }
    case 0x20: case 0x21: case 0x22: case 0x23: moveControlOrDebug(cpu, op); return;
    case 0x30: case 0x32: {
      requireCpl0(cpu);
      if (cpu.intercepts.msr) cpu.interceptStop(op === 0x30 ? 'wrmsr' : 'rdmsr');
      if (op === 0x30) writeMsr(cpu, cpu.reg32[1] >>> 0, cpu.reg32[2], cpu.reg32[0]);
      else {
        readMsr(cpu, cpu.reg32[1] >>> 0);
        cpu.regHi[0] = cpu.regHi[2] = 0;
      }
      return;
    }
    case 0x31: {
      if ((cpu.cr4 & 4) !== 0 && cpu.cpl !== 0) throwFault(13, 0);
      const tsc = cpu.readTsc();
      setReg(cpu, 2, 0, tsc % TWO_32);
      setReg(cpu, 2, 2, Math.floor(tsc / TWO_32));
      return;
    }
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      const m = modrm(cpu);
      const v = readE(cpu, m, size);
      const vHi = hi.v;
      const g = regField(m);
      // A dword CMOV zero-extends its destination even when the condition is false.
      if (condition(cpu, op & 15)) setReg(cpu, size, g, v, vHi);
      else if (size === 2) cpu.regHi[g] = 0;
      return;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f: {
      const rel = fetch32(cpu);
      if (condition(cpu, op & 15)) branch(d.rip + rel);
      return;
    }
    case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f: {
      const m = modrm(cpu);
      writeE(cpu, m, 0, condition(cpu, op & 15) ? 1 : 0);
      return;
    }
    case 0xa0: case 0xa8: push(cpu, cpu.seg[op === 0xa0 ? FS : GS], 0, size === 1 ? 2 : 8); return;
    case 0xa1: case 0xa9: {
      const bytes = size === 1 ? 2 : 8;
      const v = readStackTop(cpu, bytes);
      loadSegment64(cpu, op === 0xa1 ? FS : GS, v & 0xffff);
      pop(cpu, bytes);
      return;
    }
    case 0xa2: {
      cpuid(cpu);
      for (let r = 0; r < 4; r++) cpu.regHi[r] = 0;
      return;
    }
    case 0xa3: case 0xab: case 0xb3: case 0xbb: bitTest(cpu, op === 0xa3 ? 0 : op === 0xab ? 1 : op === 0xb3 ? 2 : 3, -1); return;
    case 0xba: {
      const m = fetch8(cpu);
      const reg = (m >> 3) & 7;
      if (reg < 4) throwFault(6);
      if (m < 0xc0) decodeEa(cpu, m, 1);
      bitTest(cpu, reg - 4, m);
      return;
    }
    case 0xa4: case 0xa5: case 0xac: case 0xad: {
      const m = modrm(cpu, op & 1 ? 0 : 1);
      const a = readRmwE(cpu, m, size);
      const aHi = hi.v;
      const b = getReg(cpu, size, regField(m));
      const count = op & 1 ? cpu.reg8[4] : fetch8(cpu);
      if (size === 3) {
        const r = doubleShift64(cpu, op < 0xa8, a, aHi, b, hi.v, count);
        if ((count & 63) !== 0) writeRmwE(cpu, m, size, r, hi.v);
        return;
      }
      const r = doubleShift(cpu, op < 0xa8, a, b, count, size);
      if ((count & 31) !== 0) writeRmwE(cpu, m, size, r);
      else if (size === 2 && m >= 0xc0) cpu.regHi[rmField(m)] = 0;
      return;
    }
    case 0xaf: {
      const m = modrm(cpu);
      const b = readE(cpu, m, size);
      const bHi = hi.v;
      const g = regField(m);
      const a = getReg(cpu, size, g);
      const r = size === 3 ? imulTruncate64(cpu, a, hi.v, b, bHi) : imulTruncate(cpu, a, b, size);
      setReg(cpu, size, g, r, hi.v);
      return;
    }
    case 0xb0: case 0xb1: {
      const s = op & 1 ? size : 0;
      const m = modrm(cpu);
      const dest = readRmwE(cpu, m, s);
      const destHi = hi.v;
      const acc = getReg(cpu, s, 0);
      const accHi = hi.v;
      if (s === 3) alu64(cpu, 7, acc, accHi, dest, destHi);
      else alu(cpu, 7, acc, dest, s);
      if (cpu.getZF()) writeRmwE(cpu, m, s, getReg(cpu, s, regField(m)), hi.v);
      else {
        // The destination is written back unchanged (a locked cycle), then the accumulator loaded.
        writeRmwE(cpu, m, s, dest, destHi);
        setReg(cpu, s, 0, dest, destHi);
      }
      return;
    }
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
      const m = modrm(cpu);
      const word = op & 1;
      let v = readE(cpu, m, word);
      if (op >= 0xbe) v = word ? (v << 16) >> 16 : (v << 24) >> 24;
      setReg(cpu, size, regField(m), size === 1 ? v & 0xffff : v, v >> 31);
      return;
    }
    case 0xbc: case 0xbd: {
      const m = modrm(cpu);
      const v = readE(cpu, m, size);
      const vHi = size === 3 ? hi.v : 0;
      const bits = size === 1 ? v & 0xffff : v;
      if (bits === 0 && vHi === 0) {
        cpu.materializeFlags();
        cpu.flags |= ZF;
        return;
      }
      let index: number;
      if (op === 0xbc) index = bits !== 0 ? 31 - Math.clz32(bits & -bits) : 32 + 31 - Math.clz32(vHi & -vHi);
      else index = vHi !== 0 ? 63 - Math.clz32(vHi) : 31 - Math.clz32(bits);
      cpu.materializeFlags();
      cpu.flags &= ~ZF;
      setReg(cpu, size, regField(m), index, 0);
      return;
    }
    case 0xc0: case 0xc1: {
      const s = op & 1 ? size : 0;
      const m = modrm(cpu);
      const g = regField(m);
      const a = readRmwE(cpu, m, s);
      const aHi = hi.v;
      const b = getReg(cpu, s, g);
      const r = s === 3 ? alu64(cpu, 0, a, aHi, b, hi.v) : alu(cpu, 0, a, b, s);
      const rHi = hi.v;
      setReg(cpu, s, g, a, aHi);
      writeRmwE(cpu, m, s, r, rHi);
      return;
    }
    case 0xc7: cmpxchgWide(cpu); return;
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf: {
      const r = (op & 7) | ((d.rex & 1) << 3);
      if (size === 3) {
        const lo = cpu.reg32[r];
        cpu.reg32[r] = swap(cpu.regHi[r]);
        cpu.regHi[r] = swap(lo);
      } else setReg(cpu, 2, r, swap(cpu.reg32[r]));
      return;
    }
    default:
      if (!sse64(cpu, op)) throwFault(6);
  }
}

function swap(v: number): number {
  return (v >>> 24) | ((v >> 8) & 0xff00) | ((v & 0xff00) << 8) | (v << 24);
}

function readStackTop(cpu: Cpu, bytes: number): number {
  const v = pop(cpu, bytes);
  // Undo: the selector is checked before RSP moves.
  const sum = (cpu.reg32[4] >>> 0) - bytes;
  cpu.reg32[4] = sum | 0;
  if (sum < 0) cpu.regHi[4] = (cpu.regHi[4] - 1) | 0;
  return v;
}

/** BT BTS BTR BTC (kind 0-3); `immModrm` >= 0 for the 0F BA imm8 form (ModRM already decoded). */
function bitTest(cpu: Cpu, kind: number, immModrm: number): void {
  const size = d.size;
  const bits = size === 1 ? 16 : size === 2 ? 32 : 64;
  let m: number;
  let offset: number;
  if (immModrm >= 0) {
    m = immModrm;
    offset = fetch8(cpu) & (bits - 1);
  } else {
    m = modrm(cpu);
    const offLo = getReg(cpu, size, regField(m));
    const offHi = size === 3 ? hi.v : size === 2 ? offLo >> 31 : (offLo << 16) >> 31;
    offset = offLo & (bits - 1);
    if (m < 0xc0) {
      // A register bit offset reaches memory outside the operand: (offset SAR log2(bits)) operands away.
      const shift = size === 1 ? 4 : size === 2 ? 5 : 6;
      const sized = size === 1 ? (offLo << 16) >> 16 : offLo;
      const unitLo = shr64(sized, offHi, shift, true);
      const unitHi = hi.v;
      const dispLo = shl64(unitLo, unitHi, size === 1 ? 1 : size === 2 ? 2 : 3);
      addToEa(dispLo, hi.v);
    }
  }
  let linear = 0;
  let lo: number;
  let high = 0;
  if (m >= 0xc0) {
    lo = getReg(cpu, size, rmField(m));
    high = hi.v;
  } else {
    linear = eaLinear(cpu);
    lo = kind === 0 ? readAt(cpu, linear, size) : readRmwAt(cpu, linear, size);
    high = hi.v;
  }
  const inHigh = offset >= 32;
  const mask = 1 << (offset & 31);
  const word = inHigh ? high : lo;
  cpu.setCF((word & mask) !== 0);
  if (kind === 0) return;
  const next = kind === 1 ? word | mask : kind === 2 ? word & ~mask : word ^ mask;
  if (inHigh) high = next;
  else lo = next;
  if (m >= 0xc0) setReg(cpu, size, rmField(m), lo, high);
  else writeAt(cpu, linear, size, lo, high);
}

function readRmwAt(cpu: Cpu, linear: number, size: number): number {
  writeAt(cpu, linear, size, readAt(cpu, linear, size), hi.v);
  return readAt(cpu, linear, size);
}

/** CMPXCHG8B / CMPXCHG16B (REX.W: a 16-byte-aligned operand, #GP(0) otherwise). */
function cmpxchgWide(cpu: Cpu): void {
  const m = fetch8(cpu);
  if (m >= 0xc0 || ((m >> 3) & 7) !== 1) throwFault(6);
  decodeEa(cpu, m);
  const linear = eaLinear(cpu);
  const r = cpu.reg32;
  const h = cpu.regHi;
  if (d.size === 3) {
    if (linear % 16 !== 0) throwFault(13, 0);
    const lo0 = readAt(cpu, linear, 3);
    const lo1 = hi.v;
    const hi0 = readAt(cpu, linear + 8, 3);
    const hi1 = hi.v;
    const equal = lo0 === r[0] && lo1 === h[0] && hi0 === r[2] && hi1 === h[2];
    if (equal) {
      writeAt(cpu, linear, 3, r[3], h[3]);
      writeAt(cpu, linear + 8, 3, r[1], h[1]);
    } else {
      writeAt(cpu, linear, 3, lo0, lo1);
      writeAt(cpu, linear + 8, 3, hi0, hi1);
      setReg(cpu, 3, 0, lo0, lo1);
      setReg(cpu, 3, 2, hi0, hi1);
    }
    cpu.materializeFlags();
    cpu.flags = equal ? cpu.flags | ZF : cpu.flags & ~ZF;
    return;
  }
  const lo = readAt(cpu, linear, 2);
  const high = readAt(cpu, linear + 4, 2);
  const equal = lo === r[0] && high === r[2];
  if (equal) {
    writeAt(cpu, linear, 2, r[3]);
    writeAt(cpu, linear + 4, 2, r[1]);
  } else {
    writeAt(cpu, linear, 2, lo);
    writeAt(cpu, linear + 4, 2, high);
    setReg(cpu, 2, 0, lo);
    setReg(cpu, 2, 2, high);
  }
  cpu.materializeFlags();
  cpu.flags = equal ? cpu.flags | ZF : cpu.flags & ~ZF;
}

/** MOV to/from CR0 CR2 CR3 CR4 CR8 and DR0-7 with 64-bit registers (REX.R selects CR8). */
function moveControlOrDebug(cpu: Cpu, op: number): void {
  const m = fetch8(cpu);
  const n = ((m >> 3) & 7) | ((d.rex & 4) << 1);
  const gpr = (m & 7) | ((d.rex & 1) << 3);
  if (op === 0x20) {
    if (n === 8) {
      requireCpl0(cpu);
      setReg(cpu, 3, gpr, cpu.long.cr8, 0);
      return;
    }
    if (n > 7) throwFault(6);
    const v = readControlRegister(cpu, n);
    setReg(cpu, 3, gpr, v, n === 2 ? cpu.cr2Hi : 0);
    return;
  }
  if (op === 0x22) {
    const lo = cpu.reg32[gpr];
    const high = cpu.regHi[gpr];
    if (n === 8) {
      requireCpl0(cpu);
      if (high !== 0 || (lo & ~0xf) !== 0) throwFault(13, 0);
      cpu.long.cr8 = lo;
      return;
    }
    if (n > 7) throwFault(6);
    // CR2 keeps all 64 bits; the others have nothing above bit 31 here (CR3: tables below 4 GiB).
    if (n === 2) {
      requireCpl0(cpu);
      cpu.cr2 = lo >>> 0;
      cpu.cr2Hi = high;
      return;
    }
    if (high !== 0 && n !== 1 && n < 5) throwFault(13, 0);
    writeControlRegister(cpu, n, lo);
    return;
  }
  if (n > 7) throwFault(6);
  if (op === 0x21) setReg(cpu, 3, gpr, readDebugRegister(cpu, n), 0);
  else {
    if ((n === 6 || n === 7) && cpu.regHi[gpr] !== 0) throwFault(13, 0);
    writeDebugRegister(cpu, n, cpu.reg32[gpr]);
  }
}

/** 0F 00: SLDT STR LLDT LTR VERR VERW. */
function group6(cpu: Cpu): void {
  const m = modrm(cpu);
  const reg = (m >> 3) & 7;
  switch (reg) {
    case 0: case 1: {
      const v = cpu.seg[reg === 0 ? LDTR : 7];
      if (m >= 0xc0) setReg(cpu, d.size, rmField(m), v, 0);
      else writeAt(cpu, eaLinear(cpu), 1, v);
      return;
    }
    case 2: loadLdt64(cpu, readE(cpu, m, 1)); return;
    case 3: loadTr64(cpu, readE(cpu, m, 1)); return;
    case 4: verifyRead(cpu, readE(cpu, m, 1), readDescriptorInto64); return;
    case 5: verifyWrite(cpu, readE(cpu, m, 1), readDescriptorInto64); return;
    default: throwFault(6);
  }
}

/** LLDT in IA-32e mode: null, or a 16-byte LDT descriptor (type 2). */
function loadLdt64(cpu: Cpu, selector: number): void {
  requireCpl0(cpu);
  const error = selector & 0xfffc;
  if (error === 0) {
    cpu.seg[LDTR] = selector;
    cpu.segAccess[LDTR] = UNUSABLE;
    return;
  }
  if ((selector & 4) !== 0 || !readDescriptor64(cpu, selector) || (selector & 0xfff8) + 15 > cpu.gdtrLimit >>> 0) {
    throwFault(13, error);
  }
  if ((desc.hi & 0x1f00) !== 0x0200) throwFault(13, error);
  if ((desc.hi & 0x8000) === 0) throwFault(11, error);
  const baseHi = readLinear(cpu, desc.address + 8, 4, true);
  const lo = desc.lo;
  const h = desc.hi;
  cpu.seg[LDTR] = selector;
  cpu.segBase[LDTR] = (lo >>> 16) | ((h & 0xff) << 16) | (h & 0xff000000);
  const raw = (lo & 0xffff) | (h & 0xf0000);
  cpu.segLimit[LDTR] = h & 0x800000 ? (raw << 12) | 0xfff : raw;
  cpu.segAccess[LDTR] = (h >>> 8) & 0xf0ff;
  cpu.long.segBaseHi[LDTR] = baseHi;
}

/** 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG SWAPGS RDTSCP. */
function group7(cpu: Cpu): void {
  const m = fetch8(cpu);
  const reg = (m >> 3) & 7;
  if (m >= 0xc0) {
    if (m === 0xf8) {
      swapgs(cpu);
      return;
    }
    if (m === 0xf9) {
      if ((cpu.cr4 & 4) !== 0 && cpu.cpl !== 0) throwFault(13, 0);
      const tsc = cpu.readTsc();
      setReg(cpu, 2, 0, tsc % TWO_32);
      setReg(cpu, 2, 2, Math.floor(tsc / TWO_32));
      setReg(cpu, 2, 1, cpu.long.tscAux);
      return;
    }
    if (reg === 4) {
      setReg(cpu, d.size, rmField(m), storeMachineStatusWord(cpu) & (d.size === 1 ? 0xffff : -1), 0);
      return;
    }
    if (reg === 6) {
      loadMachineStatusWord(cpu, getReg(cpu, 1, rmField(m)));
      return;
    }
    throwFault(6);
  }
  decodeEa(cpu, m);
  const linear = eaLinear(cpu);
  switch (reg) {
    case 0: case 1: {
      const l = cpu.long;
      writeAt(cpu, linear, 1, reg === 0 ? cpu.gdtrLimit : cpu.idtrLimit);
      writeAt(cpu, linear + 2, 3, reg === 0 ? cpu.gdtrBase : cpu.idtrBase, reg === 0 ? l.gdtrBaseHi : l.idtrBaseHi);
      return;
    }
    case 2: case 3: {
      requireCpl0(cpu);
      const limit = readAt(cpu, linear, 1);
      const lo = readAt(cpu, linear + 2, 3);
      loadTableRegister(cpu, reg === 3, limit, lo, hi.v);
      return;
    }
    case 4: writeAt(cpu, linear, 1, storeMachineStatusWord(cpu) & 0xffff); return;
    case 6: loadMachineStatusWord(cpu, readAt(cpu, linear, 1)); return;
    case 7: {
      requireCpl0(cpu);
      if (cpu.intercepts.invlpg) cpu.interceptStop('invlpg');
      cpu.paging?.invalidate(linear >= 0 && linear < TWO_32 ? linear >>> 0 : linear);
      cpu.flushFetch();
      return;
    }
    default: throwFault(6);
  }
}
