// The 64-bit mode interpreter (SDM Vol. 2; Vol. 1 3.2.1 and Vol. 2 2.2 for what 64-bit mode
// changes): REX prefixes, 64-bit operand sizes by REX.W and the 64-bit defaults of stack and near
// branch instructions, RIP-relative addressing, the instructions 64-bit mode removes (#UD) and the
// ones it adds (MOVSXD, SWAPGS, SYSCALL/SYSRET). Instructions not listed here raise #UD (the README
// lists what 64-bit mode runs so far). It runs one instruction at a time; hot straight runs of the
// common instructions also run as compiled blocks (blocks.ts), which call the helpers used here.
import type { AccessSize } from '@ringvisor/vmm-api';
import { alu, div, idiv, imulTruncate, imulWide, incDec, mul, shift } from '../alu.js';
import { EV_POLL_IRQ, type Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { ioCheck, portRead, portWrite } from '../io.js';
import { condition } from '../operands.js';
import { execute, lockable } from '../execute.js';
import { deliverInterrupt, eflagsForPush, popEflags } from '../system/index.js';
import { alu64, divide64, imulTruncate64, incDec64, mulWide64, shift64, test64 } from './alu64.js';
import { beginFetch, d, fetch8, fetch16, fetch32 } from './decode-state.js';
import { step0f64 } from './execute-0f.js';
import { escape64 } from './fpu.js';
import { iret64 } from './interrupt.js';
import { TWO_32, highOf, lowOf } from './memory.js';
import {
  FS, GS, decodeEa, ea, eaLinear, fetchImm, fetchImm8s, getReg, hi, immBytes, linearAt, modrm, readAt, readE, readRmwE,
  regField, rmField, setReg, writeAt, writeE, writeRmwE,
} from './operands.js';
import { pop, popped, push } from './stack.js';
import { stringInstruction64 } from './strings.js';
import { farCallOrJump64, farReturn64 } from './far-transfer.js';
import { loadSegment64 } from './segments.js';

/** The current RIP as a canonical number. */
function ripOf(cpu: Cpu): number {
  return cpu.ripHi * TWO_32 + (cpu.eip >>> 0);
}

/** Sets RIP from the canonical number `rip` (the caller checked it). */
export function setRip(cpu: Cpu, rip: number): void {
  const high = Math.floor(rip / TWO_32);
  cpu.ripHi = high | 0;
  cpu.eip = rip - high * TWO_32;
}

/** Executes one instruction in 64-bit mode. */
export function step64(cpu: Cpu): void {
  cpu.startEip = cpu.eip;
  cpu.startRipHi = cpu.ripHi;
  cpu.startEsp = cpu.reg32[4];
  cpu.startRspHi = cpu.regHi[4];
  beginFetch(ripOf(cpu));
  d.rex = 0;
  d.size = 2;
  d.addr32 = false;
  d.seg = -1;
  d.rep = 0;
  d.p66 = false;
  d.lock = false;
  let op = fetch8(cpu);
  let opsize16 = false;
  for (;;) {
    if (op >= 0x40 && op <= 0x4f) {
      // REX: must come last; a legacy prefix after it makes it ignored.
      d.rex = op;
      op = fetch8(cpu);
      if (op >= 0x40 && op <= 0x4f) continue;
      if (isLegacyPrefix(op)) {
        d.rex = 0;
        continue;
      }
      break;
    }
    if (!isLegacyPrefix(op)) break;
    switch (op) {
      case 0x64: d.seg = FS; break;
      case 0x65: d.seg = GS; break;
      case 0x66: opsize16 = d.p66 = true; break;
      case 0x67: d.addr32 = true; break;
      case 0xf0: d.lock = true; break;
      case 0xf2: case 0xf3: d.rep = op; break;
      default: break; // ES CS SS DS overrides: no effect in 64-bit mode
    }
    op = fetch8(cpu);
  }
  d.size = d.rex & 8 ? 3 : opsize16 ? 1 : 2;
  if (d.lock) checkLock(cpu, op);
  execute64(cpu, op);
  commitRip(cpu);
}

/** LOCK is #UD unless the instruction is a lockable read-modify-write of memory (SDM Vol. 2 "LOCK"). */
function checkLock(cpu: Cpu, op: number): void {
  const at = d.rip;
  const opcode = op === 0x0f ? 0x100 | fetch8(cpu) : op;
  const m = fetch8(cpu);
  d.rip = at;
  if (!lockable(opcode, m)) throwFault(6);
}

/** Writes the fetch position back as RIP (a branch has already moved `d.rip`). */
function commitRip(cpu: Cpu): void {
  setRip(cpu, d.rip);
}

function isLegacyPrefix(b: number): boolean {
  return b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x64 || b === 0x65 || b === 0x66 ||
    b === 0x67 || b === 0xf0 || b === 0xf2 || b === 0xf3;
}

/** Near branch to `target` (a canonical number, or NaN): #GP(0) when not canonical. */
export function branch(target: number): void {
  if (!(target >= -0x8000_0000_0000 && target < 0x8000_0000_0000)) throwFault(13, 0);
  d.rip = target;
}

/** The 64-bit target hi:lo as a number (NaN when not canonical). */
function targetOf(lo: number, high: number): number {
  if (((high << 16) >> 16) !== high) return NaN;
  return high * TWO_32 + (lo >>> 0);
}

/** Stack operand bytes of PUSH/POP: 8, or 2 with 66. */
function stackBytes(): number {
  return d.size === 1 ? 2 : 8;
}

function aluForms(cpu: Cpu, op: number): void {
  const kind = op >> 3;
  const form = op & 7;
  const size = form & 1 ? d.size : 0;
  if (form >= 4) {
    const a = getReg(cpu, size, 0);
    const aHi = hi.v;
    const b = fetchImm(cpu, size);
    const r = size === 3 ? alu64(cpu, kind, a, aHi, b, hi.v) : alu(cpu, kind, a, b, size);
    if (kind !== 7) setReg(cpu, size, 0, r, hi.v);
    return;
  }
  const m = modrm(cpu);
  const g = regField(m);
  if (form < 2) {
    const a = kind === 7 ? readE(cpu, m, size) : readRmwE(cpu, m, size);
    const aHi = hi.v;
    const b = getReg(cpu, size, g);
    const r = size === 3 ? alu64(cpu, kind, a, aHi, b, hi.v) : alu(cpu, kind, a, b, size);
    if (kind !== 7) writeRmwE(cpu, m, size, r, hi.v);
  } else {
    const b = readE(cpu, m, size);
    const bHi = hi.v;
    const a = getReg(cpu, size, g);
    const r = size === 3 ? alu64(cpu, kind, a, hi.v, b, bHi) : alu(cpu, kind, a, b, size);
    if (kind !== 7) setReg(cpu, size, g, r, hi.v);
  }
}

function execute64(cpu: Cpu, op: number): void {
  const size = d.size;
  switch (op) {
    case 0x00: case 0x01: case 0x02: case 0x03: case 0x04: case 0x05:
    case 0x08: case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d:
    case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15:
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d:
    case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25:
    case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d:
    case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35:
    case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d:
      aluForms(cpu, op);
      return;
    case 0x0f: step0f64(cpu, fetch8(cpu)); return;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57: {
      const r = (op & 7) | ((d.rex & 1) << 3);
      push(cpu, cpu.reg32[r], cpu.regHi[r], stackBytes());
      return;
    }
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      const r = (op & 7) | ((d.rex & 1) << 3);
      const bytes = stackBytes();
      const v = pop(cpu, bytes);
      setReg(cpu, bytes === 8 ? 3 : 1, r, v, popped.hi);
      return;
    }
    case 0x63: {
      // MOVSXD r64, r/m32 (without REX.W: a plain 32- or 16-bit move).
      const m = modrm(cpu);
      const v = readE(cpu, m, size === 3 ? 2 : size);
      setReg(cpu, size, regField(m), v, v >> 31);
      return;
    }
    case 0x68: case 0x6a: {
      const v = op === 0x68 ? fetchImm(cpu, size === 1 ? 1 : 3) : fetchImm8s(cpu, size === 1 ? 1 : 3);
      push(cpu, v, hi.v, stackBytes());
      return;
    }
    case 0x69: case 0x6b: {
      const m = modrm(cpu, op === 0x69 ? immBytes(size) : 1);
      const a = readE(cpu, m, size);
      const aHi = hi.v;
      const b = op === 0x69 ? fetchImm(cpu, size) : fetchImm8s(cpu, size);
      const r = size === 3 ? imulTruncate64(cpu, a, aHi, b, hi.v) : imulTruncate(cpu, a, b, size);
      setReg(cpu, size, regField(m), r, hi.v);
      return;
    }
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
    case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
      stringInstruction64(cpu, op);
      return;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      const rel = (fetch8(cpu) << 24) >> 24;
      if (condition(cpu, op & 15)) branch(d.rip + rel);
      return;
    }
    case 0x80: case 0x81: case 0x83: {
      const s = op === 0x80 ? 0 : size;
      const m = modrm(cpu, op === 0x81 ? immBytes(s) : 1);
      const kind = (m >> 3) & 7;
      const a = kind === 7 ? readE(cpu, m, s) : readRmwE(cpu, m, s);
      const aHi = hi.v;
      const b = op === 0x83 ? fetchImm8s(cpu, s) : fetchImm(cpu, s);
      const r = s === 3 ? alu64(cpu, kind, a, aHi, b, hi.v) : alu(cpu, kind, a, b, s);
      if (kind !== 7) writeRmwE(cpu, m, s, r, hi.v);
      return;
    }
    case 0x84: case 0x85: {
      const s = op & 1 ? size : 0;
      const m = modrm(cpu);
      const a = readE(cpu, m, s);
      const aHi = hi.v;
      const b = getReg(cpu, s, regField(m));
      if (s === 3) test64(cpu, a, aHi, b, hi.v);
      else cpu.setLogicFlags(a & b, s, 0);
      return;
    }
    case 0x86: case 0x87: {
      const s = op & 1 ? size : 0;
      const m = modrm(cpu);
      const g = regField(m);
      const a = readRmwE(cpu, m, s);
      const aHi = hi.v;
      const b = getReg(cpu, s, g);
      writeRmwE(cpu, m, s, b, hi.v);
      setReg(cpu, s, g, a, aHi);
      return;
    }
    case 0x88: case 0x89: {
      const s = op & 1 ? size : 0;
      const m = modrm(cpu);
      const v = getReg(cpu, s, regField(m));
      writeE(cpu, m, s, v, hi.v);
      return;
    }
    case 0x8a: case 0x8b: {
      const s = op & 1 ? size : 0;
      const m = modrm(cpu);
      const v = readE(cpu, m, s);
      setReg(cpu, s, regField(m), v, hi.v);
      return;
    }
    case 0x8c: {
      const m = modrm(cpu);
      const s = (m >> 3) & 7;
      if (s > 5) throwFault(6);
      if (m >= 0xc0) setReg(cpu, size === 1 ? 1 : size, rmField(m), cpu.seg[s], 0);
      else writeAt(cpu, eaLinear(cpu), 1, cpu.seg[s]);
      return;
    }
    case 0x8d: {
      const m = fetch8(cpu);
      if (m >= 0xc0) throwFault(6);
      decodeEa(cpu, m);
      setReg(cpu, size, regField(m), ea.lo, ea.hi);
      return;
    }
    case 0x8e: {
      const m = modrm(cpu);
      const s = (m >> 3) & 7;
      if (s > 5 || s === 1) throwFault(6);
      loadSegment64(cpu, s, readE(cpu, m, 1));
      if (s === 2) cpu.beginShadow(true);
      return;
    }
    case 0x8f: {
      const m = fetch8(cpu);
      if ((m & 0x38) !== 0) throwFault(6);
      const bytes = stackBytes();
      const s = bytes === 8 ? 3 : 1;
      if (m >= 0xc0) {
        const v = pop(cpu, bytes);
        setReg(cpu, s, rmField(m), v, popped.hi);
        return;
      }
      // The address is computed after RSP moved (SDM "POP": an RSP base sees the incremented value).
      const v = pop(cpu, bytes);
      const vHi = popped.hi;
      decodeEa(cpu, m);
      writeAt(cpu, eaLinear(cpu), s, v, vHi);
      return;
    }
    case 0x90:
      if (d.rex & 1) xchgAccumulator(cpu, 8);
      return;
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
      xchgAccumulator(cpu, (op & 7) | ((d.rex & 1) << 3));
      return;
    case 0x98: {
      const r = cpu.reg32;
      if (size === 3) setReg(cpu, 3, 0, r[0], r[0] >> 31);
      else if (size === 2) setReg(cpu, 2, 0, (r[0] << 16) >> 16);
      else cpu.reg16[0] = (cpu.reg8[0] << 24) >> 24;
      return;
    }
    case 0x99: {
      if (size === 3) setReg(cpu, 3, 2, cpu.regHi[0] >> 31, cpu.regHi[0] >> 31);
      else if (size === 2) setReg(cpu, 2, 2, cpu.reg32[0] >> 31);
      else cpu.reg16[4] = (cpu.reg16[0] << 16) >> 31;
      return;
    }
    case 0x9c: {
      const v = eflagsForPush(cpu) & ~0x30000;
      push(cpu, v, 0, stackBytes());
      return;
    }
    case 0x9d: {
      const bytes = stackBytes();
      const v = pop(cpu, bytes);
      popEflags(cpu, v, bytes === 8);
      return;
    }
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      // MOV with a 64-bit absolute offset (32-bit with 67).
      const lo = fetch32(cpu);
      const high = d.addr32 ? 0 : fetch32(cpu);
      const s = op & 1 ? size : 0;
      const linear = linearAt(cpu, lo, high, false);
      if (op < 0xa2) setReg(cpu, s, 0, readAt(cpu, linear, s), hi.v);
      else writeAt(cpu, linear, s, getReg(cpu, s, 0), hi.v);
      return;
    }
    case 0xa8: case 0xa9: {
      const s = op & 1 ? size : 0;
      const a = getReg(cpu, s, 0);
      const aHi = hi.v;
      const b = fetchImm(cpu, s);
      if (s === 3) test64(cpu, a, aHi, b, hi.v);
      else cpu.setLogicFlags(a & b, s, 0);
      return;
    }
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      setReg(cpu, 0, (op & 7) | ((d.rex & 1) << 3), fetch8(cpu));
      return;
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
      const r = (op & 7) | ((d.rex & 1) << 3);
      if (size === 3) {
        const lo = fetch32(cpu);
        setReg(cpu, 3, r, lo, fetch32(cpu));
      } else setReg(cpu, size, r, size === 2 ? fetch32(cpu) : fetch16(cpu));
      return;
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const s = op & 1 ? size : 0;
      const m = modrm(cpu, op < 0xd0 ? 1 : 0);
      const a = readRmwE(cpu, m, s);
      const aHi = hi.v;
      const count = op < 0xd0 ? fetch8(cpu) : op < 0xd2 ? 1 : cpu.reg8[4];
      const kind = (m >> 3) & 7;
      if (s === 3) {
        const r = shift64(cpu, kind, a, aHi, count);
        if ((count & 63) !== 0) writeRmwE(cpu, m, 3, r, hi.v);
      } else {
        const r = shift(cpu, kind, a, count, s);
        if ((count & 31) !== 0) writeRmwE(cpu, m, s, r);
        // A dword register destination is written even for a count of 0: as any dword write, that
        // clears its high dword (QEMU agrees).
        else if (s === 2 && m >= 0xc0) cpu.regHi[rmField(m)] = 0;
      }
      return;
    }
    case 0xc2: case 0xc3: {
      const extra = op === 0xc2 ? fetch16(cpu) : 0;
      const bytes = stackBytes();
      const lo = pop(cpu, bytes);
      branch(bytes === 8 ? targetOf(lo, popped.hi) : lo & 0xffff);
      if (extra) {
        const sum = (cpu.reg32[4] >>> 0) + extra;
        cpu.reg32[4] = sum | 0;
        if (sum >= TWO_32) cpu.regHi[4] = (cpu.regHi[4] + 1) | 0;
      }
      return;
    }
    case 0xc6: case 0xc7: {
      const s = op & 1 ? size : 0;
      const m = fetch8(cpu);
      if ((m & 0x38) !== 0) throwFault(6);
      if (m < 0xc0) decodeEa(cpu, m, immBytes(s));
      const v = fetchImm(cpu, s);
      writeE(cpu, m, s, v, hi.v);
      return;
    }
    case 0xc8: enter64(cpu); return;
    case 0xc9: {
      // LEAVE: RSP = RBP, then pop RBP.
      cpu.reg32[4] = cpu.reg32[5];
      cpu.regHi[4] = cpu.regHi[5];
      const bytes = stackBytes();
      const v = pop(cpu, bytes);
      setReg(cpu, bytes === 8 ? 3 : 1, 5, v, popped.hi);
      return;
    }
    case 0xca: case 0xcb: {
      const release = op === 0xca ? fetch16(cpu) : 0;
      farReturn64(cpu, size === 3 ? 8 : size === 2 ? 4 : 2, release);
      d.rip = cpu.ripHi * TWO_32 + (cpu.eip >>> 0);
      return;
    }
    case 0xcc: softwareInterrupt(cpu, 3, 'int3'); return;
    case 0xcd: softwareInterrupt(cpu, fetch8(cpu), 'software'); return;
    case 0xcf:
      iret64(cpu, size === 3 ? 8 : 4);
      d.rip = cpu.ripHi * TWO_32 + (cpu.eip >>> 0);
      cpu.events |= EV_POLL_IRQ;
      return;
    case 0xd7: {
      const lo = (cpu.reg32[3] >>> 0) + cpu.reg8[0];
      const linear = linearAt(cpu, lo | 0, d.addr32 ? 0 : (cpu.regHi[3] + (lo >= TWO_32 ? 1 : 0)) | 0, false);
      cpu.reg8[0] = readAt(cpu, linear, 0);
      return;
    }
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: {
      const rel = (fetch8(cpu) << 24) >> 24;
      const r = cpu.reg32;
      const h = cpu.regHi;
      if (op === 0xe3) {
        if (r[1] === 0 && (d.addr32 || h[1] === 0)) branch(d.rip + rel);
        return;
      }
      const lo = (r[1] - 1) | 0;
      const high = d.addr32 ? 0 : lo === -1 ? (h[1] - 1) | 0 : h[1];
      if ((lo !== 0 || high !== 0) && (op === 0xe2 || cpu.getZF() === (op === 0xe1))) branch(d.rip + rel);
      r[1] = lo;
      h[1] = high;
      return;
    }
    case 0xe4: case 0xe5: case 0xec: case 0xed: {
      const port = op < 0xe8 ? fetch8(cpu) : cpu.reg16[4];
      const bytes = (op & 1 ? (size === 1 ? 2 : 4) : 1) as AccessSize;
      ioCheck(cpu, port, bytes, false, false);
      const v = portRead(cpu, port, bytes);
      setReg(cpu, bytes === 1 ? 0 : bytes === 2 ? 1 : 2, 0, v);
      return;
    }
    case 0xe6: case 0xe7: case 0xee: case 0xef: {
      const port = op < 0xe8 ? fetch8(cpu) : cpu.reg16[4];
      const bytes = (op & 1 ? (size === 1 ? 2 : 4) : 1) as AccessSize;
      ioCheck(cpu, port, bytes, true, false);
      portWrite(cpu, port, bytes, bytes === 1 ? cpu.reg8[0] : bytes === 2 ? cpu.reg16[0] : cpu.reg32[0]);
      return;
    }
    case 0xe8: {
      const rel = fetch32(cpu);
      const target = d.rip + rel;
      const ret = d.rip;
      branch(target);
      pushReturn(cpu, ret);
      return;
    }
    case 0xe9: {
      const rel = fetch32(cpu);
      branch(d.rip + rel);
      return;
    }
    case 0xeb: {
      const rel = (fetch8(cpu) << 24) >> 24;
      branch(d.rip + rel);
      return;
    }
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf: escape64(cpu, op); return;
    case 0xf1: softwareInterrupt(cpu, 1, 'icebp'); return;
    case 0xf6: case 0xf7: group3(cpu, op); return;
    // WAIT, SAHF, LAHF, HLT, CMC, CLC, STC, CLI, STI, CLD, STD: no operands, as in 32-bit code.
    case 0x9b: case 0x9e: case 0x9f: case 0xf4: case 0xf5: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
      execute(cpu, op);
      return;
    case 0xfe: case 0xff: group45(cpu, op); return;
    default:
      // 06 07 0E 16 17 1E 1F 27 2F 37 3F 60 61 62 82 9A C4 C5 CE D4 D5 D6 EA: invalid in 64-bit mode;
      throwFault(6);
  }
}

