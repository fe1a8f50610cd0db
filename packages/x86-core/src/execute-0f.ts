import { alu, doubleShift, imulTruncate } from './alu.js';
import { FS, GS, SS, type Cpu } from './cpu.js';
import { cpuid } from './cpuid.js';
import { fxrstor, fxsave } from './fpu/environment.js';
import { FPU_OPSIZE32, FPU_PROTECTED } from './fpu/host.js';
import { loadFarPointer, popSegment } from './execute.js';
import { throwFault } from './fault.js';
import { ZF } from './flags.js';

const CR0_TS = 8;
import { readMsr, writeMsr } from './msr.js';
import { sse32 } from './sse/execute.js';
import { sysenter, sysexit } from './sysenter.js';
import {
  condition, decodeEa, fetchImm, getReg, jumpTo, modrm, modrmMemory, push, readE, readMem, readMemAt, readRmwE,
  setReg, vSize, writeE, writeMem, writeRmwE,
} from './operands.js';
import {
  clearTaskSwitched, loadAccessRights, loadGdtr, loadIdtr, loadLdtr, loadMachineStatusWord, loadSegmentLimit, loadTr,
  readControlRegister, readDebugRegister, storeLdtr, storeMachineStatusWord, storeTr, verifyRead, verifyWrite,
  writeControlRegister, writeDebugRegister,
} from './system/index.js';

