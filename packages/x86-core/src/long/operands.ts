// Registers and ModRM operands of 64-bit mode (SDM Vol. 2, 2.2.1): REX.R/X/B extend the register
// fields to R8-R15; with any REX byte, byte registers 4-7 are SPL BPL SIL DIL instead of AH-BH; a
// dword write zero-extends into bits 63:32, byte and word writes keep the rest. Sizes: 0 byte,
// 1 word, 2 dword, 3 qword. 64-bit values travel as (low, high) int32 pairs: functions return the
// low dword and leave the high one in `hi.v`.
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { d, fetch8, fetch32 } from './decode-state.js';
import { TWO_32, loadRam, probeWrite, read64, readHi, readLinear, storeRam, write64, writeLinear } from './memory.js';

/** High dword of the last 64-bit value a function here returned. */
export const hi = { v: 0 };

export const FS = 4;
export const GS = 5;
const SS = 2;

/** reg8 index of byte register `r` (0-15) under the current REX. */
function byteIndex(r: number): number {
  return r < 4 || d.rex !== 0 ? r << 2 : ((r - 4) << 2) + 1;
}

/** Register `r` at `size`: bytes and words unsigned, dwords and qword halves as int32. */
export function getReg(cpu: Cpu, size: number, r: number): number {
  if (size === 0) return cpu.reg8[byteIndex(r)];
  if (size === 1) return cpu.reg16[r << 1];
  hi.v = size === 3 ? cpu.regHi[r] : 0;
  return cpu.reg32[r];
}

export function setReg(cpu: Cpu, size: number, r: number, lo: number, high = 0): void {
  if (size === 0) cpu.reg8[byteIndex(r)] = lo;
  else if (size === 1) cpu.reg16[r << 1] = lo;
  else {
    cpu.reg32[r] = lo;
    cpu.regHi[r] = size === 3 ? high : 0;
  }
}

// The decoded memory operand: its 64-bit offset (before the segment base) and default segment.
export const ea = { lo: 0, hi: 0, stack: false };

/**
 * Decodes the memory operand of `m` (mod != 3), fetching SIB and displacement. `immBytes`: bytes of
 * immediate after the displacement, which RIP-relative addresses count from (the next instruction).
 */
export function decodeEa(cpu: Cpu, m: number, immBytes = 0): void {
  const mod = m >> 6;
  const rm = m & 7;
  let base = -1;
  let index = -1;
  let scale = 0;
  let disp = 0;
  let ripRelative = false;
  if (rm === 4) {
    const sib = fetch8(cpu);
    const baseField = sib & 7;
    index = ((sib >> 3) & 7) | ((d.rex & 2) << 2);
    if (index === 4) index = -1;
    scale = sib >> 6;
    if (baseField === 5 && mod === 0) disp = fetch32(cpu);
    else base = baseField | ((d.rex & 1) << 3);
  } else if (rm === 5 && mod === 0) {
    disp = fetch32(cpu);
    ripRelative = true;
  } else base = rm | ((d.rex & 1) << 3);
  if (mod === 1) disp = (fetch8(cpu) << 24) >> 24;
  else if (mod === 2) disp = fetch32(cpu);
  if (ripRelative) ripRelativeEa(d.rip + immBytes, disp, d.addr32);
  else eaFrom(cpu, base, index, scale, disp, d.addr32);
}

/**
 * The offset base + index << scale + disp (registers 0-15, -1 for none) into `ea`, 64-bit or (with
 * `addr32`) truncated to 32; a base of RSP, RBP, R12 or R13 makes it a stack access.
 */
export function eaFrom(cpu: Cpu, base: number, index: number, scale: number, disp: number, addr32: boolean): void {
  let lo = 0;
  let high = 0;
  if (base >= 0) {
    lo = cpu.reg32[base];
    high = cpu.regHi[base];
  }
  if (index >= 0) {
    const il = cpu.reg32[index];
    const ih = cpu.regHi[index];
    const sl = scale === 0 ? il : il << scale;
    const sh = scale === 0 ? ih : (ih << scale) | (il >>> (32 - scale));
    const sum = (lo >>> 0) + (sl >>> 0);
    high = (high + sh + (sum >= TWO_32 ? 1 : 0)) | 0;
    lo = sum | 0;
  }
  const sum = (lo >>> 0) + (disp >>> 0);
  ea.lo = sum | 0;
  ea.hi = addr32 ? 0 : (high + (disp >> 31) + (sum >= TWO_32 ? 1 : 0)) | 0;
  ea.stack = base >= 0 && ((base & 7) === 4 || (base & 7) === 5);
}

