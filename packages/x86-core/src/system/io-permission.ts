import { throwFault } from '../fault.js';
import { FLAG_IF, FLAG_VM, TR, iopl, isProtected, type SystemCpu } from './cpu-view.js';
import { UNUSABLE } from './descriptor.js';
import { GP } from './vectors.js';

/**
 * IN/OUT/INS/OUTS permission (SDM Vol. 1 18.5): allowed when CPL <= IOPL outside v86 mode; otherwise
 * every bit for the accessed ports in the 32-bit TSS's I/O permission bitmap must be clear. A bitmap
 * byte beyond the TSS limit counts as set.
 */
export function checkIoPermission(cpu: SystemCpu, port: number, size: number): void {
  if (!isProtected(cpu)) return;
  const eflags = cpu.getEflags();
  if ((eflags & FLAG_VM) === 0 && cpu.cpl <= iopl(cpu)) return;
  if (cpu.segAccess[TR] & UNUSABLE || (cpu.segAccess[TR] & 0xd) !== 9) throwFault(GP, 0);
  const base = cpu.segBase[TR] >>> 0;
  const limit = cpu.segLimit[TR] >>> 0;
  if (limit < 0x67) throwFault(GP, 0);
  const bitmap = cpu.readLinear16((base + 0x66) >>> 0, false) & 0xffff;
  const byte = bitmap + (port >>> 3);
  // Two bytes are always read, because the port's bits may straddle a byte boundary.
  if (byte + 1 > limit) throwFault(GP, 0);
  const bits = cpu.readLinear16((base + byte) >>> 0, false) & 0xffff;
  const wanted = ((1 << size) - 1) << (port & 7);
  if (bits & wanted) throwFault(GP, 0);
}

/**
 * CLI and STI (and, in v86 mode, PUSHF/POPF/INT n/IRET): #GP(0) when CPL > IOPL. In v86 mode CPL is 3,
 * so this is "IOPL < 3" (SDM Vol. 3A 20.2.7, no VME).
 */
export function checkIopl(cpu: SystemCpu): void {
  if (isProtected(cpu) && cpu.cpl > iopl(cpu)) throwFault(GP, 0);
}

/** CLI / STI with their IOPL check. */
export function setInterruptFlag(cpu: SystemCpu, enabled: boolean): void {
  checkIopl(cpu);
  const eflags = cpu.getEflags();
  cpu.setEflags(enabled ? eflags | FLAG_IF : eflags & ~FLAG_IF);
}
