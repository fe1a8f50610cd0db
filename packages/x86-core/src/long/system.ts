// IA-32e system instructions and MSRs: SYSCALL/SYSRET (SDM Vol. 2), SWAPGS, the long-mode MSRs
// (EFER, STAR, LSTAR, CSTAR, FMASK, FS/GS/KERNEL_GS base, TSC_AUX), the activation rules of IA-32e
// mode (SDM Vol. 3A 10.8.5: CR0.PG with EFER.LME and CR4.PAE sets EFER.LMA), descriptor-table
// loads with 64-bit bases, LTR of a 16-byte TSS descriptor (far transfers: far-transfer.ts).
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { GP, NP, UD } from '../system/vectors.js';
import { desc, loadFromDesc, readDescriptor64 } from './interrupt.js';
import { canonical, readLinear, writeLinear } from './memory.js';

const CS = 1;
const SS = 2;
const FS = 4;
const GS = 5;
const TR = 7;
const FLAG_RF = 1 << 16;
const FLAG_VM = 1 << 17;

export const EFER_SCE = 1;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;
const CR0_PG = 1 << 31;
const CR4_PAE = 1 << 5;

export const MSR_EFER = 0xc0000080;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_FMASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_TSC_AUX = 0xc0000103;

/** RDMSR of a long-mode MSR into EDX:EAX; false when `msr` is not one. */
export function readLongMsr(cpu: Cpu, msr: number): boolean {
  const l = cpu.long;
  let lo: number;
  let hi = 0;
  switch (msr) {
    case MSR_EFER: lo = cpu.efer; break;
    case MSR_STAR: lo = l.starLo; hi = l.starHi; break;
    case MSR_LSTAR: lo = l.lstarLo; hi = l.lstarHi; break;
    case MSR_CSTAR: lo = l.cstarLo; hi = l.cstarHi; break;
    case MSR_FMASK: lo = l.sfmask; break;
    case MSR_FS_BASE: lo = cpu.segBase[FS]; hi = l.segBaseHi[FS]; break;
    case MSR_GS_BASE: lo = cpu.segBase[GS]; hi = l.segBaseHi[GS]; break;
    case MSR_KERNEL_GS_BASE: lo = l.kernelGsLo; hi = l.kernelGsHi; break;
    case MSR_TSC_AUX: lo = l.tscAux; break;
    default: return false;
  }
  cpu.reg32[0] = lo;
  cpu.reg32[2] = hi;
  cpu.regHi[0] = 0;
  cpu.regHi[2] = 0;
  return true;
}

/** #GP(0) unless hi:lo is a canonical address (what LSTAR, CSTAR and the base MSRs hold). */
function requireCanonical(lo: number, hi: number): void {
  const v = canonical(lo, hi);
  if (v !== v) throwFault(GP, 0);
}

/** WRMSR of a long-mode MSR; false when `msr` is not one. */
export function writeLongMsr(cpu: Cpu, msr: number, hi: number, lo: number): boolean {
  const l = cpu.long;
  switch (msr) {
    case MSR_EFER: {
      // SCE, LME, NXE are writable; LMA is the CPU's; LME cannot change while paging is on.
      if ((lo & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) !== 0 || hi !== 0) throwFault(GP, 0);
      if ((cpu.cr0 & CR0_PG) !== 0 && ((lo ^ cpu.efer) & EFER_LME) !== 0) throwFault(GP, 0);
      const next = (lo & ~EFER_LMA) | (cpu.efer & EFER_LMA);
      const changed = next ^ cpu.efer;
      cpu.efer = next;
      if (changed & EFER_NXE) cpu.modeChanged();
      return true;
    }
    case MSR_STAR: l.starLo = lo; l.starHi = hi; return true;
    case MSR_LSTAR: requireCanonical(lo, hi); l.lstarLo = lo; l.lstarHi = hi; return true;
    case MSR_CSTAR: requireCanonical(lo, hi); l.cstarLo = lo; l.cstarHi = hi; return true;
    case MSR_FMASK: l.sfmask = lo; return true;
    case MSR_FS_BASE: requireCanonical(lo, hi); cpu.segBase[FS] = lo; l.segBaseHi[FS] = hi; return true;
    case MSR_GS_BASE: requireCanonical(lo, hi); cpu.segBase[GS] = lo; l.segBaseHi[GS] = hi; return true;
    case MSR_KERNEL_GS_BASE: requireCanonical(lo, hi); l.kernelGsLo = lo; l.kernelGsHi = hi; return true;
    case MSR_TSC_AUX: l.tscAux = lo; return true;
    default: return false;
  }
}

/**
 * MOV to CR0 or CR4 in a CPU with long mode (called with the new values before they are stored):
 * PG with EFER.LME needs PAE (#GP otherwise) and a CS without L, and activates IA-32e mode; PG
 * cleared leaves it (64-bit code cannot: #GP); PAE cannot be cleared while it is active.
 */
export function checkLongModeControl(cpu: Cpu, cr0: number, cr4: number): void {
  const lma = (cpu.efer & EFER_LMA) !== 0;
  if ((cr0 & CR0_PG) !== 0 && !lma && (cpu.efer & EFER_LME) !== 0) {
    if ((cr4 & CR4_PAE) === 0 || (cpu.segAccess[CS] & (1 << 13)) !== 0) throwFault(GP, 0);
    cpu.efer |= EFER_LMA;
  } else if ((cr0 & CR0_PG) === 0 && lma) {
    if (cpu.mode64) throwFault(GP, 0);
    cpu.efer &= ~EFER_LMA;
  } else if (lma && (cr4 & CR4_PAE) === 0) throwFault(GP, 0);
}

