import { TLB_GLOBAL, TLB_HUGE, TLB_LARGE } from './access.js';

/** Linear pages in a 32-bit address space: one TLB slot each. */
const LINEAR_PAGES = 1 << 20;
/**
 * Filled slots are remembered so a flush clears only them; past this many a flush clears (or
 * scans) the whole table instead.
 */
const TRACK_LIMIT = 8192;
/** Slots per 4 MiB: INVLPG scans this window for siblings of a large page. */
const LARGE_WINDOW = 1024;
/** Slots per 1 GiB, the window when a 1 GiB page (IA-32e paging below 4 GiB) is cached. */
const HUGE_WINDOW = 1 << 18;

/**
 * The TLB: one Int32Array slot per linear page, `(physicalPage ^ linearPage) << 12 | TLB_* flags`,
 * zero when empty. Large pages are cached as their 4 KiB pieces, tagged TLB_LARGE.
 */
export class Tlb {
  readonly entries = new Int32Array(LINEAR_PAGES);
  private readonly filled = new Int32Array(TRACK_LIMIT);
  private filledCount = 0;
  private untracked = false;
  private largeCount = 0;
  private hugeCount = 0;
  private readonly keptEntries = new Int32Array(TRACK_LIMIT);

  private keep(page: number, entry: number): void {
    if (this.filledCount < TRACK_LIMIT) this.filled[this.filledCount++] = page;
    else this.untracked = true;
    if ((entry & TLB_LARGE) !== 0) this.largeCount++;
    if ((entry & TLB_HUGE) !== 0) this.hugeCount++;
  }

  /** Caches a translation; `physicalPageAddress` is page-aligned and below 4 GiB. */
  fill(linearPage: number, physicalPageAddress: number, flags: number): void {
    if (this.entries[linearPage] === 0) {
      if (this.filledCount < TRACK_LIMIT) this.filled[this.filledCount++] = linearPage;
      else this.untracked = true;
    }
    this.entries[linearPage] = ((physicalPageAddress ^ (linearPage << 12)) & ~0xfff) | flags;
    if ((flags & TLB_LARGE) !== 0) this.largeCount++;
    if ((flags & TLB_HUGE) !== 0) this.hugeCount++;
  }

  /** INVLPG: drops the page's translation, global or not, and every piece of a large page around it. */
  invalidate(linearPage: number): void {
    this.entries[linearPage] = 0;
    if (this.largeCount === 0) return;
    const entries = this.entries;
    const window = this.hugeCount === 0 ? LARGE_WINDOW : HUGE_WINDOW;
    const first = linearPage & ~(window - 1);
    for (let page = first; page < first + window; page++) {
      if ((entries[page] & TLB_LARGE) !== 0) entries[page] = 0;
    }
  }

  /** Drops every translation (`global`), or all but those of global pages (a CR3 load). */
  flush(global: boolean): void {
    const entries = this.entries;
    if (global) {
      if (this.untracked) entries.fill(0);
      else for (let i = 0; i < this.filledCount; i++) entries[this.filled[i]] = 0;
      this.filledCount = 0;
      this.untracked = false;
      this.largeCount = this.hugeCount = 0;
      return;
    }
    this.largeCount = this.hugeCount = 0;
    if (this.untracked) {
      this.filledCount = 0;
      this.untracked = false;
      for (let page = 0; page < LINEAR_PAGES; page++) {
        const entry = entries[page];
        if (entry === 0) continue;
        if ((entry & TLB_GLOBAL) === 0) entries[page] = 0;
        else this.keep(page, entry);
      }
      return;
    }
    // The tracked list may name a page twice (invalidated, then refilled): each kept entry is
    // cleared while compacting so its duplicates read as empty, then restored.
    const count = this.filledCount;
    this.filledCount = 0;
    for (let i = 0; i < count; i++) {
      const page = this.filled[i];
      const entry = entries[page];
      if (entry === 0) continue;
      entries[page] = 0;
      if ((entry & TLB_GLOBAL) !== 0) {
        this.keptEntries[this.filledCount] = entry;
        this.keep(page, entry);
      }
    }
    for (let i = 0; i < this.filledCount; i++) entries[this.filled[i]] = this.keptEntries[i];
  }
}