/** Two-byte opcodes 0F xx. */
export function step0f(cpu: Cpu, op: number): void {
  if (cpu.checkOpcodes && cpu.intercepts.opcodes[0x100 | op]) {
    cpu.stop.opcode = 0x100 | op;
    cpu.interceptStop('opcode');
  }
  const r32 = cpu.reg32;
  switch (op) {
    case 0x00: group6(cpu); return;
    case 0x01: group7(cpu); return;
    case 0x02: case 0x03: {
      const m = modrm(cpu);
      const size = vSize(cpu);
      const selector = readE(cpu, m, 1);
      const v = op === 2 ? loadAccessRights(cpu, selector) : loadSegmentLimit(cpu, selector);
      if (v !== -1) setReg(cpu, size, (m >> 3) & 7, v);
      return;
    }
    case 0x06:
      if (cpu.intercepts.crWrite & 1) {
        if (!cpu.intercepts.crShadowing) crIntercept(cpu, 'cr-write', 0, -1);
        // VMX: CLTS exits when the host owns TS and its shadow is set; a host-owned TS stays as it is.
        requireCpl0(cpu);
        if (cpu.intercepts.cr0Mask & CR0_TS) {
          if (cpu.intercepts.cr0Shadow & CR0_TS) {
            cpu.stop.opcode = 0x106;
            crIntercept(cpu, 'cr-write', 0, -1);
          }
          return;
        }
      }
      clearTaskSwitched(cpu);
      return;
    case 0x08: case 0x09:
      requireCpl0(cpu);
      if (op === 0x08 ? cpu.intercepts.invd : cpu.intercepts.wbinvd) cpu.interceptStop(op === 0x08 ? 'invd' : 'wbinvd');
      return;
    case 0x0b:
      throwFault(6);
      return;
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      modrm(cpu);
      return;
    case 0x20: case 0x21: case 0x22: case 0x23: {
      // MOV to/from CRn/DRn: the ModRM always names a register, whatever its mod bits.
      const m = cpu.fetch8();
      const n = (m >> 3) & 7;
      const gpr = m & 7;
      if (op === 0x20) {
        if (cpu.intercepts.crRead & (1 << n)) {
          if (cpu.intercepts.crShadowing) requireCpl0(cpu);
          crIntercept(cpu, 'cr-read', n, gpr);
        }
        const v = readControlRegister(cpu, n);
        r32[gpr] = cpu.intercepts.crShadowing ? shadowedRead(cpu, n, v) : v;
      } else if (op === 0x22) {
        let v = r32[gpr];
        if (cpu.intercepts.crWrite & (1 << n)) v = interceptedCrWrite(cpu, n, gpr, v);
        writeControlRegister(cpu, n, v);
        cpu.flushFetch();
      } else {
        if (cpu.intercepts.debugRegisters) {
          requireCpl0(cpu);
          cpu.stop.cr = n;
          cpu.stop.gpr = gpr;
          cpu.interceptStop(op === 0x21 ? 'dr-read' : 'dr-write');
        }
        if (op === 0x21) r32[gpr] = readDebugRegister(cpu, n);
        else writeDebugRegister(cpu, n, r32[gpr]);
      }
      return;
    }
    case 0x30: case 0x32:
      requireCpl0(cpu);
      if (cpu.intercepts.msr) {
        cpu.stop.msr = r32[1] >>> 0;
        cpu.interceptStop(op === 0x30 ? 'wrmsr' : 'rdmsr');
      }
      if (op === 0x30) writeMsr(cpu, r32[1] >>> 0, r32[2], r32[0]);
      else readMsr(cpu, r32[1] >>> 0);
      return;
    case 0x34: sysenter(cpu); return;
    case 0x35: sysexit(cpu, false); return;
    case 0x31: {
      // CR4.TSD makes RDTSC privileged.
      if (cpu.cr4 & 4 && cpu.protectedMode && cpu.cpl !== 0) throwFault(13, 0);
      const tsc = cpu.readTsc();
      r32[0] = tsc % 0x100000000;
      r32[2] = Math.floor(tsc / 0x100000000);
      return;
    }
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      const size = vSize(cpu);
      const m = modrm(cpu);
      // The source is read (and may fault) whether or not the condition holds.
      const v = readE(cpu, m, size);
      if (condition(cpu, op & 15)) setReg(cpu, size, (m >> 3) & 7, v);
      return;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f: {
      const rel = fetchImm(cpu, vSize(cpu));
      if (condition(cpu, op & 15)) jumpTo(cpu, cpu.eip + (cpu.opSize32 ? rel : (rel << 16) >> 16));
      return;
    }
    case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f: {
      const m = modrm(cpu);
      writeE(cpu, m, 0, condition(cpu, op & 15) ? 1 : 0);
      return;
    }
    case 0xa0: push(cpu, cpu.seg[FS]); return;
    case 0xa1: popSegment(cpu, FS); return;
    case 0xa8: push(cpu, cpu.seg[GS]); return;
    case 0xa9: popSegment(cpu, GS); return;
    case 0xa2:
      if (cpu.intercepts.cpuid) cpu.interceptStop('cpuid');
      cpuid(cpu);
      return;
    case 0xa3: case 0xab: case 0xb3: case 0xbb: bitTest(cpu, op); return;
    case 0xba: bitTestImmediate(cpu); return;
    case 0xa4: case 0xa5: case 0xac: case 0xad: {
      const size = vSize(cpu);
      const m = modrm(cpu);
      const a = readRmwE(cpu, m, size);
      const b = getReg(cpu, size, (m >> 3) & 7);
      const count = op & 1 ? cpu.reg8[4] : cpu.fetch8();
      const r = doubleShift(cpu, op < 0xa8, a, b, count, size);
      if ((count & 31) !== 0) writeRmwE(cpu, m, size, r);
      return;
    }
    case 0xae:
      if (cpu.traits.sse) sse32(cpu, op);
      else group15(cpu);
      return;
    case 0xaf: {
      const size = vSize(cpu);
      const m = modrm(cpu);
      const g = (m >> 3) & 7;
      setReg(cpu, size, g, imulTruncate(cpu, getReg(cpu, size, g), readE(cpu, m, size), size));
      return;
    }
    case 0xb0: case 0xb1: {
      const size = op & 1 ? vSize(cpu) : 0;
      const m = modrm(cpu);
      const dest = readRmwE(cpu, m, size);
      const acc = getReg(cpu, size, 0);
      alu(cpu, 7, acc, dest, size);
      // The destination is always written (with its old value on failure), as the locked bus cycle does.
      if (acc === dest) writeRmwE(cpu, m, size, getReg(cpu, size, (m >> 3) & 7));
      else {
        writeRmwE(cpu, m, size, dest);
        setReg(cpu, size, 0, dest);
      }
      return;
    }
    case 0xb2: loadFarPointer(cpu, SS); return;
    case 0xb4: loadFarPointer(cpu, FS); return;
    case 0xb5: loadFarPointer(cpu, GS); return;
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
      const m = modrm(cpu);
      const wide = op & 1;
      let v = readE(cpu, m, wide);
      if (op >= 0xbe) v = wide ? (v << 16) >> 16 : (v << 24) >> 24;
      setReg(cpu, vSize(cpu), (m >> 3) & 7, cpu.opSize32 ? v : v & 0xffff);
      return;
    }
    case 0xbc: case 0xbd: {
      const size = vSize(cpu);
      const m = modrm(cpu);
      const v = size === 2 ? readE(cpu, m, size) >>> 0 : readE(cpu, m, size);
      cpu.materializeFlags();
      if (v === 0) {
        // The destination is left unchanged (undefined in the SDM; what P6 does).
        cpu.flags |= ZF;
        return;
      }
      cpu.flags &= ~ZF;
      const bit = op === 0xbc ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
      setReg(cpu, size, (m >> 3) & 7, bit);
      return;
    }
    case 0xc0: case 0xc1: {
      const size = op & 1 ? vSize(cpu) : 0;
      const m = modrm(cpu);
      const g = (m >> 3) & 7;
      const dest = readRmwE(cpu, m, size);
      const src = getReg(cpu, size, g);
      const sum = alu(cpu, 0, dest, src, size);
      setReg(cpu, size, g, dest);
      writeRmwE(cpu, m, size, sum);
      return;
    }
    case 0xc7: cmpxchg8b(cpu); return;
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf: {
      const v = r32[op & 7];
      // BSWAP with a 16-bit operand is undefined; P6 clears the register's low word.
      if (cpu.opSize32) r32[op & 7] = (v << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
      else cpu.reg16[(op & 7) << 1] = 0;
      return;
    }
    default:
      // SSE/SSE2 on the models that have it; the i686 has neither.
      if (!cpu.traits.sse || !sse32(cpu, op)) throwFault(6);
  }
}

