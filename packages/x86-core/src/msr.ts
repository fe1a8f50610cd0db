import type { Cpu } from './cpu.js';
import { throwFault } from './fault.js';

/** IA32_TIME_STAMP_COUNTER: the only model-specific register this core implements (SDM Vol. 4, Table 2-2). */
export const IA32_TIME_STAMP_COUNTER = 0x10;

/** RDMSR: EDX:EAX = MSR[ECX]; #GP(0) for an MSR the core does not implement. */
export function readMsr(cpu: Cpu, msr: number): void {
  if (msr !== IA32_TIME_STAMP_COUNTER) throwFault(13, 0);
  const tsc = cpu.readTsc();
  cpu.reg32[0] = tsc % 0x100000000;
  cpu.reg32[2] = Math.floor(tsc / 0x100000000);
}

/** WRMSR: MSR[ECX] = EDX:EAX; #GP(0) for an MSR the core does not implement. */
export function writeMsr(cpu: Cpu, msr: number, high: number, low: number): void {
  if (msr !== IA32_TIME_STAMP_COUNTER) throwFault(13, 0);
  cpu.tscOffset = (high >>> 0) * 0x100000000 + (low >>> 0) - cpu.readTsc() + cpu.tscOffset;
}
