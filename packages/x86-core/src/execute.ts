import type { AccessSize } from '@ringvisor/vmm-api';
import { aaa, aad, aam, alu, decimalAdjust, div, idiv, imulTruncate, imulWide, incDec, mul, shift } from './alu.js';
import { CS, DS, ES, EV_POLL_IRQ, SS, type Cpu } from './cpu.js';
import { step0f } from './execute-0f.js';
import { executeFpu, isFpuStore, memoryOperandBytes, needsPendingCheck } from './fpu/execute.js';
import { FPU_OPSIZE32, FPU_PROTECTED } from './fpu/host.js';
import { throwFault } from './fault.js';
import { AF, CF, DF, IF, PF, SF, ZF } from './flags.js';
import { ioCheck, portRead, portWrite } from './io.js';
import { MAX_INSTRUCTION_LENGTH, measureInstruction } from './decode.js';
import { lookup } from './opcode-table.js';
import {
  callTo, condition, decodeEa, fetchImm, fetchImm8s, getReg, jumpTo, modrm, modrmMemory, pop, push, readE, readMem,
  readMemAt, readRmwE, setReg, writeE, writeRmwE,
} from './operands.js';
import { stringInstruction } from './strings.js';
import {
  adjustRpl, setArplFlag, deliverInterrupt, eflagsForPush, farCall, farJump, farReturn, interruptReturn, loadSegment, popEflags,
  requireProtectedMode, setInterruptFlag,
} from './system/index.js';

const IS_PREFIX = new Uint8Array(256);
for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) IS_PREFIX[p] = 1;

/** Opcodes whose table entry allows LOCK (index as in the opcode table, reg field folded in). */
const LOCKABLE = new Uint8Array(0x1000);
for (let op = 0; op < 0x200; op++) {
  for (let reg = 0; reg < 8; reg++) {
    const e = lookup(op, reg);
    if (e && e.attributes.includes('L')) LOCKABLE[(op << 3) | reg] = 1;
  }
}

/** Executes one instruction at CS:EIP. */
export function step(cpu: Cpu): void {
  cpu.startEip = cpu.eip;
  cpu.startEsp = cpu.reg32[4];
  cpu.opSize32 = cpu.addrSize32 = cpu.code32;
  cpu.segOverride = -1;
  cpu.rep = 0;
  cpu.lock = false;
  let op = cpu.fetch8();
  if (IS_PREFIX[op]) op = prefixes(cpu, op);
  if (cpu.checkOpcodes && cpu.intercepts.opcodes[op]) interceptOpcode(cpu, op);
  execute(cpu, op);
}

function interceptOpcode(cpu: Cpu, op: number): void {
  cpu.stop.opcode = op;
  cpu.interceptStop('opcode');
}

/** Consumes prefixes; returns the opcode byte after them (0x100 | b for 0F b is left to `execute`). */
function prefixes(cpu: Cpu, op: number): number {
  let count = 0;
  while (IS_PREFIX[op]) {
    switch (op) {
      case 0x26: cpu.segOverride = ES; break;
      case 0x2e: cpu.segOverride = CS; break;
      case 0x36: cpu.segOverride = SS; break;
      case 0x3e: cpu.segOverride = DS; break;
      case 0x64: cpu.segOverride = 4; break;
      case 0x65: cpu.segOverride = 5; break;
      case 0x66: cpu.opSize32 = !cpu.code32; break;
      case 0x67: cpu.addrSize32 = !cpu.code32; break;
      case 0xf0: cpu.lock = true; break;
      default: cpu.rep = op; break;
    }
    if (++count >= cpu.traits.prefixesBeforeLengthCheck) checkLength(cpu, count);
    op = cpu.fetch8();
  }
  if (cpu.lock) checkLock(cpu, op);
  return op;
}

/**
 * #GP(0) for an instruction longer than the model allows (15 bytes; 10 on the 80286): 15 prefixes,
 * or the whole instruction, measured once when enough prefixes are seen for it to be too long. An
 * invalid opcode measures -1 and raises #UD when it executes, as the 286 vectors show it does before
 * the length fault.
 */