function requireCpl0(cpu: Cpu): void {
  if (cpu.protectedMode && (cpu.cpl !== 0 || cpu.v86Mode)) throwFault(13, 0);
}

function crIntercept(cpu: Cpu, reason: 'cr-read' | 'cr-write', n: number, gpr: number): never {
  cpu.stop.cr = n;
  cpu.stop.gpr = gpr;
  return cpu.interceptStop(reason);
}

/** VMX read shadows: CR0/CR4 bits the host owns read as their shadow. */
function shadowedRead(cpu: Cpu, n: number, value: number): number {
  const i = cpu.intercepts;
  if (n === 0) return ((value & ~i.cr0Mask) | (i.cr0Shadow & i.cr0Mask)) >>> 0;
  if (n === 4) return ((value & ~i.cr4Mask) | (i.cr4Shadow & i.cr4Mask)) >>> 0;
  return value;
}

/**
 * An intercepted MOV to CRn: stops, unless VMX guest/host masks are in force (`crShadowing`) and the
 * write leaves every host-owned CR0/CR4 bit at its shadow value; then the guest's bits are merged
 * with the host-owned bits of the current value.
 */
function interceptedCrWrite(cpu: Cpu, n: number, gpr: number, value: number): number {
  const i = cpu.intercepts;
  if (!i.crShadowing) crIntercept(cpu, 'cr-write', n, gpr);
  requireCpl0(cpu);
  if (n !== 0 && n !== 4) crIntercept(cpu, 'cr-write', n, gpr);
  const mask = n === 0 ? i.cr0Mask : i.cr4Mask;
  const shadow = n === 0 ? i.cr0Shadow : i.cr4Shadow;
  if (((value ^ shadow) & mask) !== 0) crIntercept(cpu, 'cr-write', n, gpr);
  return (value & ~mask) | ((n === 0 ? cpu.cr0 : cpu.cr4) & mask);
}

/** LMSW under VMX masks (SDM 25.1.3): the source's low four bits against the CR0 mask and shadow. */
function interceptedLmsw(cpu: Cpu, source: number): number {
  const i = cpu.intercepts;
  requireCpl0(cpu);
  const mask = i.cr0Mask & 0xf;
  const shadow = i.cr0Shadow;
  if ((mask & 1 && !(shadow & 1) && source & 1) || ((source ^ shadow) & mask & 0xe) !== 0) {
    cpu.stop.opcode = 0x101;
    cpu.stop.data = source & 0xffff;
    crIntercept(cpu, 'cr-write', 0, -1);
  }
  return (source & ~mask) | (cpu.cr0 & mask);
}

function dtrIntercept(cpu: Cpu, which: number): void {
  if (cpu.intercepts.descriptorTables) {
    cpu.stop.opcode = which;
    cpu.interceptStop('dtr');
  }
}

