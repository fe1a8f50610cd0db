import type { Cpu } from './cpu.js';
import { throwFault } from './fault.js';
import { readLongMsr, writeLongMsr } from './long/system.js';
import { readSysenterMsr, writeSysenterMsr } from './sysenter.js';

/** IA32_TIME_STAMP_COUNTER (SDM Vol. 4, Table 2-2). */
export const IA32_TIME_STAMP_COUNTER = 0x10;
/**
 * IA32_BIOS_SIGN_ID: bits 63:32 hold the revision of the loaded microcode update, which CPUID
 * deposits there (SDM Vol. 3A, "Microcode Update Facilities"). Software writes 0 to it, runs CPUID and reads it back; no
 * update is ever loaded here, so it always reads 0 and a write has nothing to change.
 */
export const IA32_BIOS_SIGN_ID = 0x8b;

/** RDMSR: EDX:EAX = MSR[ECX]; #GP(0) for an MSR the core does not implement. */
export function readMsr(cpu: Cpu, msr: number): void {
  switch (msr) {
    case IA32_TIME_STAMP_COUNTER: {
      const tsc = cpu.readTsc();
      cpu.reg32[0] = tsc % 0x100000000;
      cpu.reg32[2] = Math.floor(tsc / 0x100000000);
      return;
    }
    case IA32_BIOS_SIGN_ID:
      cpu.reg32[0] = 0;
      cpu.reg32[2] = 0;
      return;
    default:
      if (readSysenterMsr(cpu, msr)) return;
      if (cpu.traits.longMode && readLongMsr(cpu, msr)) return;
      throwFault(13, 0);
  }
}

/** WRMSR: MSR[ECX] = EDX:EAX; #GP(0) for an MSR the core does not implement. */
export function writeMsr(cpu: Cpu, msr: number, high: number, low: number): void {
  switch (msr) {
    case IA32_TIME_STAMP_COUNTER:
      cpu.tscOffset = (high >>> 0) * 0x100000000 + (low >>> 0) - cpu.readTsc() + cpu.tscOffset;
      return;
    case IA32_BIOS_SIGN_ID:
      return;
    default:
      if (writeSysenterMsr(cpu, msr, high, low)) return;
      if (cpu.traits.longMode && writeLongMsr(cpu, msr, high, low)) return;
      throwFault(13, 0);
  }
}
