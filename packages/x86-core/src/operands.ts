import { CS, DS, SS, type Cpu } from './cpu.js';
import { throwFault } from './fault.js';

// ModRM decoding and operand access (SDM Vol. 2, 2.1.5 tables 2-1 to 2-3). Sizes: 0 byte, 1 word, 2 dword.

/** reg8 index of AL CL DL BL AH CH DH BH. */
export const R8 = new Uint8Array([0, 4, 8, 12, 1, 5, 9, 13]);

/** Decodes the memory operand of `modrm` (mod != 3) into `cpu.eaSeg` / `cpu.eaOff`. */
export function decodeEa(cpu: Cpu, modrm: number): void {
  if (cpu.addrSize32) decodeEa32(cpu, modrm);
  else decodeEa16(cpu, modrm);
}

function decodeEa16(cpu: Cpu, modrm: number): void {
  const r = cpu.reg16;
  const mod = modrm >> 6;
  let off: number;
  let seg = DS;
  switch (modrm & 7) {
    case 0: off = r[6] + r[12]; break;
    case 1: off = r[6] + r[14]; break;
    case 2: off = r[10] + r[12]; seg = SS; break;
    case 3: off = r[10] + r[14]; seg = SS; break;
    case 4: off = r[12]; break;
    case 5: off = r[14]; break;
    case 6:
      if (mod === 0) off = cpu.fetch16();
      else {
        off = r[10];
        seg = SS;
      }
      break;
    default: off = r[6]; break;
  }
  if (mod === 1) off += (cpu.fetch8() << 24) >> 24;
  else if (mod === 2) off += cpu.fetch16();
  cpu.eaOff = off & 0xffff;
  cpu.eaSeg = cpu.segOverride >= 0 ? cpu.segOverride : seg;
}

function decodeEa32(cpu: Cpu, modrm: number): void {
  const r = cpu.reg32;
  const mod = modrm >> 6;
  const rm = modrm & 7;
  let off: number;
  let seg = DS;
  if (rm === 4) {
    const sib = cpu.fetch8();
    const base = sib & 7;
    const index = (sib >> 3) & 7;
    if (base === 5 && mod === 0) off = cpu.fetch32();
    else {
      off = r[base];
      if (base === 4 || base === 5) seg = SS;
    }
    if (index !== 4) off += r[index] << (sib >> 6);
  } else if (rm === 5 && mod === 0) off = cpu.fetch32();
  else {
    off = r[rm];
    if (rm === 5) seg = SS;
  }
  if (mod === 1) off += (cpu.fetch8() << 24) >> 24;
  else if (mod === 2) off += cpu.fetch32();
  cpu.eaOff = off | 0;
  cpu.eaSeg = cpu.segOverride >= 0 ? cpu.segOverride : seg;
}

/** Fetches a ModRM byte and decodes its memory operand, if any. */
export function modrm(cpu: Cpu): number {
  const m = cpu.fetch8();
  if (m < 0xc0) decodeEa(cpu, m);
  return m;
}

/** Fetches a ModRM byte that must name memory (LEA, LDS, BOUND...): #UD otherwise. */
export function modrmMemory(cpu: Cpu): number {
  const m = cpu.fetch8();
  if (m >= 0xc0) throwFault(6);
  decodeEa(cpu, m);
  return m;
}

export function getReg(cpu: Cpu, size: number, r: number): number {
  return size === 0 ? cpu.reg8[R8[r]] : size === 1 ? cpu.reg16[r << 1] : cpu.reg32[r];
}

export function setReg(cpu: Cpu, size: number, r: number, v: number): void {
  if (size === 0) cpu.reg8[R8[r]] = v;
  else if (size === 1) cpu.reg16[r << 1] = v;
  else cpu.reg32[r] = v;
}

/** Reads `size` (0 byte, 1 word, 2 dword) at seg:off. */
export function readSized(cpu: Cpu, size: number, seg: number, off: number): number {
  return size === 2 ? cpu.read32(seg, off) : size === 1 ? cpu.read16(seg, off) : cpu.read8(seg, off);
}

export function writeSized(cpu: Cpu, size: number, seg: number, off: number, v: number): void {
  if (size === 2) cpu.write32(seg, off, v);
  else if (size === 1) cpu.write16(seg, off, v);
  else cpu.write8(seg, off, v);
}

export function readMem(cpu: Cpu, size: number): number {
  return readSized(cpu, size, cpu.eaSeg, cpu.eaOff);
}

export function writeMem(cpu: Cpu, size: number, v: number): void {
  writeSized(cpu, size, cpu.eaSeg, cpu.eaOff, v);
}

export function readE(cpu: Cpu, m: number, size: number): number {
  return m >= 0xc0 ? getReg(cpu, size, m & 7) : readMem(cpu, size);
}