function checkLength(cpu: Cpu, count: number): void {
  if (count >= MAX_INSTRUCTION_LENGTH) throwFault(13, 0);
  if (count !== cpu.traits.prefixesBeforeLengthCheck) return;
  const start = cpu.startEip;
  const length = measureInstruction(
    (i) => cpu.readLinear8((cpu.segBase[CS] + ((start + i) & cpu.ipMask)) | 0),
    cpu.code32,
    cpu.traits.maxInstructionLength,
    cpu.traits.sse,
  );
  if (length > cpu.traits.maxInstructionLength) throwFault(13, 0);
}

/** LOCK is #UD unless the instruction is a lockable read-modify-write of memory (SDM Vol. 2 "LOCK"). */
function checkLock(cpu: Cpu, op: number): void {
  if (cpu.traits.lockAnyInstruction) return;
  let opcode = op;
  let at = cpu.eip;
  const peek = (): number => {
    const b = cpu.readLinear8((cpu.segBase[CS] + at) | 0);
    at = (at + 1) & cpu.ipMask;
    return b;
  };
  if (op === 0x0f) opcode = 0x100 | peek();
  const m = peek();
  if (!lockable(opcode, m)) throwFault(6);
}

/** True when LOCK may prefix `opcode` (0x100 | b for 0F b) with ModRM `m`: a lockable form on memory. */
export function lockable(opcode: number, m: number): boolean {
  return m < 0xc0 && LOCKABLE[(opcode << 3) | ((m >> 3) & 7)] === 1;
}

