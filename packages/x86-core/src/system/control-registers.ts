import { leaf1Edx } from '../cpuid.js';
import { throwFault } from '../fault.js';
import {
  CR0_CD, CR0_ET, CR0_NW, CR0_PE, CR0_PG, CR0_TS, isProtected, isV86, type SystemCpu,
} from './cpu-view.js';
import { DB, GP, UD } from './vectors.js';
import { checkLongModeControl } from '../long/system.js';
import type { Cpu } from '../cpu.js';

/** CR0 bits this CPU implements (PE MP EM TS ET NE WP AM NW CD PG); the rest read as 0. */
const CR0_DEFINED = 0xe005003f | 0;
/** CR0 bits whose change alters how addresses translate or how code is decoded. */
const CR0_MODE_BITS = CR0_PE | CR0_PG | (1 << 16);

const CR4_TSD = 1 << 2;
const CR4_DE = 1 << 3;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_PGE = 1 << 7;
const CR4_PCE = 1 << 8;
const CR4_OSFXSR = 1 << 9;
const CR4_OSXMMEXCPT = 1 << 10;
// CPUID.1:EDX bits that make CR4 bits legal (SDM Vol. 2 "CPUID" Table 3-11).
const CPUID_PSE = 1 << 3;
const CPUID_PAE = 1 << 6;
const CPUID_PGE = 1 << 13;
const CPUID_FXSR = 1 << 24;
const CPUID_SSE = 1 << 25;

/**
 * The CR4 bits a MOV may set: the ones whose feature CPUID reports (the paging extensions come from
 * the paging unit, FXSR/SSE from the core), plus TSD, DE and PCE, which need none. VME, PVI and MCE
 * are never set: there are no virtual interrupt flags and no machine-check architecture.
 */
function cr4Supported(cpu: SystemCpu): number {
  const features = leaf1Edx(cpu);
  let bits = CR4_TSD | CR4_DE | CR4_PCE;
  if (features & CPUID_PSE) bits |= CR4_PSE;
  if (features & CPUID_PAE) bits |= CR4_PAE;
  if (features & CPUID_PGE) bits |= CR4_PGE;
  if (features & CPUID_FXSR) bits |= CR4_OSFXSR;
  if (features & CPUID_SSE) bits |= CR4_OSXMMEXCPT;
  return bits;
}
/** CR4 bits that change translation. */
const CR4_MODE_BITS = CR4_PSE | CR4_PAE | CR4_PGE;

/** MOV CR, DR, LMSW and CLTS are CPL-0 only; in v86 mode CPL is 3 (SDM Vol. 2, each instruction). */
function requireCpl0(cpu: SystemCpu): void {
  if (isProtected(cpu) && (cpu.cpl !== 0 || isV86(cpu))) throwFault(GP, 0);
}

/** MOV r32, CRn. */
export function readControlRegister(cpu: SystemCpu, n: number): number {
  if (n !== 0 && n !== 2 && n !== 3 && n !== 4) throwFault(UD);
  requireCpl0(cpu);
  switch (n) {
    case 0: return cpu.cr0 >>> 0;
    case 2: return cpu.cr2 >>> 0;
    case 3: return cpu.cr3 >>> 0;
    default: return cpu.cr4 >>> 0;
  }
}

/**
 * MOV CRn, r32 (SDM Vol. 2 "MOV—Move to/from Control Registers", Vol. 3A 2.5): #GP(0) for PG without
 * PE, NW without CD, or a CR4 bit for a feature CPUID does not report. Reserved CR0 bits are ignored; ET reads as 1. Changes of
 * the paging mode, CR3 or CR4 paging bits tell the CPU to flush translations.
 */
