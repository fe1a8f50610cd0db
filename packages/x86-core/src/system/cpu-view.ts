/**
 * The part of the `Cpu` (owned by core, `src/cpu.ts`) that the protected-mode system code reads and
 * writes. Declared structurally so these functions can be unit-tested against a small stand-in and so
 * the dependency on core is exactly this list (CONTRACT.md, "Cpu fields").
 */
export interface SystemCpu {
  /** EAX ECX EDX EBX ESP EBP ESI EDI. */
  reg32: Int32Array;
  eip: number;
  getEflags(): number;
  setEflags(value: number): void;
  /** Selectors, indexed by ES CS SS DS FS GS LDTR TR. */
  seg: Uint16Array;
  segBase: Int32Array;
  segLimit: Int32Array;
  segAccess: Int32Array;
  cpl: number;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  /** DR0-DR7. */
  dr: Int32Array;
  /** The CPU model's mask for the FLAGS image a real-mode POPF or IRET loads (80286: bits 12-15 clear). */
  readonly traits: { readonly realModeFlagsMask: number; readonly longMode: boolean; readonly sse: boolean };
  /** IA32_EFER (LME/LMA for the IA-32e activation rules). */
  efer: number;
  /** Segment-base bits 63:32 (long mode): every load here sets a 32-bit base, so it clears them. */
  readonly long: { readonly segBaseHi: Int32Array };
  /** CPUID.1:EDX paging-extension bits (PSE, PAE, PGE, PSE-36) the paging unit provides. */
  pagingFeatures: number;
  gdtrBase: number;
  gdtrLimit: number;
  idtrBase: number;
  idtrLimit: number;
  /** Linear accesses through paging; `user` selects a user-mode page check. Throw `CpuFault` (#PF). */
  readLinear8(linear: number, user?: boolean): number;
  readLinear16(linear: number, user?: boolean): number;
  readLinear32(linear: number, user?: boolean): number;
  writeLinear8(linear: number, value: number, user?: boolean): void;
  writeLinear16(linear: number, value: number, user?: boolean): void;
  writeLinear32(linear: number, value: number, user?: boolean): void;
  /** After CS's D bit changes. */
  codeSizeChanged(): void;
  /** After CR0.PE/PG/WP, CR3, CR4 or EFLAGS.VM change: paging mode, TLB and decoder state. */
  modeChanged(): void;
}

export const ES = 0;
export const CS = 1;
export const SS = 2;
export const DS = 3;
export const FS = 4;
export const GS = 5;
export const LDTR = 6;
export const TR = 7;

export const ESP = 4;

// EFLAGS bits
export const FLAG_ZF = 1 << 6;
export const FLAG_TF = 1 << 8;
export const FLAG_IF = 1 << 9;
export const FLAG_IOPL = 3 << 12;
export const FLAG_NT = 1 << 14;
export const FLAG_RF = 1 << 16;
export const FLAG_VM = 1 << 17;
export const FLAG_AC = 1 << 18;
export const FLAG_VIF = 1 << 19;
export const FLAG_VIP = 1 << 20;
export const FLAG_ID = 1 << 21;

// CR0 bits
export const CR0_PE = 1 << 0;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;

export function iopl(cpu: SystemCpu): number {
  return (cpu.getEflags() >>> 12) & 3;
}

export function isProtected(cpu: SystemCpu): boolean {
  return (cpu.cr0 & CR0_PE) !== 0;
}

export function isV86(cpu: SystemCpu): boolean {
  return (cpu.getEflags() & FLAG_VM) !== 0;
}
