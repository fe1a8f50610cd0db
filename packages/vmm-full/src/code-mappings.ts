// Where the code of each translated linear page came from. The TC keys fragments by guest linear
// address, like a TLB keys translations, but keeps them past the events that flush a TLB: INVLPG
// (one page, or the whole large page holding it), a CR3 load (non-global entries), a PGE toggle
// (all). At those events it looks again at what the page maps, and fragments whose linear page now
// maps another guest-physical page (a module loaded where another was unloaded, another address
// space's code at the same address) or nothing become stale, so the guest's new code is translated.

/** Set in a recorded mapping when the translation was global (CR4.PGE and PTE.G). */
export const MAPPING_GLOBAL = 1 << 30;
const MAPPING_PAGE = MAPPING_GLOBAL - 1;
/** Linear pages per 4 MiB region (the largest page INVLPG flushes at once). */
const REGION_SHIFT = 10;

/** Tells what a page maps now: guest-physical page number | MAPPING_GLOBAL, or -1 (a fetch would fault). */
export interface CurrentMapping {
  mapping(linear: number): number;
}

export class CodeMappings {
  /** Linear page → [fragment entry, mapping] pairs. */
  private readonly byLinear = new Map<number, number[]>();
  /** 4 MiB region → linear pages that had pairs in it (pruned when the region is checked). */
  private readonly byRegion = new Map<number, number[]>();
  /** Linear pages with a non-global mapping: what a CR3 load checks. */
  private readonly nonGlobal = new Set<number>();

  /** Fragment `entry` holds code read from `linearPage` while it mapped `mapping`. */
  record(entry: number, linearPage: number, mapping: number): void {
    let list = this.byLinear.get(linearPage);
    if (list === undefined) {
      this.byLinear.set(linearPage, list = []);
      const region = linearPage >>> REGION_SHIFT;
      let pages = this.byRegion.get(region);
      if (pages === undefined) this.byRegion.set(region, pages = []);
      if (!pages.includes(linearPage)) pages.push(linearPage);
    }
    list.push(entry, mapping);
    if ((mapping & MAPPING_GLOBAL) === 0) this.nonGlobal.add(linearPage);
  }

  clear(): void {
    this.byLinear.clear();
    this.byRegion.clear();
    this.nonGlobal.clear();
  }

  /** Guest INVLPG of `linear`: checks every translated page of its 4 MiB region. */
  invlpg(linear: number, current: CurrentMapping, live: (entry: number) => boolean, stale: (entry: number) => void): void {
    const region = (linear >>> 12) >>> REGION_SHIFT;
    const pages = this.byRegion.get(region);
    if (pages === undefined) return;
    let kept = 0;
    for (const page of pages) {
      this.check(page, current, live, stale);
      if (this.byLinear.has(page)) pages[kept++] = page;
    }
    pages.length = kept;
    if (kept === 0) this.byRegion.delete(region);
  }

  /** A flush of non-global translations (CR3 load), or of all of them (`globalsToo`: PGE toggled). */
  flush(globalsToo: boolean, current: CurrentMapping, live: (entry: number) => boolean, stale: (entry: number) => void): void {
    const pages = globalsToo ? [...this.byLinear.keys()] : this.nonGlobal;
    for (const page of pages) this.check(page, current, live, stale);
  }

  /** Keeps the pairs of `linearPage` whose page it still maps (taking its global bit as it is now). */
  private check(linearPage: number, current: CurrentMapping, live: (entry: number) => boolean, stale: (entry: number) => void): void {
    const list = this.byLinear.get(linearPage);
    if (list === undefined) return;
    const now = current.mapping((linearPage << 12) | 0);
    let kept = 0;
    for (let i = 0; i < list.length; i += 2) {
      const entry = list[i];
      if (!live(entry)) continue;
      if (now < 0 || (now & MAPPING_PAGE) !== (list[i + 1] & MAPPING_PAGE)) {
        stale(entry);
        continue;
      }
      list[kept++] = entry;
      list[kept++] = now;
    }
    list.length = kept;
    if (kept === 0) this.byLinear.delete(linearPage);
    if (kept === 0 || (now & MAPPING_GLOBAL) !== 0) this.nonGlobal.delete(linearPage);
    else this.nonGlobal.add(linearPage);
  }
}