/**
 * ENTER imm16, imm8 in 64-bit mode: 8-byte pushes (2 with 66), RBP = the frame pointer, RSP lowered by
 * imm16. RBP changes last; a fault leaves RSP to the run loop's rollback.
 */
function enter64(cpu: Cpu): void {
  const size = fetch16(cpu);
  const level = fetch8(cpu) & 31;
  const bytes = stackBytes();
  const s = bytes === 8 ? 3 : 1;
  push(cpu, cpu.reg32[5], cpu.regHi[5], bytes);
  const frameLo = cpu.reg32[4];
  const frameHi = cpu.regHi[4];
  if (level > 0) {
    let rbp = cpu.regHi[5] * TWO_32 + (cpu.reg32[5] >>> 0);
    for (let i = 1; i < level; i++) {
      rbp -= bytes;
      const v = readAt(cpu, linearAt(cpu, lowOf(rbp), highOf(rbp), true), s);
      push(cpu, v, hi.v, bytes);
    }
    push(cpu, frameLo, frameHi, bytes);
  }
  const sum = (cpu.reg32[4] >>> 0) - size;
  cpu.reg32[4] = sum | 0;
  if (sum < 0) cpu.regHi[4] = (cpu.regHi[4] - 1) | 0;
  setReg(cpu, s, 5, frameLo, frameHi);
}

