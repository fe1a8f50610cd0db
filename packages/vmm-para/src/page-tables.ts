// Direct paging as Xen validates it (arch/x86/mm.c, non-PAE): the guest's page tables are the ones
// the CPU walks, so every entry that enters a typed table is checked first. An L1 entry maps only a
// frame the domain may map, writable only if that frame can take the writable type (never a page
// table or GDT page); an L2 entry points only at a frame that validates as an L1; the hypervisor's
// L2 slots are the hypervisor's, written into every directory when it is validated.
import type { PhysicalMemory } from '@ringvisor/mmu';
import {
  FIRST_XEN_L2_SLOT, PAGE_SIZE, PTE_A, PTE_D, PTE_DISALLOW, PTE_P, PTE_RW,
} from './abi.js';
import { FrameTable, TYPE_L1, TYPE_L2, TYPE_SEGDESC, TYPE_WRITABLE, type FrameType, type TypeValidator } from './frames.js';

export interface PageTableHooks {
  /** The hypervisor's entries for L2 slots FIRST_XEN_L2_SLOT..1023. */
  readonly xenL2Slots: Uint32Array;
  /** Checks a GDT page (all 512 descriptors) when it takes the GDT type. */
  validateGdtPage(mfn: number): boolean;
}

export class PageTables implements TypeValidator {
  readonly frames: FrameTable;
  private hooks: PageTableHooks | null = null;

  constructor(private readonly memory: PhysicalMemory, frameCount: number) {
    this.frames = new FrameTable(frameCount, this);
  }

  connect(hooks: PageTableHooks): void {
    this.hooks = hooks;
  }

  private entry(mfn: number, slot: number): number {
    return this.memory.read32(mfn * PAGE_SIZE + slot * 4) >>> 0;
  }

  private setEntry(mfn: number, slot: number, value: number): void {
    this.memory.write32(mfn * PAGE_SIZE + slot * 4, value);
  }

  validate(mfn: number, type: FrameType): boolean {
    if (type === TYPE_L1) return this.validateL1(mfn);
    if (type === TYPE_L2) return this.validateL2(mfn);
    if (type === TYPE_SEGDESC) return this.hooks!.validateGdtPage(mfn);
    return true;
  }

  release(mfn: number, type: FrameType): void {
    if (type === TYPE_L1) for (let i = 0; i < 1024; i++) this.putL1e(this.entry(mfn, i));
    else if (type === TYPE_L2) for (let i = 0; i < FIRST_XEN_L2_SLOT; i++) this.putL2e(this.entry(mfn, i));
  }

  private validateL1(mfn: number): boolean {
    for (let i = 0; i < 1024; i++) {
      if (!this.getL1e(this.entry(mfn, i))) {
        for (let j = 0; j < i; j++) this.putL1e(this.entry(mfn, j));
        return false;
      }
    }
    return true;
  }

  private validateL2(mfn: number): boolean {
    for (let i = 0; i < FIRST_XEN_L2_SLOT; i++) {
      if (!this.getL2e(this.entry(mfn, i))) {
        for (let j = 0; j < i; j++) this.putL2e(this.entry(mfn, j));
        return false;
      }
    }
    const xen = this.hooks!.xenL2Slots;
    for (let i = 0; i < xen.length; i++) this.setEntry(mfn, FIRST_XEN_L2_SLOT + i, xen[i]);
    return true;
  }

  /** get_page_from_l1e: a present entry maps a frame the domain may map, writable only as a plain page. */
  getL1e(pte: number): boolean {
    if ((pte & PTE_P) === 0) return true;
    if ((pte & PTE_DISALLOW) !== 0) return false;
    const mfn = pte >>> 12;
    if (!this.frames.mappable(mfn)) return false;
    return (pte & PTE_RW) === 0 || this.frames.getType(mfn, TYPE_WRITABLE);
  }

  putL1e(pte: number): void {
    if ((pte & (PTE_P | PTE_RW)) === (PTE_P | PTE_RW)) this.frames.putType(pte >>> 12);
  }

  /** get_page_from_l2e: a present entry points at one of the domain's frames that validates as an L1. */
  getL2e(pde: number): boolean {
    if ((pde & PTE_P) === 0) return true;
    if ((pde & PTE_DISALLOW) !== 0) return false;
    return this.frames.getType(pde >>> 12, TYPE_L1);
  }

  putL2e(pde: number): void {
    if ((pde & PTE_P) !== 0) this.frames.putType(pde >>> 12);
  }

  /** mod_l1_entry: writes slot `slot` of L1 `mfn`; false when the new entry is refused. */
  modL1(mfn: number, slot: number, value: number, preserveAd = false): boolean {
    const old = this.entry(mfn, slot);
    if (preserveAd) value = (value & ~(PTE_A | PTE_D)) | (old & (PTE_A | PTE_D));
    // Same frame, presence and writability: no reference changes (Xen's fast path).
    if ((value & PTE_P) !== 0 && ((old ^ value) & (0xfffff000 | PTE_P | PTE_RW)) === 0) {
      if ((value & PTE_DISALLOW) !== 0) return false;
      this.setEntry(mfn, slot, value);
      return true;
    }
    if (!this.getL1e(value)) return false;
    this.setEntry(mfn, slot, value);
    this.putL1e(old);
    return true;
  }

  /** mod_l2_entry: refuses the hypervisor's slots. */
  modL2(mfn: number, slot: number, value: number): boolean {
    if (slot >= FIRST_XEN_L2_SLOT) return false;
    const old = this.entry(mfn, slot);
    if ((value & PTE_P) !== 0 && ((old ^ value) & (0xfffff000 | PTE_P)) === 0) {
      if ((value & PTE_DISALLOW) !== 0) return false;
      this.setEntry(mfn, slot, value);
      return true;
    }
    if (!this.getL2e(value)) return false;
    this.setEntry(mfn, slot, value);
    this.putL2e(old);
    return true;
  }

  /**
   * MMU_NORMAL_PT_UPDATE of the 32-bit word at machine address `ptr` (low bits already stripped):
   * through the table's type, or a plain store into a page that can take the writable type.
   */
  normalUpdate(ptr: number, value: number, preserveAd: boolean): boolean {
    const mfn = Math.floor(ptr / PAGE_SIZE);
    if (!this.frames.ownedByDomain(mfn)) return false;
    const slot = (ptr & 0xfff) >>> 2;
    switch (this.frames.type[mfn]) {
      case TYPE_L1:
        return this.modL1(mfn, slot, value, preserveAd);
      case TYPE_L2:
        return this.modL2(mfn, slot, value);
      default:
        if (!this.frames.getType(mfn, TYPE_WRITABLE)) return false;
        this.setEntry(mfn, slot, value);
        this.frames.putType(mfn);
        return true;
    }
  }
}