/** A RIP-relative offset into `ea`: `next` (the canonical RIP after the instruction) plus `disp`. */
export function ripRelativeEa(next: number, disp: number, addr32: boolean): void {
  const lo = lowOfNumber(next);
  const high = Math.floor(next / TWO_32) | 0;
  const sum = (lo >>> 0) + (disp >>> 0);
  ea.lo = sum | 0;
  ea.hi = addr32 ? 0 : (high + (disp >> 31) + (sum >= TWO_32 ? 1 : 0)) | 0;
  ea.stack = false;
}

function lowOfNumber(v: number): number {
  return (v - Math.floor(v / TWO_32) * TWO_32) | 0;
}

/** Adds the 64-bit displacement hi:lo to the decoded operand's offset (BT's register bit offsets). */
export function addToEa(lo: number, high: number): void {
  const sum = (ea.lo >>> 0) + (lo >>> 0);
  ea.hi = d.addr32 ? 0 : (ea.hi + high + (sum >= TWO_32 ? 1 : 0)) | 0;
  ea.lo = sum | 0;
}

/** The operand's linear address: FS/GS base added, #GP(0) (#SS(0) through SS) unless canonical. */
export function eaLinear(cpu: Cpu): number {
  return linearIn(cpu, d.seg);
}

/** The dwords of the linear address `segmented` computed. */
const at = { lo: 0, hi: 0 };

/** `ea` through segment `s` (FS, GS, or -1 for none) into `at`: #GP(0) (#SS(0) through SS) unless canonical. */
function segmented(cpu: Cpu, s: number): void {
  let lo = ea.lo;
  let high = ea.hi;
  if (s >= 0) {
    const sum = (lo >>> 0) + (cpu.segBase[s] >>> 0);
    high = (high + cpu.long.segBaseHi[s] + (sum >= TWO_32 ? 1 : 0)) | 0;
    lo = sum | 0;
  }
  if (((high << 16) >> 16) !== high) throwFault(ea.stack && s < 0 ? 12 : 13, 0);
  at.lo = lo;
  at.hi = high;
}

/** `eaLinear` through segment `s` (FS, GS, or -1 for none). */
export function linearIn(cpu: Cpu, s: number): number {
  segmented(cpu, s);
  return at.hi * TWO_32 + (at.lo >>> 0);
}

/** The segment an explicit access uses: `d.seg`'s base or none; SS-relative for `stack`. */
export function linearAt(cpu: Cpu, lo: number, high: number, stack: boolean): number {
  ea.lo = lo;
  ea.hi = high;
  ea.stack = stack;
  return eaLinear(cpu);
}

const SIZE_BYTES = [1, 2, 4] as const;

/** Reads `size` at a linear address. */
export function readAt(cpu: Cpu, linear: number, size: number): number {
  if (size === 3) {
    const lo = read64(cpu, linear, false, ea.stack);
    hi.v = readHi;
    return lo;
  }
  hi.v = 0;
  return readLinear(cpu, linear, SIZE_BYTES[size], false, ea.stack);
}

export function writeAt(cpu: Cpu, linear: number, size: number, lo: number, high = 0): void {
  if (size === 3) write64(cpu, linear, lo, high, false, ea.stack);
  else writeLinear(cpu, linear, SIZE_BYTES[size], lo, false, ea.stack);
}

// A compiled block's memory operand read or written in one call (`eaFrom`, `linearIn` and the access):
// a block that has not run often enough for TurboFan runs in V8's interpreter, where each call costs.
// Within a page of RAM the access is one translation and the bytes, in int32 arithmetic; a page
// crossing, MMIO or a code page (whose writes must be seen) takes `readAt`/`writeAt`.

const OPERAND_BYTES = [1, 2, 4, 8];
/** The canonical linear address `operandPhys` computed, for the general path. */
let operandLinear = 0;

/**
 * The operand `eaFrom` left in `ea`, through segment `seg` (-1 none), checked as `linearIn` checks
 * it; then its physical address for `access` when the `size` access lies within one page, else -1
 * (below 4 GiB straight through the inline TLB). `operandLinear` holds the linear address either way.
 */
function operandPhys(cpu: Cpu, seg: number, size: number, access: number): number {
  segmented(cpu, seg);
  const lo = at.lo;
  const high = at.hi;
  operandLinear = high * TWO_32 + (lo >>> 0);
  if ((lo & 0xfff) + OPERAND_BYTES[size] > 4096) return -1;
  return high === 0 ? cpu.translate(lo, access) : cpu.translateCanonical(operandLinear, access);
}

