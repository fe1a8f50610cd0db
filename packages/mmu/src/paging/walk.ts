// What every page walker (32-bit, PAE; later 4-level, EPT) shares: where it reads entries, the
// state it reads, where it leaves its answer, and how rights and faults are formed.
import { ACCESS_FETCH, ACCESS_WRITE, DENY_MASK, TLB_CLEAN, TLB_GLOBAL, TLB_NO_FETCH, TLB_NO_USER, TLB_NO_WRITE_SUPER, TLB_NO_WRITE_USER, TLB_VALID, accessIndex, type Access } from './access.js';
import { CR0_WP, CR4_PGE, PF_I, PF_U, PF_W, PTE_A, PTE_D, PTE_G } from './control-bits.js';

/**
 * Where a walker reads and updates paging-structure entries (guest-physical addresses, possibly at
 * or above 4 GiB with PAE). `PhysicalMemory` is one; an EPT layer can interpose another.
 */
export interface PageTableMemory {
  read32(address: number): number;
  write32(address: number, value: number): void;
  /** Sets `bits` in the dword at `address` in one locked update (how A and D are written). */
  or32(address: number, bits: number): void;
}

/** The processor state a walk depends on. */
export interface WalkContext {
  readonly tables: PageTableMemory;
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly efer: number;
  /** MAXPHYADDR: physical-address bits above it are reserved in entries. */
  readonly maxPhysAddrBits: number;
}

/** A walker's answer, reused across walks so that translating never allocates. */
export class WalkResult {
  /** Physical address of the linear address walked (may be 4 GiB or more with PAE). */
  physical = 0;
  /** TLB_* flags for the whole page. */
  flags = 0;
  /** #PF error code when the walk failed. */
  errorCode = 0;
}

/** TLB flags for rights combined over all levels: `rw`, `us` nonzero when every level allows it. */
export function rightsFlags(rw: number, us: number, executeDisabled: boolean, cr0: number): number {
  let flags = TLB_VALID;
  if (us === 0) flags |= TLB_NO_USER;
  if (rw === 0) flags |= (cr0 & CR0_WP) !== 0 ? TLB_NO_WRITE_USER | TLB_NO_WRITE_SUPER : TLB_NO_WRITE_USER;
  if (executeDisabled) flags |= TLB_NO_FETCH;
  return flags;
}

export function isDenied(flags: number, access: Access, user: boolean): boolean {
  return (flags & DENY_MASK[accessIndex(access, user)]) !== 0;
}

/**
 * Records a failed walk. `cause` is 0 (not present), PF_P (protection) or PF_P|PF_RSVD; the I/D bit
 * is reported only where the architecture defines it (`reportsFetch`: PAE paging with EFER.NXE).
 */
export function fail(out: WalkResult, cause: number, access: Access, user: boolean, reportsFetch: boolean): false {
  let code = cause;
  if (access === ACCESS_WRITE) code |= PF_W;
  if (user) code |= PF_U;
  if (access === ACCESS_FETCH && reportsFetch) code |= PF_I;
  out.errorCode = code;
  return false;
}

/**
 * Ends a successful walk at the final entry (the PTE, or the directory entry of a large page): sets
 * its A bit, and D for a write, and records the page's TLB flags.
 */
export function finishAtLeaf(
  ctx: WalkContext, out: WalkResult, rights: number, write: boolean, leafAddress: number, leaf: number,
): void {
  const bits = write ? PTE_A | PTE_D : PTE_A;
  if ((leaf & bits) !== bits) ctx.tables.or32(leafAddress, bits);
  out.flags = rights
    | (write || (leaf & PTE_D) !== 0 ? 0 : TLB_CLEAN)
    | ((leaf & PTE_G) !== 0 && (ctx.cr4 & CR4_PGE) !== 0 ? TLB_GLOBAL : 0);
}
