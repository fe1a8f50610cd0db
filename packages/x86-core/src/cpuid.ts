import type { Cpu } from './cpu.js';

/**
 * The CPUID model this core presents: a family-6 (P6-class) processor with exactly the features the
 * interpreter implements. Leaf 1 EDX bits (SDM Vol. 2 "CPUID", Table 3-11) are the core's own plus the
 * paging extensions the paging unit reports in `Cpu.pagingFeatures`.
 */
export const CPUID_VENDOR = 'GenuineIntel';
/** Family 6, model 1, stepping 9 (EAX of leaf 1: stepping 3:0, model 7:4, family 11:8). */
export const CPUID_SIGNATURE = 0x0619;
export const FEATURE_FPU = 1 << 0;
export const FEATURE_PSE = 1 << 3;
export const FEATURE_TSC = 1 << 4;
export const FEATURE_MSR = 1 << 5;
export const FEATURE_PAE = 1 << 6;
export const FEATURE_CX8 = 1 << 8;
export const FEATURE_SEP = 1 << 11;
export const FEATURE_PGE = 1 << 13;
export const FEATURE_CMOV = 1 << 15;
export const FEATURE_FXSR = 1 << 24;
export const FEATURE_SSE = 1 << 25;
export const FEATURE_SSE2 = 1 << 26;
/**
 * The x87 FPU, RDTSC, RDMSR/WRMSR, CMPXCHG8B, SYSENTER/SYSEXIT (SEP; the signature's stepping 9 is
 * past the early Pentium Pro steppings whose SEP bit software must ignore), CMOVcc (which covers
 * FCMOVcc and FCOMI) and FXSAVE/FXRSTOR (which makes CR4.OSFXSR settable) are implemented. SSE and
 * SSE2 only on the 'x86-64' model (`leaf1Edx`); on the i686 FXSAVE keeps no XMM or MXCSR state
 * (src/fpu/environment.ts).
 */
export const CORE_FEATURES = FEATURE_FPU | FEATURE_TSC | FEATURE_MSR | FEATURE_CX8 | FEATURE_SEP | FEATURE_CMOV | FEATURE_FXSR;
const MAX_BASIC_LEAF = 1;
/** Leaf 1 ECX bit 13: CMPXCHG16B, which the long-mode interpreter executes (src/long/execute-0f.ts). */
export const FEATURE_CX16 = 1 << 13;

/** Leaf 1 EDX of this CPU: the core's features, SSE and SSE2 on the models that have them, paging's. */
export function leaf1Edx(cpu: { readonly traits: { readonly sse: boolean }; pagingFeatures: number }): number {
  return CORE_FEATURES | (cpu.traits.sse ? FEATURE_SSE | FEATURE_SSE2 : 0) | cpu.pagingFeatures;
}

function vendorWord(i: number): number {
  let v = 0;
  for (let b = 0; b < 4; b++) v |= CPUID_VENDOR.charCodeAt(i * 4 + b) << (8 * b);
  return v;
}

// Extended leaves of the 'x86-64' model (SDM Vol. 2 "CPUID", leaves 80000000H-80000008H).
const MAX_EXTENDED_LEAF = 0x80000008;
/** 80000001H EDX: SYSCALL/SYSRET (11), XD (20), 1 GiB pages (26), RDTSCP (27), Intel 64 (29). */
const EXT_EDX = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29);
/** 80000001H ECX: LAHF/SAHF in 64-bit mode. */
const EXT_ECX = 1;
/** 80000008H EAX: 36 physical and 48 linear address bits (mmu's default MAXPHYADDR). */
const ADDRESS_SIZES = 36 | (48 << 8);

/** The extended leaves of a long-mode CPU; false for a leaf outside them. */
function extendedLeaf(cpu: Cpu, leaf: number): boolean {
  if (!cpu.traits.longMode || leaf < 0x80000000 || leaf > MAX_EXTENDED_LEAF) return false;
  const r = cpu.reg32;
  r[0] = r[1] = r[2] = r[3] = 0;
  if (leaf === 0x80000000) r[0] = MAX_EXTENDED_LEAF;
  else if (leaf === 0x80000001) {
    // reg32 is in encoding order: EAX, ECX, EDX, EBX.
    r[2] = EXT_EDX;
    r[1] = EXT_ECX;
  } else if (leaf === 0x80000008) r[0] = ADDRESS_SIZES;
  return true;
}

/** CPUID: EAX selects the leaf. Leaves above the maximum answer as the highest basic leaf, as Intel's do. */
export function cpuid(cpu: Cpu): void {
  const r = cpu.reg32;
  const leaf = r[0] >>> 0;
  if (extendedLeaf(cpu, leaf)) return;
  if (leaf === 0) {
    r[0] = MAX_BASIC_LEAF;
    r[3] = vendorWord(0);
    r[2] = vendorWord(1);
    r[1] = vendorWord(2);
    return;
  }
  r[0] = CPUID_SIGNATURE;
  r[3] = 0;
  r[1] = cpu.traits.longMode ? FEATURE_CX16 : 0;
  r[2] = leaf1Edx(cpu);
}
