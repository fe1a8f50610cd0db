// 4-level paging (SDM vol. 3, 4.5), used when IA32_EFER.LMA = 1: PML4E -> PDPTE -> PDE -> PTE, with
// 1 GiB pages from the PDPTE and 2 MiB pages from the PDE (PS = 1). Entries are 64-bit; bits 51:M
// (M = MAXPHYADDR) are reserved, bits 62:52 are ignored, bit 63 is XD with EFER.NXE (else reserved).
// PS is reserved in a PML4E. Rights combine over all four levels: R/W and U/S must allow at every
// level, XD at any level forbids fetches. A is set in every entry used, D in the leaf on a write,
// and only when the walk succeeds (as the PAE walker does).
//
// Linear addresses are JS numbers: the canonical 64-bit address as a signed value (bits 63:47 all
// equal), so -2^47 <= linear < 2^47; a 32-bit linear address of compatibility mode is one of them.
import { ACCESS_WRITE, TLB_HUGE, TLB_LARGE, type Access } from './access.js';
import { EFER_NXE, PF_P, PF_RSVD, PTE_A, PTE_HI_XD, PTE_P, PTE_PS, PTE_RW, PTE_US } from './control-bits.js';
import { fail, finishAtLeaf, isDenied, rightsFlags, type WalkContext, type WalkResult } from './walk.js';

const TWO_32 = 0x1_0000_0000;
const TWO_48 = 0x1_0000_0000_0000;
/** Bits 29:13 of a 1 GiB PDPTE are reserved (bit 12 is PAT). */
const PDPTE_1GIB_RESERVED_LOW = 0x3fffe000;
/** Bits 20:13 of a 2 MiB PDE are reserved (bit 12 is PAT). */
const PDE_2MIB_RESERVED_LOW = 0x1fe000;

/** Walk state, reused so that a walk never allocates. */
const level = { address: 0, low: 0, high: 0 };

/**
 * Reads the entry `index` of the table an entry (`low`/`high`) points to. Returns the #PF cause
 * (0 not present, PF_P|PF_RSVD reserved bit) or -1 when the entry is present and well formed.
 */
function readEntry(ctx: WalkContext, tableLow: number, tableHigh: number, index: number, reservedHigh: number, highMask: number): number {
  const address = (tableHigh & highMask) * TWO_32 + ((tableLow & 0xfffff000) >>> 0) + index * 8;
  const low = ctx.tables.read32(address);
  level.address = address;
  level.low = low;
  if ((low & PTE_P) === 0) return 0;
  const high = ctx.tables.read32(address + 4);
  level.high = high;
  return (high & reservedHigh) !== 0 ? PF_P | PF_RSVD : -1;
}

// The entries above the current level (PML4E, PDPTE, PDE) as the walk passes them, for their A bits.
const upperAddress = new Float64Array(3);
const upperEntry = new Int32Array(3);

/** Translates the canonical `linear` for `access`; false with `out.errorCode` on #PF. */
export function walk4Level(ctx: WalkContext, linear: number, access: Access, user: boolean, out: WalkResult): boolean {
  const nxe = (ctx.efer & EFER_NXE) !== 0;
  const highMask = (1 << (ctx.maxPhysAddrBits - 32)) - 1;
  // Bits 51:M of the high dword reserved; 62:52 ignored; 63 reserved unless NXE.
  const reservedHigh = (~highMask & 0xfffff) | (nxe ? 0 : PTE_HI_XD);
  const l = linear < 0 ? linear + TWO_48 : linear;
  const upper = Math.floor(l / TWO_32);
  const low32 = l - upper * TWO_32;
  let tableLow = ctx.cr3;
  let tableHigh = 0;
  let rw = PTE_RW;
  let us = PTE_US;
  let xd = 0;
  for (let depth = 0; ; depth++) {
    // Index bits 47:39, 38:30, 29:21, 20:12.
    const index = depth === 0 ? (upper >>> 7) & 0x1ff
      : depth === 1 ? ((upper << 2) | (low32 >>> 30)) & 0x1ff
        : (low32 >>> (39 - 9 * depth)) & 0x1ff;
    const cause = readEntry(ctx, tableLow, tableHigh, index, reservedHigh, highMask);
    if (cause >= 0) return fail(out, cause, access, user, nxe);
    const entry = level.low;
    const high = level.high;
    const large = (entry & PTE_PS) !== 0 && depth < 3;
    if (large && (depth === 0 || (entry & (depth === 1 ? PDPTE_1GIB_RESERVED_LOW : PDE_2MIB_RESERVED_LOW)) !== 0)) {
      return fail(out, PF_P | PF_RSVD, access, user, nxe);
    }
    rw &= entry;
    us &= entry;
    xd |= high;
    if (large || depth === 3) {
      const rights = rightsFlags(rw, us, nxe && (xd & PTE_HI_XD) !== 0, ctx.cr0);
      if (isDenied(rights, access, user)) return fail(out, PF_P, access, user, nxe);
      for (let i = 0; i < depth; i++) if ((upperEntry[i] & PTE_A) === 0) ctx.tables.or32(upperAddress[i], PTE_A);
      const size = large ? (depth === 1 ? TLB_LARGE | TLB_HUGE : TLB_LARGE) : 0;
      finishAtLeaf(ctx, out, rights | size, access === ACCESS_WRITE, level.address, entry);
      const offsetMask = depth === 1 ? 0x3fffffff : depth === 2 ? 0x1fffff : 0xfff;
      out.physical = (high & highMask) * TWO_32 + ((entry & ~offsetMask) >>> 0) + (low32 & offsetMask);
      return true;
    }
    upperAddress[depth] = level.address;
    upperEntry[depth] = entry;
    tableLow = entry;
    tableHigh = high;
  }
}