/** The one-byte opcode `op` (prefixes consumed). 64-bit mode reuses it for the opcodes it leaves unchanged. */
export function execute(cpu: Cpu, op: number): void {
  const r32 = cpu.reg32;
  const r16 = cpu.reg16;
  const r8 = cpu.reg8;
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
    case 0x06: push(cpu, cpu.seg[ES]); return;
    case 0x0e: push(cpu, cpu.seg[CS]); return;
    case 0x16: push(cpu, cpu.seg[SS]); return;
    case 0x1e: push(cpu, cpu.seg[DS]); return;
    case 0x07: popSegment(cpu, ES); return;
    case 0x17: popSegment(cpu, SS); return;
    case 0x1f: popSegment(cpu, DS); return;
    case 0x0f: step0f(cpu, cpu.fetch8()); return;
    case 0x27: decimalAdjust(cpu, false); return;
    case 0x2f: decimalAdjust(cpu, true); return;
    case 0x37: aaa(cpu, false); return;
    case 0x3f: aaa(cpu, true); return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
      if (cpu.opSize32) r32[op & 7] = incDec(cpu, r32[op & 7], false, 2);
      else r16[(op & 7) << 1] = incDec(cpu, r16[(op & 7) << 1], false, 1);
      return;
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
      if (cpu.opSize32) r32[op & 7] = incDec(cpu, r32[op & 7], true, 2);
      else r16[(op & 7) << 1] = incDec(cpu, r16[(op & 7) << 1], true, 1);
      return;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      // PUSH SP pushes the value SP had before the push (286 and later).
      if (cpu.opSize32) cpu.push32(r32[op & 7]);
      else cpu.push16(r16[(op & 7) << 1]);
      return;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
      if (cpu.opSize32) r32[op & 7] = cpu.pop32();
      else r16[(op & 7) << 1] = cpu.pop16();
      return;
    case 0x60: pusha(cpu); return;
    case 0x61: popa(cpu); return;
    case 0x62: bound(cpu); return;
    case 0x63: {
      const m = modrm(cpu);
      requireProtectedMode(cpu);
      const v = adjustRpl(readE(cpu, m, 1), getReg(cpu, 1, (m >> 3) & 7));
      if (v >= 0) writeE(cpu, m, 1, v);
      setArplFlag(cpu, v >= 0);
      return;
    }
    case 0x68: push(cpu, fetchImm(cpu, (cpu.opSize32 ? 2 : 1))); return;
    case 0x6a: push(cpu, fetchImm8s(cpu, (cpu.opSize32 ? 2 : 1))); return;
    case 0x69: case 0x6b: {
      const size = (cpu.opSize32 ? 2 : 1);
      const m = modrm(cpu);
      const a = readE(cpu, m, size);
      const b = op === 0x69 ? fetchImm(cpu, size) : fetchImm8s(cpu, size);
      setReg(cpu, size, (m >> 3) & 7, imulTruncate(cpu, a, b, size));
      return;
    }
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
    case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
      stringInstruction(cpu, op);
      return;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      const rel = (cpu.fetch8() << 24) >> 24;
      if (condition(cpu, op & 15)) jumpTo(cpu, cpu.eip + rel);
      return;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: {
      const size = op & 1 ? (cpu.opSize32 ? 2 : 1) : 0;
      const m = modrm(cpu);
      const kind = (m >> 3) & 7;
      const a = kind === 7 ? readE(cpu, m, size) : readRmwE(cpu, m, size);
      const b = op === 0x81 ? fetchImm(cpu, size) : fetchImm8s(cpu, size);
      const r = alu(cpu, kind, a, b, size);
      if (kind !== 7) writeRmwE(cpu, m, size, r);
      return;
    }
    case 0x84: case 0x85: {
      const size = op & 1 ? (cpu.opSize32 ? 2 : 1) : 0;
      const m = modrm(cpu);
      cpu.setLogicFlags(readE(cpu, m, size) & getReg(cpu, size, (m >> 3) & 7), size, 0);
      return;
    }
    case 0x86: case 0x87: {
      const size = op & 1 ? (cpu.opSize32 ? 2 : 1) : 0;
      const m = modrm(cpu);
      const g = (m >> 3) & 7;
      const a = readRmwE(cpu, m, size);
      writeRmwE(cpu, m, size, getReg(cpu, size, g));
      setReg(cpu, size, g, a);
      return;
    }
    case 0x88: {
      const m = modrm(cpu);
      writeE(cpu, m, 0, getReg(cpu, 0, (m >> 3) & 7));
      return;
    }
    case 0x89: movEvGv(cpu); return;
    case 0x8a: {
      const m = modrm(cpu);
      setReg(cpu, 0, (m >> 3) & 7, readE(cpu, m, 0));
      return;
    }
    case 0x8b: movGvEv(cpu); return;
    case 0x8c: {
      const m = modrm(cpu);
      const s = (m >> 3) & 7;
      if (s > cpu.traits.lastSegmentRegister) throwFault(6);
      // A register destination with 32-bit operand size gets the selector zero-extended (P6 and later).
      if (m >= 0xc0) setReg(cpu, (cpu.opSize32 ? 2 : 1), m & 7, cpu.seg[s]);
      else cpu.write16(cpu.eaSeg, cpu.eaOff, cpu.seg[s]);
      return;
    }
    case 0x8d: {
      const m = modrmMemory(cpu);
      setReg(cpu, (cpu.opSize32 ? 2 : 1), (m >> 3) & 7, cpu.eaOff);
      return;
    }
    case 0x8e: {
      const m = modrm(cpu);
      const s = (m >> 3) & 7;
      if (s > cpu.traits.lastSegmentRegister || s === CS) throwFault(6);
      loadSeg(cpu, s, readE(cpu, m, 1));
      return;
    }
    case 0x8f: {
      const m = cpu.fetch8();
      if ((m & 0x38) !== 0) throwFault(6);
      const size = (cpu.opSize32 ? 2 : 1);
      const v = pop(cpu);
      if (m >= 0xc0) setReg(cpu, size, m & 7, v);
      else {
        decodeEa(cpu, m);
        if (cpu.traits.popMemoryMovesSpBeforeWrite) cpu.startEsp = cpu.reg32[4];
        writeE(cpu, m, size, v);
      }
      return;
    }
    case 0x90:
      return;
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const size = (cpu.opSize32 ? 2 : 1);
      const v = getReg(cpu, size, op & 7);
      setReg(cpu, size, op & 7, getReg(cpu, size, 0));
      setReg(cpu, size, 0, v);
      return;
    }
    case 0x98:
      if (cpu.opSize32) r32[0] = (r32[0] << 16) >> 16;
      else r16[0] = (r8[0] << 24) >> 24;
      return;
    case 0x99:
      if (cpu.opSize32) r32[2] = r32[0] >> 31;
      else r16[4] = (r16[0] << 16) >> 31;
      return;
    case 0x9a: {
      const offset = fetchImm(cpu, (cpu.opSize32 ? 2 : 1));
      const selector = cpu.fetch16();
      farCall(cpu, selector, offset, cpu.opSize32);
      cpu.codeSizeChanged();
      return;
    }
    case 0x9b:
      // WAIT: #NM when both MP and TS are set, then any pending unmasked x87 exception.
      if ((cpu.cr0 & 0xa) === 0xa) throwFault(7);
      if (cpu.fpu.exceptionPending) reportFpuError(cpu);
      return;
    case 0x9c: {
      const v = eflagsForPush(cpu);
      if (cpu.opSize32) cpu.push32(v);
      else cpu.push16(v);
      return;
    }
    case 0x9d: {
      const v = cpu.opSize32 ? cpu.peek32(0) : cpu.peek16(0);
      popEflags(cpu, v, cpu.opSize32);
      if (cpu.opSize32) cpu.pop32();
      else cpu.pop16();
      return;
    }
    case 0x9e:
      cpu.materializeFlags();
      cpu.flags = (cpu.flags & ~(SF | ZF | AF | PF | CF)) | (r8[1] & (SF | ZF | AF | PF | CF));
      return;
    case 0x9f:
      r8[1] = (cpu.getEflags() & 0xff) | 2;
      return;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      const off = cpu.addrSize32 ? cpu.fetch32() : cpu.fetch16();
      const s = cpu.segOverride >= 0 ? cpu.segOverride : DS;
      const size = op & 1 ? (cpu.opSize32 ? 2 : 1) : 0;
      if (op < 0xa2) {
        if (size === 0) r8[0] = cpu.read8(s, off);
        else if (size === 1) r16[0] = cpu.read16(s, off);
        else r32[0] = cpu.read32(s, off);
      } else if (size === 0) cpu.write8(s, off, r8[0]);
      else if (size === 1) cpu.write16(s, off, r16[0]);
      else cpu.write32(s, off, r32[0]);
      return;
    }
    case 0xa8: cpu.setLogicFlags(r8[0] & cpu.fetch8(), 0, 0); return;
    case 0xa9: {
      const size = (cpu.opSize32 ? 2 : 1);
      cpu.setLogicFlags(getReg(cpu, size, 0) & fetchImm(cpu, size), size, 0);
      return;
    }
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      setReg(cpu, 0, op & 7, cpu.fetch8());
      return;
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
      if (cpu.opSize32) r32[op & 7] = cpu.fetch32();
      else r16[(op & 7) << 1] = cpu.fetch16();
      return;
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const size = op & 1 ? (cpu.opSize32 ? 2 : 1) : 0;
      const m = modrm(cpu);
      // Read with write intent even for a count of 0, which then leaves memory and flags alone.
      const a = readRmwE(cpu, m, size);
      const count = op < 0xd0 ? cpu.fetch8() : op < 0xd2 ? 1 : r8[4];
      const r = shift(cpu, (m >> 3) & 7, a, count, size);
      if ((count & 31) !== 0) writeRmwE(cpu, m, size, r);
      return;
    }
    case 0xc2: case 0xc3: {
      const extra = op === 0xc2 ? cpu.fetch16() : 0;
      const target = pop(cpu);
      jumpTo(cpu, target);
      releaseStack(cpu, extra);
      return;
    }
    case 0xc4: case 0xc5: loadFarPointer(cpu, op === 0xc4 ? ES : DS); return;
    case 0xc6: case 0xc7: {
      const size = op & 1 ? (cpu.opSize32 ? 2 : 1) : 0;
      const m = cpu.fetch8();
      if ((m & 0x38) !== 0) throwFault(6);
      if (m < 0xc0) decodeEa(cpu, m);
      writeE(cpu, m, size, fetchImm(cpu, size));
      return;
    }
    case 0xc8: enter(cpu); return;
    case 0xc9: {
      if (cpu.stack32) r32[4] = r32[5];
      else r16[8] = r16[10];
      if (cpu.opSize32) r32[5] = cpu.pop32();
      else r16[10] = cpu.pop16();
      return;
    }
    case 0xca: case 0xcb: {
      const extra = op === 0xca ? cpu.fetch16() : 0;
      farReturn(cpu, cpu.opSize32, extra);
      cpu.codeSizeChanged();
      return;
    }
    case 0xcc: softwareInterrupt(cpu, 3, 'int3'); return;
    case 0xcd: softwareInterrupt(cpu, cpu.fetch8(), 'software'); return;
    case 0xce: if (cpu.getOF()) softwareInterrupt(cpu, 4, 'into'); return;
    case 0xcf:
      interruptReturn(cpu, cpu.opSize32);
      cpu.codeSizeChanged();
      cpu.events |= EV_POLL_IRQ;
      return;
    case 0xd4: aam(cpu, cpu.fetch8()); return;
    case 0xd5: aad(cpu, cpu.fetch8()); return;
    case 0xd6: r8[0] = cpu.getCF() ? 0xff : 0; return;
    case 0xd7: {
      const s = cpu.segOverride >= 0 ? cpu.segOverride : DS;
      const off = cpu.addrSize32 ? (r32[3] + r8[0]) | 0 : (r16[6] + r8[0]) & 0xffff;
      r8[0] = cpu.read8(s, off);
      return;
    }
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf: {
      const m = modrm(cpu);
      // #NM when CR0.EM or CR0.TS says so; then the whole memory operand is checked (its segment
      // limit; for a store also the segment type and the pages, for a write) before the x87 changes
      // any state, so a #GP/#SS/#PF leaves the FPU as it was.
      if (cpu.cr0 & 0xc) throwFault(7);
      const esc = op & 7;
      if (m < 0xc0) {
        const size = memoryOperandBytes(esc, m, cpu.opSize32);
        if (size > 0 && isFpuStore(esc, m)) cpu.probeWrite(cpu.eaSeg, cpu.eaOff, size);
        else if (size > 0) cpu.linear(cpu.eaSeg, cpu.eaOff, size);
      }
      if (cpu.fpu.exceptionPending && needsPendingCheck(esc, m)) reportFpuError(cpu);
      const realAddressing = !cpu.protectedMode || cpu.v86Mode;
      const mode = (cpu.opSize32 ? FPU_OPSIZE32 : 0) | (realAddressing ? 0 : FPU_PROTECTED);
      // Real-address images record the instruction's linear address; protected ones CS:EIP.
      const ip = realAddressing ? (cpu.segBase[CS] + cpu.startEip) >>> 0 : cpu.startEip;
      if (executeFpu(cpu.fpu, cpu.fpuHost, esc, m, cpu.eaOff, mode, ip, cpu.seg[CS]) !== 0) throwFault(6);
      return;
    }
    case 0xe0: case 0xe1: case 0xe2: {
      const rel = (cpu.fetch8() << 24) >> 24;
      // The count is stored after the jump's limit check: a LOOP that faults leaves ECX (CX) as it was.
      const count = cpu.addrSize32 ? (r32[1] - 1) | 0 : (r16[2] - 1) & 0xffff;
      if (count !== 0 && (op === 0xe2 || cpu.getZF() === (op === 0xe1))) jumpTo(cpu, cpu.eip + rel);
      if (cpu.addrSize32) r32[1] = count;
      else r16[2] = count;
      return;
    }
    case 0xe3: {
      const rel = (cpu.fetch8() << 24) >> 24;
      if ((cpu.addrSize32 ? r32[1] : r16[2]) === 0) jumpTo(cpu, cpu.eip + rel);
      return;
    }
    case 0xe4: case 0xe5: case 0xec: case 0xed: {
      const port = op < 0xe8 ? cpu.fetch8() : r16[4];
      const size = (op & 1 ? (cpu.opSize32 ? 4 : 2) : 1) as AccessSize;
      ioCheck(cpu, port, size, false, false);
      const v = portRead(cpu, port, size);
      if (size === 1) r8[0] = v;
      else if (size === 2) r16[0] = v;
      else r32[0] = v;
      return;
    }
    case 0xe6: case 0xe7: case 0xee: case 0xef: {
      const port = op < 0xe8 ? cpu.fetch8() : r16[4];
      const size = (op & 1 ? (cpu.opSize32 ? 4 : 2) : 1) as AccessSize;
      ioCheck(cpu, port, size, true, false);
      portWrite(cpu, port, size, size === 1 ? r8[0] : size === 2 ? r16[0] : r32[0]);
      return;
    }
    case 0xe8: {
      const rel = fetchImm(cpu, (cpu.opSize32 ? 2 : 1));
      callTo(cpu, cpu.eip + rel);
      return;
    }
    case 0xe9: {
      const rel = fetchImm(cpu, (cpu.opSize32 ? 2 : 1));
      jumpTo(cpu, cpu.eip + rel);
      return;
    }
    case 0xea: {
      const offset = fetchImm(cpu, (cpu.opSize32 ? 2 : 1));
      const selector = cpu.fetch16();
      farJump(cpu, selector, offset, cpu.opSize32);
      cpu.codeSizeChanged();
      return;
    }
    case 0xeb: {
      const rel = (cpu.fetch8() << 24) >> 24;
      jumpTo(cpu, cpu.eip + rel);
      return;
    }
    case 0xf1: softwareInterrupt(cpu, 1, 'icebp'); return;
    case 0xf4: hlt(cpu); return;
    case 0xf5:
      cpu.setCF(cpu.getCF() === 0);
      return;
    case 0xf6: case 0xf7: group3(cpu, op); return;
    case 0xf8: cpu.setCF(false); return;
    case 0xf9: cpu.setCF(true); return;
    case 0xfa: setInterruptFlag(cpu, false); return;
    case 0xfb: {
      const wasEnabled = (cpu.flags & IF) !== 0;
      setInterruptFlag(cpu, true);
      if (!wasEnabled) cpu.beginShadow();
      return;
    }
    case 0xfc: cpu.flags &= ~DF; return;
    case 0xfd: cpu.flags |= DF; return;
    case 0xfe: case 0xff: group45(cpu, op); return;
    default:
      throwFault(6);
  }
}