/** 0F 00: SLDT STR LLDT LTR VERR VERW, protected mode only. */
function group6(cpu: Cpu): void {
  const m = modrm(cpu);
  const reg = (m >> 3) & 7;
  if (!cpu.protectedMode || cpu.v86Mode || reg > 5) throwFault(6);
  switch (reg) {
    case 0:
    case 1: {
      dtrIntercept(cpu, 0x100 | reg);
      const v = reg === 0 ? storeLdtr(cpu) : storeTr(cpu);
      if (m >= 0xc0) setReg(cpu, vSize(cpu), m & 7, v);
      else writeMem(cpu, 1, v);
      return;
    }
    case 2:
    case 3: {
      dtrIntercept(cpu, 0x100 | reg);
      const selector = readE(cpu, m, 1);
      if (reg === 2) loadLdtr(cpu, selector);
      else loadTr(cpu, selector);
      return;
    }
    case 4: verifyRead(cpu, readE(cpu, m, 1)); return;
    default: verifyWrite(cpu, readE(cpu, m, 1)); return;
  }
}

/** 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG. */
function group7(cpu: Cpu): void {
  const m = cpu.fetch8();
  const reg = (m >> 3) & 7;
  if (m === 0xc1 && cpu.intercepts.vmcall) cpu.interceptStop('vmcall');
  if (reg === 5 || (m >= 0xc0 && reg !== 4 && reg !== 6)) throwFault(6);
  if (m < 0xc0) decodeEa(cpu, m);
  switch (reg) {
    case 0:
    case 1: {
      dtrIntercept(cpu, 0x108 | reg);
      const limit = reg === 0 ? cpu.gdtrLimit : cpu.idtrLimit;
      const base = reg === 0 ? cpu.gdtrBase : cpu.idtrBase;
      writeMem(cpu, 1, limit);
      const off = cpu.addrSize32 ? (cpu.eaOff + 2) | 0 : (cpu.eaOff + 2) & 0xffff;
      // With a 16-bit operand size the high byte of the base is stored as zero (SDM "SGDT").
      cpu.write32(cpu.eaSeg, off, cpu.opSize32 ? base : base & 0xffffff);
      return;
    }
    case 2:
    case 3: {
      dtrIntercept(cpu, 0x108 | reg);
      const limit = readMem(cpu, 1);
      const base = readMemAt(cpu, 2, 2);
      if (reg === 2) loadGdtr(cpu, limit, base, cpu.opSize32);
      else loadIdtr(cpu, limit, base, cpu.opSize32);
      return;
    }
    case 4: {
      if (cpu.intercepts.crRead & 1 && !cpu.intercepts.crShadowing) crIntercept(cpu, 'cr-read', 0, -1);
      const stored = storeMachineStatusWord(cpu);
      const v = cpu.intercepts.crShadowing ? shadowedRead(cpu, 0, stored) : stored;
      if (m >= 0xc0) setReg(cpu, vSize(cpu), m & 7, cpu.opSize32 ? v : v & 0xffff);
      else writeMem(cpu, 1, v & 0xffff);
      return;
    }
    case 6: {
      if (cpu.intercepts.crWrite & 1 && !cpu.intercepts.crShadowing) crIntercept(cpu, 'cr-write', 0, -1);
      let source = readE(cpu, m, 1);
      if (cpu.intercepts.crWrite & 1) source = interceptedLmsw(cpu, source);
      loadMachineStatusWord(cpu, source);
      cpu.codeSizeChanged();
      return;
    }
    default: {
      requireCpl0(cpu);
      const linear = cpu.linear(cpu.eaSeg, cpu.eaOff, 1);
      if (cpu.intercepts.invlpg) {
        cpu.stop.msr = linear >>> 0;
        cpu.interceptStop('invlpg');
      }
      cpu.paging?.invalidate(linear >>> 0);
      cpu.flushFetch();
      return;
    }
  }
}

/** BT BTS BTR BTC Ev,Gv: a register bit offset reaches beyond the operand in memory (signed). */
function bitTest(cpu: Cpu, op: number): void {
  const size = vSize(cpu);
  const m = modrm(cpu);
  const bits = size === 2 ? 32 : 16;
  let offset = getReg(cpu, size, (m >> 3) & 7);
  if (m < 0xc0) {
    if (size === 1) offset = (offset << 16) >> 16;
    const byteDelta = Math.floor(offset / bits) * (bits / 8);
    cpu.eaOff = cpu.addrSize32 ? (cpu.eaOff + byteDelta) | 0 : (cpu.eaOff + byteDelta) & 0xffff;
  }
  bitOperation(cpu, m, size, offset & (bits - 1), op === 0xa3 ? 0 : op === 0xab ? 1 : op === 0xb3 ? 2 : 3);
}

