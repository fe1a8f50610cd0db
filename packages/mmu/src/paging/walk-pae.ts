// PAE paging (SDM vol. 3, 4.4): 64-bit entries, PDPTE -> page directory -> page table -> 4 KiB
// page, or a 2 MiB page from the directory (PS = 1). With EFER.NXE = 1 bit 63 is XD; otherwise it is
// reserved, like every address bit at or above MAXPHYADDR.
//
// The four PDPTEs are read from memory on each walk (as AMD's legacy PAE does) rather than cached
// at CR3 load (Intel), so a PDPTE with reserved bits gives #PF with RSVD here. A CPU modelling
// Intel's #GP at MOV to CR3 can check them first with `pdpteReservedBitsSet`.
import { ACCESS_WRITE, TLB_LARGE, type Access } from './access.js';
import { EFER_NXE, PF_P, PF_RSVD, PTE_A, PTE_HI_XD, PTE_P, PTE_PS, PTE_RW, PTE_US } from './control-bits.js';
import { fail, finishAtLeaf, isDenied, rightsFlags, type PageTableMemory, type WalkContext, type WalkResult } from './walk.js';

const FOUR_GIB = 0x1_0000_0000;
/** PDPTE bits 1, 2 and 5..8 are reserved (a PDPTE has no R/W, U/S, A, D, PS or G). */
const PDPTE_RESERVED_LOW = 0x1e6;
/** Bits 20:13 of a 2 MiB PDE are reserved (bit 12 is PAT). */
const PDE_2MIB_RESERVED_LOW = 0x1fe000;

/** Physical-address bits of an entry's high dword below MAXPHYADDR. */
function addressHighMask(maxPhysAddrBits: number): number {
  return (1 << (maxPhysAddrBits - 32)) - 1;
}

/** True when a present PDPTE among the four at CR3 sets a reserved bit (Intel: MOV to CR3 raises #GP(0)). */
export function pdpteReservedBitsSet(tables: PageTableMemory, cr3: number, maxPhysAddrBits: number): boolean {
  const highMask = addressHighMask(maxPhysAddrBits);
  const base = (cr3 & 0xffffffe0) >>> 0;
  for (let i = 0; i < 4; i++) {
    const low = tables.read32(base + i * 8);
    const high = tables.read32(base + i * 8 + 4);
    if ((low & PTE_P) !== 0 && ((low & PDPTE_RESERVED_LOW) !== 0 || (high & ~highMask) !== 0)) return true;
  }
  return false;
}

/** Translates `linear` (unsigned 32-bit) for `access`; false with `out.errorCode` on #PF. */
export function walkPae(ctx: WalkContext, linear: number, access: Access, user: boolean, out: WalkResult): boolean {
  const tables = ctx.tables;
  const nxe = (ctx.efer & EFER_NXE) !== 0;
  const highMask = addressHighMask(ctx.maxPhysAddrBits);
  const reservedHigh = (~highMask & 0x7fffffff) | (nxe ? 0 : PTE_HI_XD);

  const pdpteAddress = ((ctx.cr3 & 0xffffffe0) + ((linear >>> 30) << 3)) >>> 0;
  const pdpteLow = tables.read32(pdpteAddress);
  if ((pdpteLow & PTE_P) === 0) return fail(out, 0, access, user, nxe);
  const pdpteHigh = tables.read32(pdpteAddress + 4);
  if ((pdpteLow & PDPTE_RESERVED_LOW) !== 0 || (pdpteHigh & ~highMask) !== 0) {
    return fail(out, PF_P | PF_RSVD, access, user, nxe);
  }

  const pdeAddress = (pdpteHigh & highMask) * FOUR_GIB + ((pdpteLow & 0xfffff000) >>> 0) + (((linear >>> 21) & 0x1ff) << 3);
  const pdeLow = tables.read32(pdeAddress);
  if ((pdeLow & PTE_P) === 0) return fail(out, 0, access, user, nxe);
  const pdeHigh = tables.read32(pdeAddress + 4);
  if ((pdeHigh & reservedHigh) !== 0) return fail(out, PF_P | PF_RSVD, access, user, nxe);
  const write = access === ACCESS_WRITE;

  if ((pdeLow & PTE_PS) !== 0) {
    if ((pdeLow & PDE_2MIB_RESERVED_LOW) !== 0) return fail(out, PF_P | PF_RSVD, access, user, nxe);
    const rights = rightsFlags(pdeLow & PTE_RW, pdeLow & PTE_US, nxe && (pdeHigh & PTE_HI_XD) !== 0, ctx.cr0);
    if (isDenied(rights, access, user)) return fail(out, PF_P, access, user, nxe);
    finishAtLeaf(ctx, out, rights | TLB_LARGE, write, pdeAddress, pdeLow);
    out.physical = (pdeHigh & highMask) * FOUR_GIB + ((pdeLow & 0xffe00000) >>> 0) + (linear & 0x1fffff);
    return true;
  }

  const pteAddress = (pdeHigh & highMask) * FOUR_GIB + ((pdeLow & 0xfffff000) >>> 0) + (((linear >>> 12) & 0x1ff) << 3);
  const pteLow = tables.read32(pteAddress);
  if ((pteLow & PTE_P) === 0) return fail(out, 0, access, user, nxe);
  const pteHigh = tables.read32(pteAddress + 4);
  if ((pteHigh & reservedHigh) !== 0) return fail(out, PF_P | PF_RSVD, access, user, nxe);
  const executeDisabled = nxe && ((pdeHigh | pteHigh) & PTE_HI_XD) !== 0;
  const rights = rightsFlags(pdeLow & pteLow & PTE_RW, pdeLow & pteLow & PTE_US, executeDisabled, ctx.cr0);
  if (isDenied(rights, access, user)) return fail(out, PF_P, access, user, nxe);

  if ((pdeLow & PTE_A) === 0) tables.or32(pdeAddress, PTE_A);
  finishAtLeaf(ctx, out, rights, write, pteAddress, pteLow);
  out.physical = (pteHigh & highMask) * FOUR_GIB + ((pteLow & 0xfffff000) >>> 0) + (linear & 0xfff);
  return true;
}
