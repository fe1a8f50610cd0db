// Control-register, paging-entry and page-fault error-code bits, named as in the Intel SDM vol. 3, ch. 4.

/** CR0.WP: supervisor writes honour read-only pages. */
export const CR0_WP = 1 << 16;
/** CR0.PG: paging enabled. */
export const CR0_PG = 1 << 31;
/** CR4.PSE: 4 MiB pages in 32-bit paging. */
export const CR4_PSE = 1 << 4;
/** CR4.PAE: 64-bit entries, 3-level walk. */
export const CR4_PAE = 1 << 5;
/** CR4.PGE: the G bit keeps translations across CR3 loads. */
export const CR4_PGE = 1 << 7;
/** IA32_EFER.NXE: bit 63 of PAE entries is XD (execute-disable) instead of reserved. */
export const EFER_NXE = 1 << 11;
/** IA32_EFER.LMA: IA-32e mode active (the CPU sets it); paging is then 4-level. */
export const EFER_LMA = 1 << 10;

// Entry bits (low dword of PAE entries too).
export const PTE_P = 1 << 0;
export const PTE_RW = 1 << 1;
export const PTE_US = 1 << 2;
export const PTE_PWT = 1 << 3;
export const PTE_PCD = 1 << 4;
export const PTE_A = 1 << 5;
export const PTE_D = 1 << 6;
/** PS in a directory entry (large page); PAT in a PTE. */
export const PTE_PS = 1 << 7;
export const PTE_G = 1 << 8;
/** XD: bit 63 of a PAE entry, i.e. bit 31 of its high dword. */
export const PTE_HI_XD = 1 << 31;

// Page-fault error code (pushed with #PF; CR2 gets the linear address).
/** 0: the page was not present; 1: a protection or reserved-bit violation. */
export const PF_P = 1 << 0;
/** The access was a write. */
export const PF_W = 1 << 1;
/** The access was made in user mode (CPL 3). */
export const PF_U = 1 << 2;
/** A reserved bit was set in a paging-structure entry. */
export const PF_RSVD = 1 << 3;
/** The access was an instruction fetch (reported only with PAE paging and EFER.NXE = 1). */
export const PF_I = 1 << 4;

/** Exception vector of #PF. */
export const PF_VECTOR = 14;