/** The flat segment caches SYSCALL and SYSRET load (SDM Vol. 2 "SYSCALL": fixed, not read from the GDT). */
function flatSegment(cpu: Cpu, reg: number, selector: number, access: number): void {
  cpu.seg[reg] = selector;
  cpu.segBase[reg] = 0;
  cpu.segLimit[reg] = -1;
  cpu.segAccess[reg] = access;
  cpu.long.segBaseHi[reg] = 0;
}

/** SYSCALL: RCX = RIP, R11 = RFLAGS, CS/SS from STAR[47:32], RIP from LSTAR (CSTAR from compatibility mode). */
export function syscall(cpu: Cpu, nextLo: number, nextHi: number): void {
  if ((cpu.efer & EFER_SCE) === 0 || (cpu.efer & EFER_LMA) === 0) throwFault(UD);
  const l = cpu.long;
  const flags = cpu.getEflags();
  cpu.reg32[1] = nextLo;
  cpu.regHi[1] = nextHi;
  cpu.reg32[11] = flags & ~FLAG_RF;
  cpu.regHi[11] = 0;
  const base = l.starHi & 0xffff;
  cpu.cpl = 0;
  flatSegment(cpu, CS, base & 0xfffc, 0xa09b);
  flatSegment(cpu, SS, (base + 8) & 0xfffc, 0xc093);
  cpu.setEflags(flags & ~l.sfmask & ~(FLAG_RF | FLAG_VM));
  if (cpu.mode64) {
    cpu.eip = l.lstarLo >>> 0;
    cpu.ripHi = l.lstarHi;
  } else {
    cpu.eip = l.cstarLo >>> 0;
    cpu.ripHi = l.cstarHi;
  }
  cpu.codeSizeChanged();
  if (!cpu.mode64) cpu.ripHi = 0;
}

/** SYSRET: to 64-bit mode (REX.W: RIP = RCX, which must be canonical) or compatibility mode (EIP = ECX), CPL 3. */
export function sysret(cpu: Cpu, to64: boolean): void {
  if ((cpu.efer & EFER_SCE) === 0) throwFault(UD);
  if (cpu.cpl !== 0) throwFault(GP, 0);
  const ripLo = cpu.reg32[1];
  const ripHi = to64 ? cpu.regHi[1] : 0;
  if (to64) requireCanonical(ripLo, ripHi);
  const base = (cpu.long.starHi >>> 16) & 0xffff;
  cpu.setEflags((cpu.reg32[11] & 0x3c7fd7) | 2);
  cpu.cpl = 3;
  flatSegment(cpu, CS, to64 ? ((base + 16) & 0xffff) | 3 : base | 3, to64 ? 0xa0fb : 0xc0fb);
  flatSegment(cpu, SS, ((base + 8) & 0xffff) | 3, 0xc0f3);
  cpu.eip = ripLo >>> 0;
  cpu.ripHi = ripHi;
  cpu.codeSizeChanged();
}

/** SWAPGS: exchanges GS's base with IA32_KERNEL_GS_BASE (64-bit mode, CPL 0). */
export function swapgs(cpu: Cpu): void {
  if (cpu.cpl !== 0) throwFault(GP, 0);
  const l = cpu.long;
  const lo = cpu.segBase[GS];
  const hi = l.segBaseHi[GS];
  cpu.segBase[GS] = l.kernelGsLo;
  l.segBaseHi[GS] = l.kernelGsHi;
  l.kernelGsLo = lo;
  l.kernelGsHi = hi;
}

/** LTR in IA-32e mode: a 16-byte available 64-bit TSS descriptor (type 9), marked busy. */
export function loadTr64(cpu: Cpu, selector: number): void {
  if (cpu.cpl !== 0) throwFault(GP, 0);
  const error = selector & 0xfffc;
  if (error === 0 || (selector & 4) !== 0) throwFault(GP, error);
  if (!readDescriptor64(cpu, selector)) throwFault(GP, error);
  if ((desc.hi & 0x1f00) !== 0x0900) throwFault(GP, error);
  if ((desc.hi & 0x8000) === 0) throwFault(NP, error);
  const lo = desc.lo;
  const hi = desc.hi;
  const address = desc.address;
  const limit = cpu.gdtrLimit >>> 0;
  if ((selector & 0xfff8) + 15 > limit) throwFault(GP, error);
  const baseHi = readLinear(cpu, address + 8, 4, true);
  const upperType = readLinear(cpu, address + 12, 4, true);
  if ((upperType & 0x1f00) !== 0) throwFault(GP, error);
  requireCanonical((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000), baseHi);
  writeLinear(cpu, address + 5, 1, ((hi >>> 8) & 0xff) | 2, true);
  desc.hi = hi | 0x200;
  loadFromDesc(cpu, TR, selector);
  cpu.long.segBaseHi[TR] = baseHi;
}

/** LGDT/LIDT in 64-bit mode: a 16-bit limit and a 64-bit base, which must be canonical. */
export function loadTableRegister(cpu: Cpu, idt: boolean, limit: number, lo: number, hi: number): void {
  if (cpu.cpl !== 0) throwFault(GP, 0);
  requireCanonical(lo, hi);
  if (idt) {
    cpu.idtrLimit = limit;
    cpu.idtrBase = lo >>> 0;
    cpu.long.idtrBaseHi = hi;
  } else {
    cpu.gdtrLimit = limit;
    cpu.gdtrBase = lo >>> 0;
    cpu.long.gdtrBaseHi = hi;
  }
}
