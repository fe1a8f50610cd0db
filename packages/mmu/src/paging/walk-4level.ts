// 4-level paging (SDM vol. 3, 4.5), used when IA32_EFER.LMA = 1: PML4E -> PDPTE -> PDE -> PTE, with
// 1 GiB pages from the PDPTE and 2 MiB pages from the PDE (PS = 1). Entries are 64-bit; bits 51:M
// (M = MAXPHYADDR) are reserved, bits 62:52 are ignored, bit 63 is XD with EFER.NXE (else reserved).
// PS is reserved in a PML4E. Rights combine over all four levels: R/W and U/S must allow at every
// level, XD at any level forbids fetches. A is set in every entry used, D in the leaf on a write,
// and only when the walk succeeds (as the PAE walker does).
//
// Linear addresses are JS numbers: the canonical 64-bit address as a signed value (bits 63:47 all
// equal), so -2^47 <= linear < 2^47; a 32-bit linear address of compatibility mode is one of them.
import { ACCESS_WRITE, TLB_LARGE, type Access } from './access.js';
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

/** Translates the canonical `linear` for `access`; false with `out.errorCode` on #PF. */
export function walk4Level(ctx: WalkContext, linear: number, access: Access, user: boolean, out: WalkResult): boolean {
  const nxe = (ctx.efer & EFER_NXE) !== 0;
  const highMask = (1 << (ctx.maxPhysAddrBits - 32)) - 1;
  // Bits 51:M of the high dword reserved; 62:52 ignored; 63 reserved unless NXE.
  const reservedHigh = (~highMask & 0xfffff) | (nxe ? 0 : PTE_HI_XD);
  const l = linear < 0 ? linear + TWO_48 : linear;
  const upper = Math.floor(l / TWO_32);
  const low32 = l - upper * TWO_32;

  let cause = readEntry(ctx, ctx.cr3, 0, (upper >>> 7) & 0x1ff, reservedHigh, highMask);
  if (cause >= 0) return fail(out, cause, access, user, nxe);
  if ((level.low & PTE_PS) !== 0) return fail(out, PF_P | PF_RSVD, access, user, nxe);
  const pml4eAddress = level.address;
  const pml4e = level.low;
  let rw = pml4e & PTE_RW;
  let us = pml4e & PTE_US;
  let xd = level.high & PTE_HI_XD;

  cause = readEntry(ctx, pml4e, level.high, ((upper << 2) | (low32 >>> 30)) & 0x1ff, reservedHigh, highMask);
  if (cause >= 0) return fail(out, cause, access, user, nxe);
  const pdpteAddress = level.address;
  const pdpte = level.low;
  const write = access === ACCESS_WRITE;
  if ((pdpte & PTE_PS) !== 0) {
    if ((pdpte & PDPTE_1GIB_RESERVED_LOW) !== 0) return fail(out, PF_P | PF_RSVD, access, user, nxe);
    const rights = rightsFlags(rw & pdpte & PTE_RW, us & pdpte & PTE_US, nxe && ((xd | level.high) & PTE_HI_XD) !== 0, ctx.cr0);
    if (isDenied(rights, access, user)) return fail(out, PF_P, access, user, nxe);
    if ((pml4e & PTE_A) === 0) ctx.tables.or32(pml4eAddress, PTE_A);
    finishAtLeaf(ctx, out, rights | TLB_LARGE, write, pdpteAddress, pdpte);
    out.physical = (level.high & highMask) * TWO_32 + ((pdpte & 0xc0000000) >>> 0) + (low32 & 0x3fffffff);
    return true;
  }
  rw &= pdpte;
  us &= pdpte;
  xd |= level.high;

  cause = readEntry(ctx, pdpte, level.high, (low32 >>> 21) & 0x1ff, reservedHigh, highMask);
  if (cause >= 0) return fail(out, cause, access, user, nxe);
  const pdeAddress = level.address;
  const pde = level.low;
  if ((pde & PTE_PS) !== 0) {
    if ((pde & PDE_2MIB_RESERVED_LOW) !== 0) return fail(out, PF_P | PF_RSVD, access, user, nxe);
    const rights = rightsFlags(rw & pde & PTE_RW, us & pde & PTE_US, nxe && ((xd | level.high) & PTE_HI_XD) !== 0, ctx.cr0);
    if (isDenied(rights, access, user)) return fail(out, PF_P, access, user, nxe);
    setAccessed(ctx, pml4eAddress, pml4e, pdpteAddress, pdpte);
    finishAtLeaf(ctx, out, rights | TLB_LARGE, write, pdeAddress, pde);
    out.physical = (level.high & highMask) * TWO_32 + ((pde & 0xffe00000) >>> 0) + (low32 & 0x1fffff);
    return true;
  }
  rw &= pde;
  us &= pde;
  xd |= level.high;

  cause = readEntry(ctx, pde, level.high, (low32 >>> 12) & 0x1ff, reservedHigh, highMask);
  if (cause >= 0) return fail(out, cause, access, user, nxe);
  const pte = level.low;
  const rights = rightsFlags(rw & pte & PTE_RW, us & pte & PTE_US, nxe && ((xd | level.high) & PTE_HI_XD) !== 0, ctx.cr0);
  if (isDenied(rights, access, user)) return fail(out, PF_P, access, user, nxe);
  setAccessed(ctx, pml4eAddress, pml4e, pdpteAddress, pdpte);
  if ((pde & PTE_A) === 0) ctx.tables.or32(pdeAddress, PTE_A);
  finishAtLeaf(ctx, out, rights, write, level.address, pte);
  out.physical = (level.high & highMask) * TWO_32 + ((pte & 0xfffff000) >>> 0) + (low32 & 0xfff);
  return true;
}

function setAccessed(ctx: WalkContext, pml4eAddress: number, pml4e: number, pdpteAddress: number, pdpte: number): void {
  if ((pml4e & PTE_A) === 0) ctx.tables.or32(pml4eAddress, PTE_A);
  if ((pdpte & PTE_A) === 0) ctx.tables.or32(pdpteAddress, PTE_A);
}
