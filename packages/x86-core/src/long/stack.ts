// The 64-bit stack (SDM Vol. 1, 6.2.5 / Vol. 3A 3.3.7): RSP is a full 64-bit offset in a segment
// with no base or limit; a stack address that is not canonical raises #SS(0).
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { TWO_32, canonical, read64, readHi, readLinear, write64, writeLinear } from './memory.js';

/** High dword of the last `pop` of a qword. */
export const popped = { hi: 0 };

function rsp(cpu: Cpu): number {
  const v = canonical(cpu.reg32[4], cpu.regHi[4]);
  if (v !== v) throwFault(12, 0);
  return v;
}

function setRsp(cpu: Cpu, lo: number, hiAdjust: number): void {
  cpu.reg32[4] = lo;
  cpu.regHi[4] = (cpu.regHi[4] + hiAdjust) | 0;
}

/** RSP += delta (a 64-bit add). */
export function addRsp(cpu: Cpu, delta: number): void {
  const sum = (cpu.reg32[4] >>> 0) + delta;
  setRsp(cpu, sum | 0, sum >= TWO_32 ? 1 : sum < 0 ? -1 : 0);
}

/** Pushes `bytes` (8, 4 or 2) of hi:lo; RSP changes only once the store succeeded. */
export function push(cpu: Cpu, lo: number, hi: number, bytes = 8): void {
  const at = rsp(cpu) - bytes;
  if (!(at >= -0x8000_0000_0000)) throwFault(12, 0);
  if (bytes === 8) write64(cpu, at, lo, hi, false, true);
  else writeLinear(cpu, at, bytes === 4 ? 4 : 2, lo, false, true);
  addRsp(cpu, -bytes);
}

/** Pops `bytes` (8 or 2): the low dword (or word) is returned, a qword's high dword left in `popped.hi`. */
export function pop(cpu: Cpu, bytes = 8): number {
  const at = rsp(cpu);
  let lo: number;
  if (bytes === 8) {
    lo = read64(cpu, at, false, true);
    popped.hi = readHi;
  } else {
    lo = readLinear(cpu, at, 2, false, true);
    popped.hi = 0;
  }
  addRsp(cpu, bytes);
  return lo;
}

/** Reads `bytes` (8, 4 or 2) of the stack `offset` bytes above RSP without popping (a qword's high dword in `popped.hi`). */
export function peek(cpu: Cpu, offset: number, bytes: number): number {
  const at = rsp(cpu) + offset;
  if (bytes === 8) {
    const lo = read64(cpu, at, false, true);
    popped.hi = readHi;
    return lo;
  }
  popped.hi = 0;
  return readLinear(cpu, at, bytes === 4 ? 4 : 2, false, true);
}