/** MOV Ev,Gv with the dword register-to-register and register-to-memory forms first. */
function movEvGv(cpu: Cpu): void {
  const m = cpu.fetch8();
  const g = (m >> 3) & 7;
  if (cpu.opSize32) {
    if (m >= 0xc0) cpu.reg32[m & 7] = cpu.reg32[g];
    else {
      decodeEa(cpu, m);
      cpu.write32(cpu.eaSeg, cpu.eaOff, cpu.reg32[g]);
    }
  } else if (m >= 0xc0) cpu.reg16[(m & 7) << 1] = cpu.reg16[g << 1];
  else {
    decodeEa(cpu, m);
    cpu.write16(cpu.eaSeg, cpu.eaOff, cpu.reg16[g << 1]);
  }
}

/** MOV Gv,Ev. */
function movGvEv(cpu: Cpu): void {
  const m = cpu.fetch8();
  const g = (m >> 3) & 7;
  if (cpu.opSize32) {
    if (m >= 0xc0) cpu.reg32[g] = cpu.reg32[m & 7];
    else {
      decodeEa(cpu, m);
      cpu.reg32[g] = cpu.read32(cpu.eaSeg, cpu.eaOff);
    }
  } else if (m >= 0xc0) cpu.reg16[g << 1] = cpu.reg16[(m & 7) << 1];
  else {
    decodeEa(cpu, m);
    cpu.reg16[g << 1] = cpu.read16(cpu.eaSeg, cpu.eaOff);
  }
}

