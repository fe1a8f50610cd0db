import { TLB_GLOBAL, TLB_HUGE, TLB_LARGE } from './access.js';

/** Slots of the direct-mapped cache (indexed by the linear page's low bits). */
const SLOTS = 4096;
/** Pages in 2 MiB: a 2 MiB page's pieces can only sit in the 512 slots of its own pages. */
const LARGE_PAGES = 512;

/**
 * Translations of IA-32e linear pages outside 0-4 GiB, where the 32-bit-indexed TLB (tlb.ts) cannot
 * reach: Linux's kernel runs at the top of the canonical space, and a walk per access cost half of
 * its boot. Direct-mapped, tagged by the linear page number (a signed number, as canonical linear
 * addresses are held), with tlb.ts's flags so the same hit masks apply. Large pages are cached as
 * their 4 KiB pieces.
 */
export class HighTlb {
  /** Per slot (`page & (length - 1)`): the linear page number, NaN when empty. Read them, never write them. */
  readonly tags = new Float64Array(SLOTS).fill(NaN);
  /** The physical page address. */
  readonly physical = new Float64Array(SLOTS);
  /** tlb.ts's flags: a hit when `(flags & TLB_HIT_MASK[...]) === TLB_VALID`. */
  readonly flags = new Int32Array(SLOTS);
  /** Slots filled since the last full flush, so flushing an unused cache costs nothing. */
  private filled = 0;
  /** Large-page pieces filled since the last flush (possibly dropped since), and 1 GiB ones. */
  private large = 0;
  private huge = 0;

  /** The physical page address of `page` when its entry allows the access (`hitMask`, tlb.ts), else -1. */
  lookup(page: number, hitMask: number, valid: number): number {
    const slot = page & (SLOTS - 1);
    if (this.tags[slot] !== page || (this.flags[slot] & hitMask) !== valid) return -1;
    return this.physical[slot];
  }

  fill(page: number, physicalPage: number, flags: number): void {
    const slot = page & (SLOTS - 1);
    this.tags[slot] = page;
    this.physical[slot] = physicalPage;
    this.flags[slot] = flags;
    this.filled++;
    if ((flags & TLB_LARGE) !== 0) this.large++;
    if ((flags & TLB_HUGE) !== 0) this.huge++;
  }

  /**
   * INVLPG: drops the page and every cached piece of a large page that may hold it: those of its
   * 2 MiB (one run of 512 slots), or with a 1 GiB page cached, every large piece.
   */
  invalidate(page: number): void {
    const slot = page & (SLOTS - 1);
    if (this.tags[slot] === page) this.tags[slot] = NaN;
    if (this.large === 0) return;
    if (this.huge !== 0) {
      for (let i = 0; i < SLOTS; i++) if ((this.flags[i] & TLB_LARGE) !== 0) this.tags[i] = NaN;
      this.large = this.huge = 0;
      return;
    }
    const first = Math.floor(page / LARGE_PAGES) * LARGE_PAGES;
    const base = first & (SLOTS - 1);
    for (let i = base; i < base + LARGE_PAGES; i++) {
      if ((this.flags[i] & TLB_LARGE) !== 0 && this.tags[i] >= first && this.tags[i] < first + LARGE_PAGES) this.tags[i] = NaN;
    }
  }

  /** Drops every translation (`global`), or all but those of global pages (a CR3 load). */
  flush(global: boolean): void {
    if (this.filled === 0) return;
    let kept = 0;
    for (let i = 0; i < SLOTS; i++) {
      if (!global && (this.flags[i] & TLB_GLOBAL) !== 0 && this.tags[i] === this.tags[i]) kept++;
      else this.tags[i] = NaN;
    }
    this.filled = kept;
    if (kept === 0) this.large = this.huge = 0;
  }
}