/** Reads `size` at base + index << scale + disp through segment `seg` (-1 none). */
export function readOperand(cpu: Cpu, base: number, index: number, scale: number, disp: number, addr32: boolean, seg: number, size: number): number {
  eaFrom(cpu, base, index, scale, disp, addr32);
  const phys = operandPhys(cpu, seg, size, cpu.userAccess());
  if (phys < 0 || phys >= TWO_32 || cpu.kind[phys >>> 12] > 1) return readAt(cpu, operandLinear, size);
  const v = loadRam(cpu, phys, size);
  hi.v = size === 3 ? readHi : 0;
  return v;
}

/** Writes `size` (hi:lo) at base + index << scale + disp through segment `seg` (-1 none). */
export function writeOperand(
  cpu: Cpu, base: number, index: number, scale: number, disp: number, addr32: boolean, seg: number, size: number, lo: number, high: number,
): void {
  eaFrom(cpu, base, index, scale, disp, addr32);
  const phys = operandPhys(cpu, seg, size, 2 | cpu.userAccess());
  if (phys < 0 || phys >= TWO_32 || cpu.kind[phys >>> 12] !== 0) writeAt(cpu, operandLinear, size, lo, high);
  else storeRam(cpu, phys, size, lo, high);
}

/** Fetches ModRM and decodes a memory operand (mod != 3). */
export function modrm(cpu: Cpu, immBytes = 0): number {
  const m = fetch8(cpu);
  if (m < 0xc0) decodeEa(cpu, m, immBytes);
  return m;
}

/** ModRM.reg with REX.R. */
export function regField(m: number): number {
  return ((m >> 3) & 7) | ((d.rex & 4) << 1);
}

/** ModRM.rm with REX.B (a register operand). */
export function rmField(m: number): number {
  return (m & 7) | ((d.rex & 1) << 3);
}

export function readE(cpu: Cpu, m: number, size: number): number {
  if (m >= 0xc0) return getReg(cpu, size, rmField(m));
  return readAt(cpu, eaLinear(cpu), size);
}

export function writeE(cpu: Cpu, m: number, size: number, lo: number, high = 0): void {
  if (m >= 0xc0) setReg(cpu, size, rmField(m), lo, high);
  else writeAt(cpu, eaLinear(cpu), size, lo, high);
}

/** Linear address of the read-modify-write operand `readRmwE` read. */
let rmwLinear = 0;

/** Reads a destination that will be written: the page is translated for a write first (#PF W=1). */
export function readRmwE(cpu: Cpu, m: number, size: number): number {
  if (m >= 0xc0) return getReg(cpu, size, rmField(m));
  const linear = eaLinear(cpu);
  rmwLinear = linear;
  return readRmwAt(cpu, linear, size);
}

/** Reads the destination of a read-modify-write at `linear`, both ends translated for a write first. */
export function readRmwAt(cpu: Cpu, linear: number, size: number): number {
  probeWrite(cpu, linear);
  const last = size === 3 ? 7 : size === 2 ? 3 : size;
  if (linear - Math.floor(linear / 4096) * 4096 + last >= 4096) probeWrite(cpu, linear + last);
  return readAt(cpu, linear, size);
}

export function writeRmwE(cpu: Cpu, m: number, size: number, lo: number, high = 0): void {
  if (m >= 0xc0) setReg(cpu, size, rmField(m), lo, high);
  else writeAt(cpu, rmwLinear, size, lo, high);
}

/** Fetches an immediate of `size`; a qword operand takes a sign-extended imm32 (high in `hi.v`). */
export function fetchImm(cpu: Cpu, size: number): number {
  if (size === 0) return fetch8(cpu);
  if (size === 1) return fetch8(cpu) | (fetch8(cpu) << 8);
  const v = fetch32(cpu);
  hi.v = size === 3 ? v >> 31 : 0;
  return v;
}

/** A sign-extended imm8 at `size` (high in `hi.v` for qwords). */
export function fetchImm8s(cpu: Cpu, size: number): number {
  const v = (fetch8(cpu) << 24) >> 24;
  hi.v = size === 3 ? v >> 31 : 0;
  return size === 0 ? v & 0xff : size === 1 ? v & 0xffff : v;
}

/** Bytes of immediate of `size` (for RIP-relative operands followed by one). */
export function immBytes(size: number): number {
  return size === 0 ? 1 : size === 1 ? 2 : 4;
}

/** Operand size of a v-sized operand. */
export function vSize(): number {
  return d.size;
}

export { SS };