function aluForms(cpu: Cpu, op: number): void {
  const kind = op >> 3;
  const form = op & 7;
  if (form === 4) {
    cpu.reg8[0] = alu(cpu, kind, cpu.reg8[0], cpu.fetch8(), 0);
    return;
  }
  if (form === 5) {
    if (cpu.opSize32) cpu.reg32[0] = alu(cpu, kind, cpu.reg32[0], cpu.fetch32(), 2);
    else cpu.reg16[0] = alu(cpu, kind, cpu.reg16[0], cpu.fetch16(), 1);
    return;
  }
  const size = form & 1 ? (cpu.opSize32 ? 2 : 1) : 0;
  const m = modrm(cpu);
  const g = (m >> 3) & 7;
  if (size === 2 && m >= 0xc0) {
    // The commonest form: dword register to register.
    const r32 = cpu.reg32;
    const rm = m & 7;
    if (form === 1) {
      const r = alu(cpu, kind, r32[rm], r32[g], 2);
      if (kind !== 7) r32[rm] = r;
    } else {
      const r = alu(cpu, kind, r32[g], r32[rm], 2);
      if (kind !== 7) r32[g] = r;
    }
    return;
  }
  if (form < 2) {
    if (kind === 7) alu(cpu, 7, readE(cpu, m, size), getReg(cpu, size, g), size);
    else writeRmwE(cpu, m, size, alu(cpu, kind, readRmwE(cpu, m, size), getReg(cpu, size, g), size));
  } else {
    const r = alu(cpu, kind, getReg(cpu, size, g), readE(cpu, m, size), size);
    if (kind !== 7) setReg(cpu, size, g, r);
  }
}

