import { throwFault } from '../fault.js';
import {
  FLAG_IF, FLAG_IOPL, FLAG_RF, FLAG_VIF, FLAG_VIP, FLAG_VM, iopl, isProtected, isV86, type SystemCpu,
} from './cpu-view.js';
import { GP } from './vectors.js';

/**
 * PUSHF/PUSHFD: the image pushed (VM and RF read as 0). In v86 mode with IOPL < 3 it faults #GP(0)
 * (SDM Vol. 2 "PUSHF", no VME).
 */
export function eflagsForPush(cpu: SystemCpu): number {
  const eflags = cpu.getEflags();
  if (eflags & FLAG_VM && iopl(cpu) < 3) throwFault(GP, 0);
  return eflags & ~(FLAG_VM | FLAG_RF);
}

/**
 * POPF/POPFD: loads the popped image under the mode's rules (SDM Vol. 2 "POPF"): VM, VIP and VIF
 * never change and RF is cleared; IOPL changes only at CPL 0 (or in real mode); IF only when
 * CPL <= IOPL; in v86 mode IOPL < 3 faults #GP(0). A 16-bit POPF loads only the low word. In real
 * mode the image passes `realModeFlagsMask` first (the 80286 model keeps bits 12-15 at 0).
 */
export function popEflags(cpu: SystemCpu, value: number, opSize32: boolean): void {
  const eflags = cpu.getEflags();
  let keep = FLAG_VM | FLAG_VIP | FLAG_VIF;
  if (isProtected(cpu)) {
    if (isV86(cpu)) {
      if (iopl(cpu) < 3) throwFault(GP, 0);
      keep |= FLAG_IOPL;
    } else {
      if (cpu.cpl > 0) keep |= FLAG_IOPL;
      if (cpu.cpl > iopl(cpu)) keep |= FLAG_IF;
    }
  }
  let loaded = value;
  if (!isProtected(cpu)) loaded &= cpu.traits.realModeFlagsMask;
  if (!opSize32) keep |= ~0xffff;
  let result = (loaded & ~keep) | (eflags & keep) | 2;
  if (opSize32) result &= ~FLAG_RF;
  cpu.setEflags(result);
}