/** Pushes the return address `ret` (a canonical number) of a near CALL; RIP was set to the target already. */
function pushReturn(cpu: Cpu, ret: number): void {
  const high = Math.floor(ret / TWO_32);
  push(cpu, (ret - high * TWO_32) | 0, high | 0, stackBytes());
}

function xchgAccumulator(cpu: Cpu, r: number): void {
  const size = d.size;
  const a = getReg(cpu, size, r);
  const aHi = hi.v;
  const b = getReg(cpu, size, 0);
  setReg(cpu, size, r, b, hi.v);
  setReg(cpu, size, 0, a, aHi);
}

function softwareInterrupt(cpu: Cpu, vector: number, kind: 'int3' | 'software' | 'icebp'): void {
  setRip(cpu, d.rip);
  deliverInterrupt(cpu, vector, kind, 0);
  d.rip = cpu.ripHi * TWO_32 + (cpu.eip >>> 0);
}

/** F6/F7: TEST NOT NEG MUL IMUL DIV IDIV. */
function group3(cpu: Cpu, op: number): void {
  const s = op & 1 ? d.size : 0;
  const m = fetch8(cpu);
  const reg = (m >> 3) & 7;
  // TEST's immediate follows the operand: a RIP-relative address counts from after it.
  if (m < 0xc0) decodeEa(cpu, m, reg < 2 ? immBytes(s) : 0);
  if (reg === 2 || reg === 3) {
    const v = readRmwE(cpu, m, s);
    const vHi = hi.v;
    if (s === 3) {
      const r = reg === 3 ? alu64(cpu, 5, 0, 0, v, vHi) : ~v;
      writeRmwE(cpu, m, 3, r, reg === 3 ? hi.v : ~vHi);
    } else {
      writeRmwE(cpu, m, s, reg === 3 ? alu(cpu, 5, 0, v, s) : s === 2 ? ~v : ~v & (s === 0 ? 0xff : 0xffff));
    }
    return;
  }
  const a = readE(cpu, m, s);
  const aHi = hi.v;
  switch (reg) {
    case 0: case 1: {
      const b = fetchImm(cpu, s);
      if (s === 3) test64(cpu, a, aHi, b, hi.v);
      else cpu.setLogicFlags(a & b, s, 0);
      return;
    }
    case 4: if (s === 3) mulWide64(cpu, a, aHi, false); else { mul(cpu, a, s); zeroExtendWide(cpu, s); } return;
    case 5: if (s === 3) mulWide64(cpu, a, aHi, true); else { imulWide(cpu, a, s); zeroExtendWide(cpu, s); } return;
    case 6: if (s === 3) divide64(cpu, a, aHi, false); else { div(cpu, a, s); zeroExtendWide(cpu, s); } return;
    default: if (s === 3) divide64(cpu, a, aHi, true); else { idiv(cpu, a, s); zeroExtendWide(cpu, s); } return;
  }
}