/** MOV/POP/LxS to a segment register; SS starts an interrupt shadow (SDM Vol. 2 "MOV", "POP"). */
export function loadSeg(cpu: Cpu, s: number, selector: number): void {
  loadSegment(cpu, s, selector);
  if (s === SS) cpu.beginShadow(true);
}

export function popSegment(cpu: Cpu, s: number): void {
  const v = cpu.opSize32 ? cpu.peek32(0) : cpu.peek16(0);
  const stack32 = cpu.stack32;
  loadSeg(cpu, s, v & 0xffff);
  const bytes = cpu.opSize32 ? 4 : 2;
  if (stack32) cpu.reg32[4] = (cpu.reg32[4] + bytes) | 0;
  else cpu.reg16[8] = cpu.reg16[8] + bytes;
}

/** ESP/SP += bytes, in the stack's width. */
function releaseStack(cpu: Cpu, bytes: number): void {
  if (bytes === 0) return;
  if (cpu.stack32) cpu.reg32[4] = (cpu.reg32[4] + bytes) | 0;
  else cpu.reg16[8] = cpu.reg16[8] + bytes;
}

/** LES LDS (and LSS LFS LGS from 0F): offset then selector from memory. */
export function loadFarPointer(cpu: Cpu, s: number): void {
  const m = modrmMemory(cpu);
  const size = (cpu.opSize32 ? 2 : 1);
  const offset = readMem(cpu, size);
  const selector = readMemAt(cpu, 1, size === 2 ? 4 : 2);
  // Unlike MOV SS and POP SS, LSS opens no interrupt shadow.
  loadSegment(cpu, s, selector);
  setReg(cpu, size, (m >> 3) & 7, offset);
}

