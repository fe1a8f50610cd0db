// 32-bit paging (SDM vol. 3, 4.3): page directory -> page table -> 4 KiB page, or a 4 MiB page
// straight from the directory when CR4.PSE = 1 and PS = 1 (with PSE-36 high address bits).
import { ACCESS_WRITE, TLB_LARGE, type Access } from './access.js';
import { CR4_PSE, PF_P, PF_RSVD, PTE_A, PTE_P, PTE_PS, PTE_RW, PTE_US } from './control-bits.js';
import { fail, finishAtLeaf, isDenied, rightsFlags, type WalkContext, type WalkResult } from './walk.js';

const FOUR_GIB = 0x1_0000_0000;

/** Translates `linear` (unsigned 32-bit) for `access`; false with `out.errorCode` on #PF. */
export function walk32Bit(ctx: WalkContext, linear: number, access: Access, user: boolean, out: WalkResult): boolean {
  const tables = ctx.tables;
  const pdeAddress = ((ctx.cr3 & 0xfffff000) | ((linear >>> 22) << 2)) >>> 0;
  const pde = tables.read32(pdeAddress);
  if ((pde & PTE_P) === 0) return fail(out, 0, access, user, false);
  if ((pde & PTE_PS) !== 0 && (ctx.cr4 & CR4_PSE) !== 0) return walk4MiB(ctx, linear, access, user, out, pdeAddress, pde);

  const pteAddress = ((pde & 0xfffff000) | (((linear >>> 12) & 0x3ff) << 2)) >>> 0;
  const pte = tables.read32(pteAddress);
  if ((pte & PTE_P) === 0) return fail(out, 0, access, user, false);
  const rights = rightsFlags(pde & pte & PTE_RW, pde & pte & PTE_US, false, ctx.cr0);
  if (isDenied(rights, access, user)) return fail(out, PF_P, access, user, false);

  if ((pde & PTE_A) === 0) tables.or32(pdeAddress, PTE_A);
  finishAtLeaf(ctx, out, rights, access === ACCESS_WRITE, pteAddress, pte);
  out.physical = ((pte & 0xfffff000) | (linear & 0xfff)) >>> 0;
  return true;
}

/**
 * A 4 MiB page. PDE bits 20:13 carry physical bits 39:32 (PSE-36); those at or above MAXPHYADDR
 * (capped at 40) and bit 21 are reserved.
 */
function walk4MiB(
  ctx: WalkContext, linear: number, access: Access, user: boolean, out: WalkResult, pdeAddress: number, pde: number,
): boolean {
  const highBits = Math.min(ctx.maxPhysAddrBits, 40) - 32;
  const reserved = ((1 << 22) - 1) & ~((1 << (13 + highBits)) - 1);
  if ((pde & reserved) !== 0) return fail(out, PF_P | PF_RSVD, access, user, false);
  const rights = rightsFlags(pde & PTE_RW, pde & PTE_US, false, ctx.cr0);
  if (isDenied(rights, access, user)) return fail(out, PF_P, access, user, false);

  finishAtLeaf(ctx, out, rights | TLB_LARGE, access === ACCESS_WRITE, pdeAddress, pde);
  const high = (pde >>> 13) & ((1 << highBits) - 1);
  out.physical = high * FOUR_GIB + ((pde & 0xffc00000) >>> 0) + (linear & 0x3fffff);
  return true;
}