/** A dword MUL/DIV wrote EAX and EDX: as dword writes they clear bits 63:32. */
function zeroExtendWide(cpu: Cpu, size: number): void {
  if (size === 2) {
    cpu.regHi[0] = 0;
    cpu.regHi[2] = 0;
  }
}

/** FE/FF: INC DEC CALL CALLF JMP JMPF PUSH. */
function group45(cpu: Cpu, op: number): void {
  const m = fetch8(cpu);
  const reg = (m >> 3) & 7;
  if ((op === 0xfe && reg > 1) || reg === 7) throwFault(6);
  if ((reg === 3 || reg === 5) && m >= 0xc0) throwFault(6);
  if (m < 0xc0) decodeEa(cpu, m);
  const size = op === 0xfe ? 0 : d.size;
  switch (reg) {
    case 0: case 1: {
      const a = readRmwE(cpu, m, size);
      const r = size === 3 ? incDec64(cpu, a, hi.v, reg === 1) : incDec(cpu, a, reg === 1, size);
      writeRmwE(cpu, m, size, r, hi.v);
      return;
    }
    case 2: case 4: {
      // Near CALL/JMP r/m64: the operand is always 64 bits in 64-bit mode.
      const lo = readE(cpu, m, 3);
      const target = targetOf(lo, hi.v);
      const ret = d.rip;
      branch(target);
      if (reg === 2) pushReturn(cpu, ret);
      return;
    }
    case 3: case 5: {
      // Far CALL/JMP m16:16, m16:32 or m16:64 (REX.W).
      const linear = eaLinear(cpu);
      const bytes = d.size === 3 ? 8 : d.size === 2 ? 4 : 2;
      const lo = readAt(cpu, linear, bytes === 8 ? 3 : bytes === 4 ? 2 : 1);
      const high = bytes === 8 ? hi.v : 0;
      const selector = readAt(cpu, linear + bytes, 1);
      farCallOrJump64(cpu, selector, lo, high, bytes, reg === 3 ? d.rip : -1);
      d.rip = cpu.ripHi * TWO_32 + (cpu.eip >>> 0);
      return;
    }
    default: {
      const lo = readE(cpu, m, d.size === 1 ? 1 : 3);
      push(cpu, lo, hi.v, stackBytes());
    }
  }
}
