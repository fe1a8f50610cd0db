import { TLB_GLOBAL, TLB_LARGE } from './access.js';

/** Slots of the direct-mapped cache (indexed by the linear page's low bits). */
const SLOTS = 4096;

/**
 * Translations of IA-32e linear pages outside 0-4 GiB, where the 32-bit-indexed TLB (tlb.ts) cannot
 * reach: Linux's kernel runs at the top of the canonical space, and a walk per access cost half of
 * its boot. Direct-mapped, tagged by the linear page number (a signed number, as canonical linear
 * addresses are held), with tlb.ts's flags so the same hit masks apply. Large pages are cached as
 * their 4 KiB pieces.
 */
export class HighTlb {
  private readonly tags = new Float64Array(SLOTS).fill(NaN);
  private readonly physical = new Float64Array(SLOTS);
  private readonly flags = new Int32Array(SLOTS);
  /** Slots filled since the last full flush, so flushing an unused cache costs nothing. */
  private filled = 0;
  private large = 0;

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
  }

  /** INVLPG: drops the page, and every cached piece of a large page (they may lie anywhere). */
  invalidate(page: number): void {
    const slot = page & (SLOTS - 1);
    if (this.tags[slot] === page) this.tags[slot] = NaN;
    if (this.large === 0) return;
    for (let i = 0; i < SLOTS; i++) if ((this.flags[i] & TLB_LARGE) !== 0) this.tags[i] = NaN;
    this.large = 0;
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
    if (kept === 0) this.large = 0;
  }
}
