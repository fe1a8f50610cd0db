import { throwFault } from '../fault.js';
import { TR, type SystemCpu } from './cpu-view.js';
import { TS } from './vectors.js';

/** True when TR holds a 32-bit TSS (types 9/11), false for a 16-bit one (types 1/3). */
export function isTss32(cpu: SystemCpu): boolean {
  return (cpu.segAccess[TR] & 8) !== 0;
}

/** Result of `innerStack` (module-level to avoid an allocation per privilege change). */
export const innerStackResult = { ss: 0, esp: 0 };

/**
 * Reads the SS:ESP pair for privilege level `dpl` from the current TSS (SDM Vol. 3A 7.2.1 / 7.6:
 * ESPn at 4+8n, SSn at 8+8n in a 32-bit TSS; SPn at 2+4n, SSn at 4+4n in a 16-bit one). A pair beyond
 * the TSS limit raises #TS(TR selector).
 */
export function innerStack(cpu: SystemCpu, dpl: number, ext: number): typeof innerStackResult {
  const base = cpu.segBase[TR] >>> 0;
  const limit = cpu.segLimit[TR] >>> 0;
  const error = (cpu.seg[TR] & 0xfffc) | ext;
  if (isTss32(cpu)) {
    const at = 4 + 8 * dpl;
    if (at + 5 > limit) throwFault(TS, error);
    innerStackResult.esp = cpu.readLinear32((base + at) >>> 0, false) >>> 0;
    innerStackResult.ss = cpu.readLinear16((base + at + 4) >>> 0, false) & 0xffff;
  } else {
    const at = 2 + 4 * dpl;
    if (at + 3 > limit) throwFault(TS, error);
    innerStackResult.esp = cpu.readLinear16((base + at) >>> 0, false) & 0xffff;
    innerStackResult.ss = cpu.readLinear16((base + at + 2) >>> 0, false) & 0xffff;
  }
  return innerStackResult;
}
