// Linear memory of 64-bit mode (SDM Vol. 3A 3.3.7, 4.5): addresses are canonical 64-bit values held
// as JS numbers (bits 63:47 equal, so -2^47 <= linear < 2^47, exact in a double). Segmentation does
// nothing but add FS/GS bases; a non-canonical address raises #GP(0), or #SS(0) through SS.
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';

export const TWO_32 = 0x1_0000_0000;
const FOUR_GIB = TWO_32;
const TWO_47 = 0x8000_0000_0000;

/** High dword of the last 64-bit read (`read64`), so reads allocate nothing. */
export let readHi = 0;

/** The canonical number for the 64-bit value hi:lo, or NaN when it is not canonical. */
export function canonical(lo: number, hi: number): number {
  if (((hi << 16) >> 16) !== hi) return NaN;
  return hi * TWO_32 + (lo >>> 0);
}

/** High and low dwords of a canonical number. */
export function highOf(linear: number): number {
  return Math.floor(linear / TWO_32) | 0;
}

export function lowOf(linear: number): number {
  return (linear - Math.floor(linear / TWO_32) * TWO_32) | 0;
}

/** #GP(0), or #SS(0) for a stack access, unless `linear` is canonical. */
export function checkCanonical(linear: number, stack: boolean): void {
  if (!(linear >= -TWO_47 && linear < TWO_47)) throwFault(stack ? 12 : 13, 0);
}

function readPhys(cpu: Cpu, phys: number, size: 1 | 2 | 4): number {
  if (phys < FOUR_GIB && cpu.kind[phys >>> 12] <= 1) {
    const ram = cpu.ram;
    if (size === 1) return ram[phys];
    if (size === 2) return ram[phys] | (ram[phys + 1] << 8);
    return ram[phys] | (ram[phys + 1] << 8) | (ram[phys + 2] << 16) | (ram[phys + 3] << 24);
  }
  const v = cpu.readSlow(phys, size);
  return size === 4 ? v | 0 : v;
}

function writePhys(cpu: Cpu, phys: number, size: 1 | 2 | 4, value: number): void {
  if (phys < FOUR_GIB && cpu.kind[phys >>> 12] === 0) {
    const ram = cpu.ram;
    ram[phys] = value;
    if (size > 1) ram[phys + 1] = value >> 8;
    if (size > 2) {
      ram[phys + 2] = value >> 16;
      ram[phys + 3] = value >> 24;
    }
  } else cpu.writeSlow(phys, size, size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff));
}

/**
 * The value of `size` 0-3 (byte to qword) in RAM at `phys` (the caller checked the page is RAM and
 * the bytes lie in it); a qword's high dword in `readHi`.
 */
export function loadRam(cpu: Cpu, phys: number, size: number): number {
  const ram = cpu.ram;
  if (size === 0) return ram[phys];
  if (size === 1) return ram[phys] | (ram[phys + 1] << 8);
  if (size === 3) readHi = ram[phys + 4] | (ram[phys + 5] << 8) | (ram[phys + 6] << 16) | (ram[phys + 7] << 24);
  return ram[phys] | (ram[phys + 1] << 8) | (ram[phys + 2] << 16) | (ram[phys + 3] << 24);
}

/** Stores `size` 0-3 (hi:lo) to plain RAM at `phys` (checked by the caller, as for `loadRam`). */
export function storeRam(cpu: Cpu, phys: number, size: number, lo: number, high: number): void {
  const ram = cpu.ram;
  ram[phys] = lo;
  if (size === 0) return;
  ram[phys + 1] = lo >> 8;
  if (size === 1) return;
  ram[phys + 2] = lo >> 16;
  ram[phys + 3] = lo >> 24;
  if (size === 3) {
    ram[phys + 4] = high;
    ram[phys + 5] = high >> 8;
    ram[phys + 6] = high >> 16;
    ram[phys + 7] = high >> 24;
  }
}

/** User bit for an access at the current CPL, unless `supervisor` (descriptor tables, TSS, IDT). */
function userBit(cpu: Cpu, supervisor: boolean): number {
  return supervisor ? 0 : cpu.userAccess();
}

/** Reads `size` bytes (1, 2, 4) at canonical `linear`; an access crossing a page checks both. */
export function readLinear(cpu: Cpu, linear: number, size: 1 | 2 | 4, supervisor = false, stack = false): number {
  const offset = linear - Math.floor(linear / 4096) * 4096;
  const access = userBit(cpu, supervisor);
  if (offset + size <= 4096) return readPhys(cpu, cpu.translateCanonical(linear, access), size);
  let v = 0;
  for (let i = 0; i < size; i++) {
    checkCanonical(linear + i, stack);
    v |= readPhys(cpu, cpu.translateCanonical(linear + i, access), 1) << (8 * i);
  }
  return size === 4 ? v : v >>> 0;
}

/** Writes `size` bytes at canonical `linear`; a page-crossing write is checked on both pages first. */
export function writeLinear(cpu: Cpu, linear: number, size: 1 | 2 | 4, value: number, supervisor = false, stack = false): void {
  const offset = linear - Math.floor(linear / 4096) * 4096;
  const access = 2 | userBit(cpu, supervisor);
  if (offset + size <= 4096) {
    writePhys(cpu, cpu.translateCanonical(linear, access), size, value);
    return;
  }
  checkCanonical(linear + size - 1, stack);
  const split = 4096 - offset;
  const first = cpu.translateCanonical(linear, access);
  // The second page from its first byte, where byte `split` of the value goes.
  const second = cpu.translateCanonical(linear + split, access);
  for (let i = 0; i < size; i++) writePhys(cpu, i < split ? first + i : second + i - split, 1, value >> (8 * i));
}

/** Reads a qword: the low dword is returned, the high one left in `readHi`. One translation within a page. */
export function read64(cpu: Cpu, linear: number, supervisor = false, stack = false): number {
  if (linear - Math.floor(linear / 4096) * 4096 <= 4088) {
    const phys = cpu.translateCanonical(linear, userBit(cpu, supervisor));
    const lo = readPhys(cpu, phys, 4);
    readHi = readPhys(cpu, phys + 4, 4);
    return lo;
  }
  const lo = readLinear(cpu, linear, 4, supervisor, stack);
  checkCanonical(linear + 4, stack);
  readHi = readLinear(cpu, linear + 4, 4, supervisor, stack);
  return lo;
}

/** Writes a qword, both halves checked before either lands (one translation within a page). */
export function write64(cpu: Cpu, linear: number, lo: number, hi: number, supervisor = false, stack = false): void {
  if (linear - Math.floor(linear / 4096) * 4096 <= 4088) {
    const phys = cpu.translateCanonical(linear, 2 | userBit(cpu, supervisor));
    writePhys(cpu, phys, 4, lo);
    writePhys(cpu, phys + 4, 4, hi);
    return;
  }
  checkCanonical(linear + 7, stack);
  probeWrite(cpu, linear, supervisor);
  probeWrite(cpu, linear + 7, supervisor);
  writeLinear(cpu, linear, 4, lo, supervisor, stack);
  writeLinear(cpu, linear + 4, 4, hi, supervisor, stack);
}

/** Translates `linear` for a write without writing (a store that must fault before anything lands). */
export function probeWrite(cpu: Cpu, linear: number, supervisor = false): void {
  cpu.translateCanonical(linear, 2 | userBit(cpu, supervisor));
}
