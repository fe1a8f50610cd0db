// SYSENTER and SYSEXIT (SDM Vol. 2B, "SYSENTER", "SYSEXIT") and their MSRs, IA32_SYSENTER_CS/ESP/EIP
// (SDM Vol. 4, Table 2-2). The fast system call loads flat CS/SS caches of fixed contents, never
// reading the GDT: the operating system promises descriptors there that match.
import type { Cpu } from './cpu.js';
import { throwFault } from './fault.js';
import { canonical } from './long/memory.js';
import { EFER_LMA } from './long/system.js';

export const IA32_SYSENTER_CS = 0x174;
export const IA32_SYSENTER_ESP = 0x175;
export const IA32_SYSENTER_EIP = 0x176;

const CS = 1;
const SS = 2;
const GP = 13;
const FLAG_IF = 1 << 9;
const FLAG_RF = 1 << 16;
const FLAG_VM = 1 << 17;
const CR0_PE = 1;

// The fixed caches in `segAccess` layout (type/S/DPL/P in 7:0, L 13, D/B 14, G 15): CS is type 11
// (execute/read, accessed), SS type 3 (read/write, accessed); both flat with 4 KiB granularity.
const CS32_DPL0 = 0xc09b;
const CS64_DPL0 = 0xa09b;
const SS_DPL0 = 0xc093;
const CS32_DPL3 = 0xc0fb;
const CS64_DPL3 = 0xa0fb;
const SS_DPL3 = 0xc0f3;

/** RDMSR of a SYSENTER MSR into EDX:EAX; false when `msr` is not one. */
export function readSysenterMsr(cpu: Cpu, msr: number): boolean {
  const r = cpu.reg32;
  switch (msr) {
    case IA32_SYSENTER_CS: r[0] = cpu.sysenterCs; r[2] = 0; return true;
    case IA32_SYSENTER_ESP: r[0] = cpu.sysenterEsp; r[2] = cpu.long.sysenterEspHi; return true;
    case IA32_SYSENTER_EIP: r[0] = cpu.sysenterEip; r[2] = cpu.long.sysenterEipHi; return true;
    default: return false;
  }
}

/**
 * WRMSR of a SYSENTER MSR; false when `msr` is not one. SYSENTER_CS keeps bits 31:0 (15:0 the
 * selector, 31:16 unused but readable) and ignores 63:32. The stack and entry MSRs are 32 bits on the
 * i686 (EDX ignored) and 64 bits with Intel 64, where a non-canonical address is #GP(0).
 */
export function writeSysenterMsr(cpu: Cpu, msr: number, high: number, low: number): boolean {
  if (msr === IA32_SYSENTER_CS) {
    cpu.sysenterCs = low | 0;
    return true;
  }
  if (msr !== IA32_SYSENTER_ESP && msr !== IA32_SYSENTER_EIP) return false;
  let hi = 0;
  if (cpu.traits.longMode) {
    const v = canonical(low, high | 0);
    if (v !== v) throwFault(GP, 0);
    hi = high | 0;
  }
  if (msr === IA32_SYSENTER_ESP) {
    cpu.sysenterEsp = low | 0;
    cpu.long.sysenterEspHi = hi;
  } else {
    cpu.sysenterEip = low | 0;
    cpu.long.sysenterEipHi = hi;
  }
  return true;
}

function flat(cpu: Cpu, reg: number, selector: number, access: number): void {
  cpu.seg[reg] = selector & 0xffff;
  cpu.segBase[reg] = 0;
  cpu.long.segBaseHi[reg] = 0;
  cpu.segLimit[reg] = -1;
  cpu.segAccess[reg] = access;
}

/**
 * SYSENTER: #GP(0) outside protected mode or with SYSENTER_CS[15:2] = 0; otherwise clears VM, IF
 * and RF, enters CPL 0 at SYSENTER_EIP on SYSENTER_ESP with CS = SYSENTER_CS & FFFCH and SS = CS + 8.
 * In IA-32e mode (from 64-bit or compatibility mode) it enters 64-bit mode with the full MSRs.
 */
export function sysenter(cpu: Cpu): void {
  const selector = cpu.sysenterCs & 0xfffc;
  if ((cpu.cr0 & CR0_PE) === 0 || selector === 0) throwFault(GP, 0);
  const ia32e = (cpu.efer & EFER_LMA) !== 0;
  cpu.setEflags(cpu.getEflags() & ~(FLAG_VM | FLAG_IF | FLAG_RF));
  cpu.cpl = 0;
  flat(cpu, CS, selector, ia32e ? CS64_DPL0 : CS32_DPL0);
  flat(cpu, SS, selector + 8, SS_DPL0);
  cpu.reg32[4] = cpu.sysenterEsp;
  cpu.eip = cpu.sysenterEip >>> 0;
  if (ia32e) {
    cpu.regHi[4] = cpu.long.sysenterEspHi;
    cpu.ripHi = cpu.long.sysenterEipHi;
  }
  cpu.codeSizeChanged();
}

/**
 * SYSEXIT: #GP(0) outside protected mode, at CPL > 0 or with SYSENTER_CS[15:2] = 0; otherwise CPL 3
 * at EDX on ECX with CS = SYSENTER_CS + 16 and SS = SYSENTER_CS + 24, both RPL 3. With REX.W
 * (`to64`) it returns to 64-bit mode at RDX on RCX (CS = SYSENTER_CS + 32, SS + 40), which must be
 * canonical. Flags are left as they are.
 */
export function sysexit(cpu: Cpu, to64: boolean): void {
  const base = cpu.sysenterCs & 0xffff;
  if ((cpu.cr0 & CR0_PE) === 0 || cpu.cpl !== 0 || (base & 0xfffc) === 0) throwFault(GP, 0);
  const r = cpu.reg32;
  const espHi = to64 ? cpu.regHi[1] : 0;
  const eipHi = to64 ? cpu.regHi[2] : 0;
  if (to64) {
    const rsp = canonical(r[1], espHi);
    const rip = canonical(r[2], eipHi);
    if (rsp !== rsp || rip !== rip) throwFault(GP, 0);
  }
  const code = ((base + (to64 ? 32 : 16)) & 0xffff) | 3;
  cpu.cpl = 3;
  flat(cpu, CS, code, to64 ? CS64_DPL3 : CS32_DPL3);
  flat(cpu, SS, (code + 8) | 3, SS_DPL3);
  r[4] = r[1];
  cpu.eip = r[2] >>> 0;
  if (cpu.traits.longMode) {
    cpu.regHi[4] = espHi;
    cpu.ripHi = eipHi;
  }
  cpu.codeSizeChanged();
}
