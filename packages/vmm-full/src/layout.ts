// Where the VMM lives. Host-physical: guest RAM at hpa = gpa, then the VMM's frames (never guest
// RAM: the shadow pager refuses to map them and the guest-physical views read them as an undriven
// bus). Linear: one 4 MiB slot at the top of the address space, in every shadow root, mapped
// supervisor-only; guest segments are truncated below it (segments.ts), as VMware's VMM did, so
// neither guest ring reaches it.

/** Linear base of the VMM area (the last page-directory slot). */
export const VMM_LINEAR = 0xffc00000;
/**
 * Pages of the area, in order: shadow GDT, shadow LDT, the VMM's TSS, the data translated code
 * reaches through GS (scratch slots, then the indirect-branch table), then the translation cache.
 */
/** The shadow GDT keeps the guest GDT's page offset (ring 3 sees it at the guest's address): 64 KiB span 17 pages. */
export const GDT_PAGES = 17;
export const LDT_PAGES = 16;
export const GDT_OFFSET = 0;
export const LDT_OFFSET = GDT_PAGES * 4096;
export const TSS_OFFSET = LDT_OFFSET + LDT_PAGES * 4096;
export const DATA_OFFSET = TSS_OFFSET + 4096;
/** Entries of the indirect-branch table: indexed by a target's low 16 bits, 8 bytes each. */
export const BRANCH_TABLE_ENTRIES = 0x10000;
/** Offsets in the data, from GS's base: the slots, then the table. */
export const SLOT_ECX = 0;
export const SLOT_EDX = 4;
export const SLOT_JUMP = 8;
export const SLOT_EXTRA = 12;
export const BRANCH_TABLE = 4096;
export const DATA_SIZE = BRANCH_TABLE + BRANCH_TABLE_ENTRIES * 8;
export const TC_OFFSET = DATA_OFFSET + DATA_SIZE;
/** The translation cache fills the rest of the 4 MiB slot. */
export const TC_SIZE = 0x400000 - TC_OFFSET;
/** Frames of the area, plus its page table, plus the shadow pager's pool. */
export const AREA_FRAMES = 1024;
export const SHADOW_POOL_FRAMES = 640;
/** Host RAM the VMM adds above guest RAM (4 MiB-aligned start). */
export const VMM_FRAMES_SIZE = (AREA_FRAMES + 1 + SHADOW_POOL_FRAMES) * 4096;

/**
 * The selector the CPU's CS holds while it runs the translation cache (RPL 1). No descriptor backs
 * it: the VMM loads the segment caches directly, and the CPU never reloads CS at ring 1 (every far
 * transfer is a call-out).
 */
export const TC_CS = (8190 << 3) | 1;

/**
 * The selector GS holds while the CPU runs the translation cache: the VMM's data (as VMware's VMM
 * kept GS for itself). Guest kernel code that names GS is emulated; its GS lives in the virtual CPU.
 */
export const TC_GS = (8189 << 3) | 1;