function pusha(cpu: Cpu): void {
  const sp = cpu.opSize32 ? cpu.reg32[4] : cpu.reg16[8];
  for (let r = 0; r < 8; r++) {
    const v = r === 4 ? sp : cpu.opSize32 ? cpu.reg32[r] : cpu.reg16[r << 1];
    push(cpu, v);
  }
}

function popa(cpu: Cpu): void {
  for (let r = 7; r >= 0; r--) {
    const v = pop(cpu);
    if (r === 4) continue;
    if (cpu.opSize32) cpu.reg32[r] = v;
    else cpu.reg16[r << 1] = v;
  }
}

/** BOUND: #BR unless lower <= index <= upper (signed). */
function bound(cpu: Cpu): void {
  const m = modrmMemory(cpu);
  const size = (cpu.opSize32 ? 2 : 1);
  let index = getReg(cpu, size, (m >> 3) & 7);
  let lower = readMem(cpu, size);
  let upper = readMemAt(cpu, size, size === 2 ? 4 : 2);
  if (size === 1) {
    index = (index << 16) >> 16;
    lower = (lower << 16) >> 16;
    upper = (upper << 16) >> 16;
  }
  if (index < lower || index > upper) throwFault(5);
}

/**
 * ENTER imm16, imm8 (SDM Vol. 2 "ENTER"): nesting level taken modulo 32. The operand size sets the
 * width of what is pushed and of the frame pointer (FrameTemp is ESP with a 32-bit operand, SP
 * with a 16-bit one, whatever the stack size); the stack size (SS.B) sets which part of ESP and of
 * EBP moves, so on a 16-bit stack the upper half of ESP is kept. Every store lands before any
 * register changes, so a faulting ENTER leaves ESP and EBP as they were.
 */
function enter(cpu: Cpu): void {
  const size = cpu.fetch16();
  const level = cpu.fetch8() & 31;
  const op32 = cpu.opSize32;
  const s32 = cpu.stack32;
  const step = op32 ? 4 : 2;
  const esp = cpu.reg32[4];
  let sp = s32 ? esp : esp & 0xffff;
  sp = enterPush(cpu, sp, s32, op32, op32 ? cpu.reg32[5] : cpu.reg16[10]);
  // FrameTemp: the stack pointer after pushing BP, with ESP's upper half on a 16-bit stack.
  const frame = op32 ? (s32 ? sp : (esp & ~0xffff) | sp) : sp & 0xffff;
  if (level > 0) {
    let bp = s32 ? cpu.reg32[5] : cpu.reg16[10];
    for (let i = 1; i < level; i++) {
      bp = s32 ? (bp - step) | 0 : (bp - step) & 0xffff;
      sp = enterPush(cpu, sp, s32, op32, op32 ? cpu.read32(SS, bp) : cpu.read16(SS, bp));
    }
    sp = enterPush(cpu, sp, s32, op32, frame);
  }
  sp = s32 ? (sp - size) | 0 : (sp - size) & 0xffff;
  // The new top of stack must be writable (the hardware probes it): #SS otherwise.
  cpu.linear(SS, sp, 1);
  if (op32) cpu.reg32[5] = frame;
  else cpu.reg16[10] = frame;
  if (s32) cpu.reg32[4] = sp;
  else cpu.reg16[8] = sp;
}