export function writeControlRegister(cpu: SystemCpu, n: number, value: number): void {
  if (n !== 0 && n !== 2 && n !== 3 && n !== 4) throwFault(UD);
  requireCpl0(cpu);
  value |= 0;
  switch (n) {
    case 0: {
      if (value & CR0_PG && !(value & CR0_PE)) throwFault(GP, 0);
      if (value & CR0_NW && !(value & CR0_CD)) throwFault(GP, 0);
      const next = (value & CR0_DEFINED) | CR0_ET;
      if (cpu.traits.longMode) checkLongModeControl(cpu as Cpu, next, cpu.cr4);
      const changed = cpu.cr0 ^ next;
      cpu.cr0 = next;
      if (changed & CR0_PE && !(next & CR0_PE)) cpu.cpl = 0;
      if (changed & CR0_MODE_BITS) cpu.modeChanged();
      return;
    }
    case 2:
      cpu.cr2 = value >>> 0;
      return;
    case 3:
      cpu.cr3 = value >>> 0;
      cpu.modeChanged();
      return;
    default: {
      if (value & ~cr4Supported(cpu)) throwFault(GP, 0);
      if (cpu.traits.longMode) checkLongModeControl(cpu as Cpu, cpu.cr0, value);
      const changed = cpu.cr4 ^ value;
      cpu.cr4 = value >>> 0;
      if (changed & CR4_MODE_BITS) cpu.modeChanged();
    }
  }
}

/** LMSW: loads CR0 bits 0-3 (PE MP EM TS); it can set PE but never clear it. */
export function loadMachineStatusWord(cpu: SystemCpu, value: number): void {
  requireCpl0(cpu);
  const next = (cpu.cr0 & ~0xe) | (value & 0xf) | (cpu.cr0 & CR0_PE);
  const changed = cpu.cr0 ^ next;
  cpu.cr0 = next;
  if (changed & CR0_PE) cpu.modeChanged();
}

/** SMSW: CR0's low word (a register destination with 32-bit operand size gets all of CR0; core masks). */
export function storeMachineStatusWord(cpu: SystemCpu): number {
  return cpu.cr0 >>> 0;
}

/** CLTS: clears CR0.TS. */
export function clearTaskSwitched(cpu: SystemCpu): void {
  requireCpl0(cpu);
  cpu.cr0 &= ~CR0_TS;
}

/** DR4/DR5 alias DR6/DR7 unless CR4.DE makes them #UD (SDM Vol. 3B 17.2.2). */
function debugIndex(cpu: SystemCpu, n: number): number {
  if (n === 4 || n === 5) {
    if (cpu.cr4 & CR4_DE) throwFault(UD);
    return n + 2;
  }
  return n;
}

/** DR7.GD (general detect): any MOV DRn faults #DB first, with DR6.BD set and GD cleared (SDM Vol. 3B 17.2.4). */
const DR7_GD = 1 << 13;
const DR6_BD = 1 << 13;

function checkGeneralDetect(cpu: SystemCpu): void {
  if (cpu.dr[7] & DR7_GD) {
    cpu.dr[6] |= DR6_BD;
    cpu.dr[7] &= ~DR7_GD;
    throwFault(DB);
  }
}

/** MOV r32, DRn. */
export function readDebugRegister(cpu: SystemCpu, n: number): number {
  requireCpl0(cpu);
  const index = debugIndex(cpu, n & 7);
  checkGeneralDetect(cpu);
  return cpu.dr[index] >>> 0;
}

/** MOV DRn, r32: DR6 and DR7 keep their fixed bits (DR6 bits 4-11 and 16-31 set; DR7 bit 10 set). */
export function writeDebugRegister(cpu: SystemCpu, n: number, value: number): void {
  requireCpl0(cpu);
  const index = debugIndex(cpu, n & 7);
  checkGeneralDetect(cpu);
  if (index === 6) cpu.dr[6] = (value & 0xe00f) | 0xffff0ff0;
  else if (index === 7) cpu.dr[7] = (value & 0xffff2bff) | 0x400;
  else cpu.dr[index] = value | 0;
}