/** 0F BA /4-7: BT BTS BTR BTC Ev,Ib. */
function bitTestImmediate(cpu: Cpu): void {
  const size = vSize(cpu);
  const m = modrm(cpu);
  const reg = (m >> 3) & 7;
  if (reg < 4) throwFault(6);
  const offset = cpu.fetch8() & (size === 2 ? 31 : 15);
  bitOperation(cpu, m, size, offset, reg - 4);
}

function bitOperation(cpu: Cpu, m: number, size: number, bit: number, kind: number): void {
  const v = kind === 0 ? readE(cpu, m, size) : readRmwE(cpu, m, size);
  const mask = 1 << bit;
  cpu.setCF((v & mask) !== 0);
  if (kind === 0) return;
  const r = kind === 1 ? v | mask : kind === 2 ? v & ~mask : v ^ mask;
  writeRmwE(cpu, m, size, size === 2 ? r : r & 0xffff);
}

/** 0F C7 /1: CMPXCHG8B m64 (compare EDX:EAX, store ECX:EBX). */
function cmpxchg8b(cpu: Cpu): void {
  const m = modrmMemory(cpu);
  if (((m >> 3) & 7) !== 1) throwFault(6);
  // All eight bytes are checked for a write (segment, limit, both pages) before any is read.
  cpu.beginRmw(cpu.eaSeg, cpu.eaOff, 8);
  const lo = cpu.rmwRead(0, 4);
  const hi = cpu.rmwRead(4, 4);
  const r32 = cpu.reg32;
  cpu.materializeFlags();
  if (lo === r32[0] && hi === r32[2]) {
    cpu.rmwWrite(0, 4, r32[3]);
    cpu.rmwWrite(4, 4, r32[1]);
    cpu.flags |= ZF;
  } else {
    // The old value is written back, as the locked cycle does, then loaded into EDX:EAX.
    cpu.rmwWrite(0, 4, lo);
    cpu.rmwWrite(4, 4, hi);
    r32[0] = lo;
    r32[2] = hi;
    cpu.flags &= ~ZF;
  }
}

/** The FXSAVE/FXRSTOR image: 512 bytes on a 16-byte boundary. */
const FXSAVE_AREA = 512;

/**
 * 0F AE (group 15): FXSAVE m512 (/0) and FXRSTOR m512 (/1), SDM Vol. 2A. The other forms — LDMXCSR,
 * STMXCSR, XSAVE/XRSTOR/XSAVEOPT, CLFLUSH and the register forms LFENCE/MFENCE/SFENCE — need SSE,
 * SSE2, XSAVE or CLFSH, which CPUID does not report, and raise #UD, as do the REP/REPNE-prefixed
 * encodings (FXSAVE and FXRSTOR are NP). Then #UD for CR0.EM, #NM for CR0.TS, #GP(0) for a linear
 * address off a 16-byte boundary (whatever the segment), and the segment limit for the whole area
 * before a byte moves. Pending x87 exceptions are neither checked nor cleared.
 */
function group15(cpu: Cpu): void {
  const m = modrm(cpu);
  const reg = (m >> 3) & 7;
  if (m >= 0xc0 || reg > 1 || cpu.rep !== 0) throwFault(6);
  if (cpu.cr0 & 4) throwFault(6);
  if (cpu.cr0 & 8) throwFault(7);
  const seg = cpu.eaSeg;
  const off = cpu.eaOff;
  if (((cpu.segBase[seg] + off) & 15) !== 0) throwFault(13, 0);
  // FXSAVE's bytes 160-511 stay as they are, but the whole area is checked as for a write of it.
  if (reg === 0) cpu.probeWrite(seg, off, FXSAVE_AREA);
  else cpu.linear(seg, off, FXSAVE_AREA);
  const mode = (cpu.opSize32 ? FPU_OPSIZE32 : 0) | (cpu.protectedMode && !cpu.v86Mode ? FPU_PROTECTED : 0);
  if (reg === 0) fxsave(cpu.fpu, cpu.fpuHost, off, mode);
  else if (!fxrstor(cpu.fpu, cpu.fpuHost, off, mode)) throwFault(13, 0);
}