export function writeE(cpu: Cpu, m: number, size: number, v: number): void {
  if (m >= 0xc0) setReg(cpu, size, m & 7, v);
  else writeMem(cpu, size, v);
}

/**
 * Reads the destination of a read-modify-write at seg:off with write intent (`Cpu.beginRmw`): a fault
 * comes here, before the instruction changes anything; `writeRmwSized` then cannot fault.
 */
export function readRmwSized(cpu: Cpu, size: number, seg: number, off: number): number {
  return size === 2 ? cpu.readRmw32(seg, off) : size === 1 ? cpu.readRmw16(seg, off) : cpu.readRmw8(seg, off);
}

/** Writes the result of a read-modify-write to the operand `readRmwSized` read. */
export function writeRmwSized(cpu: Cpu, size: number, v: number): void {
  if (size === 2) cpu.writeRmw32(v);
  else if (size === 1) cpu.writeRmw16(v);
  else cpu.writeRmw8(v);
}

/** `readE` for the destination of a read-modify-write: a memory operand is read with write intent. */
export function readRmwE(cpu: Cpu, m: number, size: number): number {
  return m >= 0xc0 ? getReg(cpu, size, m & 7) : readRmwSized(cpu, size, cpu.eaSeg, cpu.eaOff);
}

/** `writeE` for the destination `readRmwE` read. */
export function writeRmwE(cpu: Cpu, m: number, size: number, v: number): void {
  if (m >= 0xc0) setReg(cpu, size, m & 7, v);
  else writeRmwSized(cpu, size, v);
}

/** Reads the word/dword at eaOff + `delta` in the operand's segment (far pointers, BOUND, LGDT). */
export function readMemAt(cpu: Cpu, size: number, delta: number): number {
  const off = cpu.addrSize32 ? (cpu.eaOff + delta) | 0 : (cpu.eaOff + delta) & 0xffff;
  return size === 1 ? cpu.read16(cpu.eaSeg, off) : cpu.read32(cpu.eaSeg, off);
}

/** Operand size index of a v-sized operand: 2 (dword) or 1 (word). */
export function vSize(cpu: Cpu): number {
  return cpu.opSize32 ? 2 : 1;
}

/** Fetches an immediate of `size`, sign-extended for dwords only. */
export function fetchImm(cpu: Cpu, size: number): number {
  return size === 0 ? cpu.fetch8() : size === 1 ? cpu.fetch16() : cpu.fetch32();
}

/** Fetches a sign-extended byte immediate, masked to `size`. */
export function fetchImm8s(cpu: Cpu, size: number): number {
  const v = (cpu.fetch8() << 24) >> 24;
  return size === 0 ? v & 0xff : size === 1 ? v & 0xffff : v;
}

/** Near jump target: EIP wraps at 64 KiB with a 16-bit operand size; beyond CS's limit is #GP(0). */
export function jumpTo(cpu: Cpu, target: number): void {
  const t = cpu.opSize32 ? target >>> 0 : target & 0xffff;
  if (t > cpu.segLimit[CS] >>> 0) throwFault(13, 0);
  cpu.eip = t;
}

/**
 * A near CALL: the target is checked against CS's limit before the return address is pushed, so a
 * call that is past the limit and out of stack raises #GP(0), not the push's #SS or #PF (SDM Vol. 2A
 * "CALL", Operation: "IF tempEIP is not within code segment limit THEN #GP(0)" precedes the stack check).
 */
export function callTo(cpu: Cpu, target: number): void {
  const t = cpu.opSize32 ? target >>> 0 : target & 0xffff;
  if (t > cpu.segLimit[CS] >>> 0) throwFault(13, 0);
  if (cpu.opSize32) cpu.push32(cpu.eip);
  else cpu.push16(cpu.eip);
  cpu.eip = t;
}

/** Condition codes 0-15 (O NO B AE E NE BE A S NS P NP L GE LE G). */
export function condition(cpu: Cpu, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = cpu.getOF(); break;
    case 1: r = cpu.getCF() !== 0; break;
    case 2: r = cpu.getZF(); break;
    case 3: r = cpu.getCF() !== 0 || cpu.getZF(); break;
    case 4: r = cpu.getSF(); break;
    case 5: r = cpu.getPF(); break;
    case 6: r = cpu.getSF() !== cpu.getOF(); break;
    default: r = cpu.getZF() || cpu.getSF() !== cpu.getOF(); break;
  }
  return (cc & 1) !== 0 ? !r : r;
}

export function push(cpu: Cpu, v: number): void {
  if (cpu.opSize32) cpu.push32(v);
  else cpu.push16(v);
}

export function pop(cpu: Cpu): number {
  return cpu.opSize32 ? cpu.pop32() : cpu.pop16();
}
