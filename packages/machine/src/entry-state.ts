import type { Registers, SegmentState, SpecialRegisters } from '@ringvisor/vmm-api';

/** What a loader hands the hypervisor: the first values of the vCPU's registers. */
export interface EntryState {
  readonly regs: Registers;
  readonly sregs: SpecialRegisters;
}

// Access rights as in VMX (vmm-api SegmentState.access): type 0..3, S 4, DPL 5..6, P 7, AVL 12,
// L 13, D/B 14, G 15, unusable 16.
const ACCESS_P = 0x80;
const ACCESS_S = 0x10;
const TYPE_DATA_RW_ACCESSED = 0x3;
const TYPE_CODE_RX_ACCESSED = 0xb;
const TYPE_LDT = 0x2;
const TYPE_TSS16_BUSY = 0x3;
const TYPE_TSS32_BUSY = 0xb;
const ACCESS_L = 1 << 13;
const ACCESS_DB = 1 << 14;
const ACCESS_G = 1 << 15;
const ACCESS_UNUSABLE = 1 << 16;

export const CR0_PE = 1 << 0;
export const CR0_ET = 1 << 4;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 0x80000000;
export const CR4_PAE = 1 << 5;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
/** EFLAGS bit 1 is reserved and always reads as one. */
export const EFLAGS_FIXED = 0x2;

/** A real-mode segment: base = selector × 16, 64 KiB limit. */
export function realModeSegment(selector: number, code = false): SegmentState {
  const type = code ? TYPE_CODE_RX_ACCESSED : TYPE_DATA_RW_ACCESSED;
  return { selector, base: (selector & 0xffff) << 4, limit: 0xffff, access: ACCESS_P | ACCESS_S | type };
}

/** A flat 4 GiB protected-mode segment (32-bit code, 64-bit code, or data) as a GDT entry loads it. */
export function flatSegment(selector: number, kind: 'code32' | 'code64' | 'data'): SegmentState {
  const type = kind === 'data' ? TYPE_DATA_RW_ACCESSED : TYPE_CODE_RX_ACCESSED;
  const size = kind === 'code64' ? ACCESS_L : ACCESS_DB;
  return { selector, base: 0, limit: 0xffffffff, access: ACCESS_P | ACCESS_S | ACCESS_G | size | type };
}

/** The 8-byte GDT descriptor that loads as `flatSegment(…, kind)`. */
export function flatDescriptor(kind: 'code32' | 'code64' | 'data'): bigint {
  const access = BigInt(ACCESS_P | ACCESS_S | (kind === 'data' ? TYPE_DATA_RW_ACCESSED : TYPE_CODE_RX_ACCESSED));
  // Flags nibble (descriptor bits 52..55): AVL, L, D/B, G.
  const flags = kind === 'code64' ? 0xan : 0xcn;
  return 0xffffn | (access << 40n) | (0xfn << 48n) | (flags << 52n);
}

function unusableSegment(): SegmentState {
  return { selector: 0, base: 0, limit: 0, access: ACCESS_UNUSABLE };
}

function zeroRegisters(): Registers {
  return { eax: 0, ecx: 0, edx: 0, ebx: 0, esp: 0, ebp: 0, esi: 0, edi: 0, eip: 0, eflags: EFLAGS_FIXED };
}

/** Real-mode state with every segment register at `segment` except SS:SP. */
export function realModeEntry(cs: number, ip: number, ss: number, sp: number): EntryState {
  const data = realModeSegment(cs);
  return {
    regs: { ...zeroRegisters(), eip: ip, esp: sp },
    sregs: {
      cs: realModeSegment(cs, true), ds: data, es: data, fs: data, gs: data, ss: realModeSegment(ss),
      tr: { selector: 0, base: 0, limit: 0xffff, access: ACCESS_P | TYPE_TSS16_BUSY },
      ldt: { selector: 0, base: 0, limit: 0xffff, access: ACCESS_P | TYPE_LDT },
      gdt: { base: 0, limit: 0xffff }, idt: { base: 0, limit: 0x3ff },
      cr0: CR0_ET, cr2: 0, cr3: 0, cr4: 0, efer: 0,
    },
  };
}

/** The state after RESET (Intel SDM Vol. 3 §9.1.1): CS selector F000 with base FFFF0000, IP FFF0. */
export function resetEntry(cpuSignature = 0x600): EntryState {
  const state = realModeEntry(0, 0, 0, 0);
  return {
    regs: { ...state.regs, eip: 0xfff0, edx: cpuSignature },
    sregs: {
      ...state.sregs,
      cs: { ...realModeSegment(0xf000, true), base: 0xffff0000 },
      idt: { base: 0, limit: 0xffff },
      cr0: CR0_ET | CR0_NW | CR0_CD,
    },
  };
}

/** Flat protected mode, paging off, interrupts off, with CS/DS selectors of a GDT the loader wrote. */
export function protectedModeEntry(
  eip: number, codeSelector: number, dataSelector: number, gdt: { base: number; limit: number },
): EntryState {
  const data = flatSegment(dataSelector, 'data');
  return {
    regs: { ...zeroRegisters(), eip },
    sregs: {
      cs: flatSegment(codeSelector, 'code32'), ds: data, es: data, fs: data, gs: data, ss: data,
      tr: { selector: 0, base: 0, limit: 0xffff, access: ACCESS_P | TYPE_TSS32_BUSY },
      ldt: unusableSegment(),
      gdt, idt: { base: 0, limit: 0 },
      cr0: CR0_PE | CR0_ET, cr2: 0, cr3: 0, cr4: 0, efer: 0,
    },
  };
}

/** 64-bit long mode with identity page tables at `cr3` (paging and PAE on, EFER.LME|LMA). */
export function longModeEntry(
  rip: number, codeSelector: number, dataSelector: number, gdt: { base: number; limit: number }, cr3: number,
): EntryState {
  const state = protectedModeEntry(rip, codeSelector, dataSelector, gdt);
  return {
    regs: state.regs,
    sregs: {
      ...state.sregs,
      cs: flatSegment(codeSelector, 'code64'),
      cr0: (CR0_PE | CR0_ET | CR0_PG) >>> 0, cr3, cr4: CR4_PAE, efer: EFER_LME | EFER_LMA,
    },
  };
}