/** One ENTER store below stack offset `sp` (in the stack's width); returns the new offset. */
function enterPush(cpu: Cpu, sp: number, s32: boolean, op32: boolean, value: number): number {
  const next = s32 ? (sp - (op32 ? 4 : 2)) | 0 : (sp - (op32 ? 4 : 2)) & 0xffff;
  if (op32) cpu.write32(SS, next, value);
  else cpu.write16(SS, next, value);
  return next;
}

function softwareInterrupt(cpu: Cpu, vector: number, kind: 'int3' | 'software' | 'into' | 'icebp'): void {
  if (kind !== 'software' && (cpu.intercepts.softwareExceptions >> vector) & 1) {
    // A VMM's exception bitmap catches INT3, INTO and ICEBP (VMX: software exceptions), never INT n.
    const stop = cpu.stop;
    stop.vector = vector;
    stop.errorCode = -1;
    stop.opcode = kind === 'int3' ? 0xcc : kind === 'into' ? 0xce : 0xf1;
    cpu.interceptStop('exception');
  }
  deliverInterrupt(cpu, vector, kind, 0);
  cpu.codeSizeChanged();
}

function hlt(cpu: Cpu): void {
  if (cpu.protectedMode && cpu.cpl !== 0) throwFault(13, 0);
  if (cpu.intercepts.hlt) cpu.interceptStop('hlt');
  cpu.halted = true;
  cpu.events |= EV_POLL_IRQ;
}

/** F6/F7: TEST NOT NEG MUL IMUL DIV IDIV. */
function group3(cpu: Cpu, op: number): void {
  const size = op & 1 ? (cpu.opSize32 ? 2 : 1) : 0;
  const m = modrm(cpu);
  const reg = (m >> 3) & 7;
  if (reg === 2 || reg === 3) {
    const v = readRmwE(cpu, m, size);
    writeRmwE(cpu, m, size, reg === 3 ? alu(cpu, 5, 0, v, size) : size === 2 ? ~v : ~v & (size === 0 ? 0xff : 0xffff));
    return;
  }
  const a = readE(cpu, m, size);
  switch (reg) {
    case 0:
    case 1:
      cpu.setLogicFlags(a & fetchImm(cpu, size), size, 0);
      return;
    case 4: mul(cpu, a, size); return;
    case 5: imulWide(cpu, a, size); return;
    case 6: div(cpu, a, size); return;
    default: idiv(cpu, a, size); return;
  }
}

/** FE/FF: INC DEC CALL CALLF JMP JMPF PUSH. */
function group45(cpu: Cpu, op: number): void {
  const m = cpu.fetch8();
  const reg = (m >> 3) & 7;
  if (op === 0xfe && reg > 1) throwFault(6);
  if (reg === 7) throwFault(6);
  if ((reg === 3 || reg === 5) && m >= 0xc0) throwFault(6);
  if (m < 0xc0) decodeEa(cpu, m);
  const size = op === 0xfe ? 0 : (cpu.opSize32 ? 2 : 1);
  switch (reg) {
    case 0:
    case 1:
      writeRmwE(cpu, m, size, incDec(cpu, readRmwE(cpu, m, size), reg === 1, size));
      return;
    case 2:
      callTo(cpu, readE(cpu, m, size));
      return;
    case 3:
    case 5: {
      const offset = readMem(cpu, size);
      const selector = readMemAt(cpu, 1, size === 2 ? 4 : 2);
      if (reg === 3) farCall(cpu, selector, offset, cpu.opSize32);
      else farJump(cpu, selector, offset, cpu.opSize32);
      cpu.codeSizeChanged();
      return;
    }
    case 4:
      jumpTo(cpu, readE(cpu, m, size));
      return;
    default:
      push(cpu, readE(cpu, m, size));
      return;
  }
}

/**
 * A pending unmasked x87 exception at a waiting instruction: #MF with CR0.NE set. With NE clear a
 * PC routes FERR# to IRQ 13; this CPU has no such line, so the exception stays pending unreported.
 */
export function reportFpuError(cpu: Cpu): void {
  if (cpu.cr0 & 0x20) throwFault(16);
}
