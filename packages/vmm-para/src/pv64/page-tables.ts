// Direct paging for 64-bit PV as Xen validates it (arch/x86/mm.c, 4 levels): entries are 64-bit;
// an L1 entry maps a frame the domain may map, writable only if that frame can take the writable
// type; an L2/L3/L4 entry points at a frame that validates as the level below; L4 slots 256-271
// are the hypervisor's, written into every L4 when it is validated and never the guest's to
// change. Superpages and the cache-attribute bits are refused (a domain without devices).
// Because the guest kernel runs at CPL 3, every present entry gets U/S (Xen's adjust_guest_lNe):
// kernel and user are kept apart by their separate L4s, not by U/S.
import type { PhysicalMemory } from '@ringvisor/mmu';
import { PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../abi.js';
import {
  FrameTable, TYPE_L1, TYPE_L2, TYPE_L3, TYPE_L4, TYPE_SEGDESC, TYPE_WRITABLE, type FrameType, type TypeValidator,
} from '../frames.js';
import { FIRST_XEN_L4_SLOT, XEN_L4_SLOTS } from './abi.js';

/** PWT, PCD, PAT/PSE and (above L1) G: refused in guest entries (Xen's BASE_DISALLOW_MASK). */
const L1_DISALLOW_LOW = 0x98;
const UPPER_DISALLOW_LOW = 0x198;
/** Bits 62:52 of an entry (the high dword's 30:20): Xen's own, never the guest's. */
const DISALLOW_HIGH = 0x7ff00000;
const TWO_20 = 0x100000;

export interface PageTableHooks64 {
  /** The hypervisor's entries for L4 slots 256-271: [low, high] dwords. */
  readonly xenL4Slots: Int32Array;
  validateGdtPage(mfn: number): boolean;
}

/** The frame an entry points to (bits 51:12). */
export function entryFrame(lo: number, hi: number): number {
  return (lo >>> 12) + (hi & 0xfffff) * TWO_20;
}

const LOWER: Record<number, FrameType> = { [TYPE_L2]: TYPE_L1, [TYPE_L3]: TYPE_L2, [TYPE_L4]: TYPE_L3 };

export class PageTables64 implements TypeValidator {
  readonly frames: FrameTable;
  private hooks: PageTableHooks64 | null = null;

  constructor(private readonly memory: PhysicalMemory, frameCount: number) {
    this.frames = new FrameTable(frameCount, this);
  }

  connect(hooks: PageTableHooks64): void {
    this.hooks = hooks;
  }

  lo(mfn: number, slot: number): number {
    return this.memory.read32(mfn * PAGE_SIZE + slot * 8) >>> 0;
  }

  hi(mfn: number, slot: number): number {
    return this.memory.read32(mfn * PAGE_SIZE + slot * 8 + 4) | 0;
  }

  private set(mfn: number, slot: number, lo: number, hi: number): void {
    this.memory.write32(mfn * PAGE_SIZE + slot * 8, lo);
    this.memory.write32(mfn * PAGE_SIZE + slot * 8 + 4, hi);
  }

  /** Slots of a table of `type` the guest owns (an L4's hypervisor slots are not). */
  private guestSlot(type: FrameType, slot: number): boolean {
    return type !== TYPE_L4 || slot < FIRST_XEN_L4_SLOT || slot >= FIRST_XEN_L4_SLOT + XEN_L4_SLOTS;
  }

  validate(mfn: number, type: FrameType): boolean {
    if (type === TYPE_SEGDESC) return this.hooks!.validateGdtPage(mfn);
    if (type === TYPE_WRITABLE) return true;
    for (let i = 0; i < 512; i++) {
      if (!this.guestSlot(type, i)) continue;
      const lo = this.lo(mfn, i);
      const hi = this.hi(mfn, i);
      if (!this.getEntry(type, lo, hi)) {
        for (let j = 0; j < i; j++) if (this.guestSlot(type, j)) this.putEntry(type, this.lo(mfn, j), this.hi(mfn, j));
        return false;
      }
      if ((lo & PTE_P) !== 0) this.set(mfn, i, lo | PTE_US, hi);
    }
    if (type === TYPE_L4) {
      const xen = this.hooks!.xenL4Slots;
      for (let i = 0; i < XEN_L4_SLOTS; i++) this.set(mfn, FIRST_XEN_L4_SLOT + i, xen[2 * i], xen[2 * i + 1]);
    }
    return true;
  }

  release(mfn: number, type: FrameType): void {
    if (type === TYPE_WRITABLE || type === TYPE_SEGDESC) return;
    for (let i = 0; i < 512; i++) if (this.guestSlot(type, i)) this.putEntry(type, this.lo(mfn, i), this.hi(mfn, i));
  }

  /** get_page_from_lNe for an entry of a table of `type`: takes the references the entry holds. */
  getEntry(type: FrameType, lo: number, hi: number): boolean {
    if ((lo & PTE_P) === 0) return true;
    if ((hi & DISALLOW_HIGH) !== 0 || (lo & (type === TYPE_L1 ? L1_DISALLOW_LOW : UPPER_DISALLOW_LOW)) !== 0) return false;
    const mfn = entryFrame(lo, hi);
    if (type === TYPE_L1) {
      if (!this.frames.mappable(mfn)) return false;
      return (lo & PTE_RW) === 0 || this.frames.getType(mfn, TYPE_WRITABLE);
    }
    return this.frames.ownedByDomain(mfn) && this.frames.getType(mfn, LOWER[type]);
  }

  putEntry(type: FrameType, lo: number, hi: number): void {
    if ((lo & PTE_P) === 0) return;
    if (type === TYPE_L1 && (lo & PTE_RW) === 0) return;
    this.frames.putType(entryFrame(lo, hi));
  }

  /**
   * mod_lN_entry: writes slot `slot` of table `mfn` (of its current type); false when refused.
   * An L1 update keeping frame, presence and writability changes no reference (Xen's fast path).
   */
  modEntry(mfn: number, slot: number, lo: number, hi: number, preserveAd: boolean): boolean {
    const type = this.frames.type[mfn] as FrameType;
    if (!this.guestSlot(type, slot)) return false;
    const oldLo = this.lo(mfn, slot);
    const oldHi = this.hi(mfn, slot);
    if (preserveAd) lo = (lo & ~(PTE_A | PTE_D)) | (oldLo & (PTE_A | PTE_D));
    const keepMask = type === TYPE_L1 ? PTE_P | PTE_RW : PTE_P;
    if ((lo & PTE_P) !== 0 && entryFrame(lo, hi) === entryFrame(oldLo, oldHi) && ((lo ^ oldLo) & keepMask) === 0) {
      if ((hi & DISALLOW_HIGH) !== 0 || (lo & (type === TYPE_L1 ? L1_DISALLOW_LOW : UPPER_DISALLOW_LOW)) !== 0) return false;
    } else {
      if (!this.getEntry(type, lo, hi)) return false;
      this.putEntry(type, oldLo, oldHi);
    }
    this.set(mfn, slot, (lo & PTE_P) !== 0 ? lo | PTE_US : lo, hi);
    return true;
  }

  /**
   * MMU_NORMAL_PT_UPDATE of the 64-bit entry at machine address `ptr` (8-byte aligned): through the
   * table's type, or a plain store into a page that can take the writable type.
   */
  normalUpdate(ptr: number, lo: number, hi: number, preserveAd: boolean): boolean {
    const mfn = Math.floor(ptr / PAGE_SIZE);
    if (!this.frames.ownedByDomain(mfn)) return false;
    const slot = (ptr % PAGE_SIZE) >>> 3;
    switch (this.frames.type[mfn]) {
      case TYPE_L1: case TYPE_L2: case TYPE_L3: case TYPE_L4:
        return this.modEntry(mfn, slot, lo, hi, preserveAd);
      case TYPE_SEGDESC:
        return false;
      default:
        if (!this.frames.getType(mfn, TYPE_WRITABLE)) return false;
        this.set(mfn, slot, lo, hi);
        this.frames.putType(mfn);
        return true;
    }
  }
}
