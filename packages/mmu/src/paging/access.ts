// The three kinds of memory access and the TLB entry flags that say which of them a page allows.

export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_FETCH = 2;
export type Access = typeof ACCESS_READ | typeof ACCESS_WRITE | typeof ACCESS_FETCH;

// A TLB entry is `(physicalPageAddress ^ linearPageAddress) | flags` in an Int32Array, so a hit
// yields the physical address as `((entry & ~0xfff) ^ linear) >>> 0`.
/** The entry holds a translation. */
export const TLB_VALID = 1 << 0;
/** U/S = 0 at some level: user-mode accesses fault. */
export const TLB_NO_USER = 1 << 1;
/** R/W = 0 at some level: user-mode writes fault. */
export const TLB_NO_WRITE_USER = 1 << 2;
/** R/W = 0 at some level and CR0.WP = 1: supervisor writes fault. */
export const TLB_NO_WRITE_SUPER = 1 << 3;
/** XD = 1 at some level with EFER.NXE = 1: instruction fetches fault. */
export const TLB_NO_FETCH = 1 << 4;
/** The final entry's D bit is clear: a write must walk again to set it. */
export const TLB_CLEAN = 1 << 5;
/** The physical page is not RAM (ROM, MMIO, unmapped): go through `PhysicalMemory`. */
export const TLB_NOT_RAM = 1 << 6;
/** From a global page (G = 1, CR4.PGE = 1): kept across CR3 loads. */
export const TLB_GLOBAL = 1 << 7;
/** Part of a 4 MiB or 2 MiB page (INVLPG must drop its siblings too). */
export const TLB_LARGE = 1 << 8;
/** Part of a 1 GiB page (with TLB_LARGE): INVLPG's search for siblings spans the whole 1 GiB. */
export const TLB_HUGE = 1 << 9;

/** Index into the per-access tables below: `access << 1 | (user ? 1 : 0)`. */
export function accessIndex(access: Access, user: boolean): number {
  return (access << 1) | (user ? 1 : 0);
}

/** Flags that deny an access, by `accessIndex`. */
export const DENY_MASK = Int32Array.of(
  0, TLB_NO_USER,
  TLB_NO_WRITE_SUPER, TLB_NO_USER | TLB_NO_WRITE_USER,
  TLB_NO_FETCH, TLB_NO_USER | TLB_NO_FETCH,
);

/**
 * The TLB hits for an access when `(entry & TLB_HIT_MASK[accessIndex]) === TLB_VALID`. Add
 * TLB_NOT_RAM to the mask to also know that `ram[physical]` is the byte (for writes, check
 * `kind[physical >>> 12] === KIND_RAM` too: code pages are RAM but writes to them must be seen).
 */
export const TLB_HIT_MASK = Int32Array.of(
  TLB_VALID, TLB_VALID | TLB_NO_USER,
  TLB_VALID | TLB_NO_WRITE_SUPER | TLB_CLEAN, TLB_VALID | TLB_NO_USER | TLB_NO_WRITE_USER | TLB_CLEAN,
  TLB_VALID | TLB_NO_FETCH, TLB_VALID | TLB_NO_USER | TLB_NO_FETCH,
);
