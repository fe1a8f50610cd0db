// VMM frames shown at guest linear pages for a while (`ShadowPaging.setOverlay`): the pages the
// CPU's implicit descriptor-table reads go to, such as a shadow GDT at the guest's own GDT address.
// Typed arrays only; the pager installs and removes the leaves.

/** Pages an overlay covers at most: a 64 KiB table at any page offset spans 17. */
export const MAX_OVERLAY_PAGES = 17;

export class OverlayPages {
  /** Overlaid pages; 0 when no overlay is set. */
  count = 0;
  /** Per page: linear page number, the leaf to install (VMM frame, supervisor-only). */
  readonly linearPage = new Int32Array(MAX_OVERLAY_PAGES);
  readonly entry = new Int32Array(MAX_OVERLAY_PAGES);
  /** Per page: the shadow page holding its installed leaf (-1: not installed) and the leaf's dword in host RAM. */
  readonly table = new Int32Array(MAX_OVERLAY_PAGES).fill(-1);
  readonly dword = new Int32Array(MAX_OVERLAY_PAGES);

  /** The overlaid page at linear page `page`, or -1. */
  indexOf(page: number): number {
    for (let i = 0; i < this.count; i++) if (this.linearPage[i] === page) return i;
    return -1;
  }

  /** The overlaid page whose leaf is installed at host dword `dword` of shadow page `table`, or -1. */
  installedAt(table: number, dword: number): number {
    for (let i = 0; i < this.count; i++) if (this.table[i] === table && this.dword[i] === dword) return i;
    return -1;
  }
}
