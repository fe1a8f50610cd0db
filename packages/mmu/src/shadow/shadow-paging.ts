// Shadow page tables for software full virtualization: the CPU walks tables the VMM builds from
// the guest's, in VMM frames of host-physical memory; guest page-table pages are write-traced
// (page_track), so every shadow stays current and a CR3 load can reuse a cached one.
import { ACCESS_FETCH, ACCESS_WRITE, TLB_CLEAN, TLB_LARGE, TLB_NO_USER, TLB_NO_WRITE_USER, type Access } from '../paging/access.js';
import { CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_NXE, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../paging/control-bits.js';
import { WalkResult, type WalkContext } from '../paging/walk.js';
import { walk32Bit } from '../paging/walk-32bit.js';
import { walkPae } from '../paging/walk-pae.js';
import { PAGE_SHIFT } from '../physical/page-kind.js';
import type { PhysicalMemory } from '../physical/physical-memory.js';
import {
  SHADOW_HIDDEN, SHADOW_MMIO, SHADOW_OVERLAY, SHADOW_TRACED, SHADOW_TRUE, SHADOW_UNSUPPORTED, SHADOW_VMM_AREA, type ShadowFaultKind,
} from './fault-kind.js';
import { GPA_OTHER, GPA_RAM, GPA_ROM, GuestPhysical } from './guest-physical.js';
import { MAX_OVERLAY_PAGES, OverlayPages } from './overlay.js';
import { PeekContext } from './peek-context.js';
import {
  ROLE_DIRECT, ROLE_DIRTY, ROLE_EMPTY, ROLE_IDENTITY, ROLE_OVERLAY, ROLE_ROOT, ROLE_RW, ROLE_US, ROLE_VOLATILE, ROLE_PAE, ENTRIES, ShadowTables,
} from './shadow-tables.js';

/** The host CPU's TLB over the shadow tables (mmu's `Paging` is one): dropped entries the pager changed. */
export interface HostTlb {
  invlpg(linear: number): void;
  flush(global: boolean): void;
}

export interface ShadowPagingOptions {
  /**
   * Host-physical memory: guest RAM at hpa = gpa in [0, guestRamEnd), the VMM's frames above it,
   * ROM and MMIO at their guest-physical addresses.
   */
  readonly host: PhysicalMemory;
  /** One past the last byte of guest RAM; RAM at or above it is the VMM's and never mapped for the guest. */
  readonly guestRamEnd: number;
  /** A 4 KiB host RAM frame (hpa, at or above guestRamEnd) for a shadow table, or -1 when the pool is empty. */
  allocFrame(): number;
  /** Gives a frame back to the pool (`reset`). */
  freeFrame(hpa: number): void;
  /** The CPU's TLB, told about every shadow entry the pager weakens or removes. */
  readonly hostTlb: HostTlb;
  /** Shadow tables kept at most (default 512, at least 2); past it, or when `allocFrame` fails, the least recently used are recycled. */
  readonly maxShadowPages?: number;
}

/**
 * Shadow paging for one vCPU. The VMM forwards the guest's virtual CR0/CR3/CR4/EFER, loads `root`
 * into the real CR3 (with CR0.PG = CR0.WP = 1 and CR4 = `hostCr4`), and hands every host #PF taken
 * in guest context to `fault`. The fault path allocates nothing: all bookkeeping is typed arrays.
 */
export class ShadowPaging implements WalkContext {
  /** #PF error code for the guest after SHADOW_TRUE (from the guest's tables, CPL and CR0.WP). */
  guestErrorCode = 0;
  /** Guest-physical address of the access after SHADOW_TRACED or SHADOW_MMIO (may be ≥ 4 GiB with PSE-36). */
  faultGpa = 0;
  /** Why the current guest paging mode cannot be shadowed (SHADOW_UNSUPPORTED), or null. */
  unsupportedReason: string | null = null;

  // Counters (plain numbers, for --stats).
  hiddenFaults = 0;
  trueFaults = 0;
  tracedFaults = 0;
  mmioFaults = 0;
  /** User accesses to overlaid pages (SHADOW_OVERLAY). */
  overlayFaults = 0;
  /** `guestWrite` calls that hit a traced page-table page. */
  tracedWrites = 0;
  /** Guest CR3 loads that found their shadow root cached. */
  rootsReused = 0;
  invlpgs = 0;
  flushes = 0;
  /** Shadow tables built (roots and page tables). */
  get shadowsBuilt(): number { return this.pages.shadowsBuilt; }
  /** Shadow tables recycled to make room. */
  get shadowsRecycled(): number { return this.pages.shadowsRecycled; }

  // WalkContext of the guest's own paging (the walker reads the guest's tables with these).
  readonly tables: GuestPhysical;
  readonly maxPhysAddrBits = 36;
  private cr0Value = 0;
  private cr3Value = 0;
  private cr4Value = 0;
  private eferValue = 0;

  private readonly host: PhysicalMemory;
  private readonly hostTlb: HostTlb;
  private readonly freeFrame: (hpa: number) => void;
  private readonly unsubscribe: () => void;
  private readonly pages: ShadowTables;
  private readonly result = new WalkResult();
  private readonly peekResult = new WalkResult();
  /** The guest's paging as `peekFetch` walks it: the same tables, with accessed bits left alone. */
  private readonly peekContext: PeekContext;
  /** TLB_* flags of the last successful `peekFetch` (TLB_GLOBAL: survives a CR3 load). */
  peekFlags = 0;
  private readonly overlay = new OverlayPages();

  constructor(options: ShadowPagingOptions) {
    const { host, guestRamEnd } = options;
    const capacity = options.maxShadowPages ?? 512;
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`maxShadowPages ${capacity} must be an integer ≥ 2`);
    if (!Number.isInteger(guestRamEnd) || guestRamEnd < 0 || guestRamEnd > host.ramEnd || (guestRamEnd & 0xfff) !== 0) {
      throw new RangeError(`guestRamEnd 0x${guestRamEnd.toString(16)} must be page aligned and within host RAM`);
    }
    this.host = host;
    this.hostTlb = options.hostTlb;
    this.freeFrame = options.freeFrame;
    this.tables = new GuestPhysical(host, guestRamEnd);
    this.pages = new ShadowTables(host, this.tables, options.hostTlb, options.allocFrame, capacity);
    this.peekContext = new PeekContext(this);
    this.unsubscribe = host.onLayoutChange(() => this.pages.dropAllButActive());
    this.selectRoot();
  }

  /** Host-physical address of the shadow root to load into the real CR3. */
  get root(): number {
    return this.pages.frame[this.pages.activeRoot] >>> 0;
  }

  /** CR4 bits the real CPU needs for the shadow format (32-bit paging of 4 KiB pages: none). */
  get hostCr4(): number {
    return 0;
  }

  get cr0(): number { return this.cr0Value; }
  get cr3(): number { return this.cr3Value; }
  get cr4(): number { return this.cr4Value; }
  get efer(): number { return this.eferValue; }

  /** Stops following the host memory's layout changes. */
  detach(): void {
    this.unsubscribe();
  }

  /**
   * Loads the guest's four paging controls at once (mode switch, reset). A change of WP, PSE, PAE
   * or NXE drops every shadow (entries were built under the old rules); PG switches between the
   * identity and paged roots; PGE only flushes the host TLB.
   */
  setGuestControl(cr0: number, cr3: number, cr4: number, efer: number): void {
    const rebuild = ((this.cr0Value ^ cr0) & CR0_WP) !== 0 || ((this.cr4Value ^ cr4) & (CR4_PSE | CR4_PAE)) !== 0
      || ((this.eferValue ^ efer) & EFER_NXE) !== 0;
    const flush = rebuild || ((this.cr0Value ^ cr0) & CR0_PG) !== 0 || ((this.cr4Value ^ cr4) & CR4_PGE) !== 0
      || this.cr3Value !== cr3 >>> 0;
    this.cr0Value = cr0 >>> 0;
    this.cr3Value = cr3 >>> 0;
    this.cr4Value = cr4 >>> 0;
    this.eferValue = efer >>> 0;
    if (rebuild) this.rebuild();
    else if (flush) this.flushGuestTlb();
    this.selectRoot();
  }

  /** Guest MOV to CR0. */
  setCr0(value: number): void {
    this.setGuestControl(value, this.cr3Value, this.cr4Value, this.eferValue);
  }

  /** Guest MOV to CR3: a non-global flush and a switch to the cached shadow root for it, or a new one. */
  setCr3(value: number): void {
    this.cr3Value = value >>> 0;
    this.flushGuestTlb();
    this.selectRoot();
  }

  /** Guest MOV to CR4. */
  setCr4(value: number): void {
    this.setGuestControl(this.cr0Value, this.cr3Value, value, this.eferValue);
  }

  /** Guest WRMSR IA32_EFER. */
  setEfer(value: number): void {
    this.setGuestControl(this.cr0Value, this.cr3Value, this.cr4Value, value);
  }

  /**
   * Classifies a host #PF at `linear` for `access` with the guest in user mode (`user`: guest CPL 3;
   * guest CPL 0–2 run at host CPL 1, supervisor for paging). Fills the shadow entry when the guest's
   * tables allow the access, setting the guest's A/D bits as its CPU would.
   */
  fault(linear: number, access: Access, user: boolean): ShadowFaultKind {
    const address = linear >>> 0;
    const slot = address >>> 22;
    if (this.pages.isVmmSlot(slot)) return SHADOW_VMM_AREA;
    if (this.overlay.count > 0) {
      const page = this.overlay.indexOf(address >>> 12);
      if (page >= 0) {
        if (user) {
          this.overlayFaults++;
          return SHADOW_OVERLAY;
        }
        // A descriptor-table read after the leaf was recycled or unlinked: put it back.
        this.installOverlay(page);
        this.hiddenFaults++;
        return SHADOW_HIDDEN;
      }
    }
    const write = access === ACCESS_WRITE;
    if ((this.cr0Value & CR0_PG) === 0) {
      const gpa = (address & this.host.addressMask) >>> 0;
      const kind = this.tables.classify(gpa);
      if (kind === GPA_OTHER || (kind === GPA_ROM && write)) return this.mmio(gpa);
      const table = this.pages.linkDirect(slot, slot, ROLE_DIRECT | ROLE_IDENTITY);
      return this.fill(table, address, gpa, kind, write, true, true);
    }
    if (this.unsupportedReason !== null) return SHADOW_UNSUPPORTED;

    const tables = this.tables;
    const result = this.result;
    const pae = (this.cr4Value & CR4_PAE) !== 0;
    tables.startTrace();
    if (!(pae ? walkPae(this, address, access, user, result) : walk32Bit(this, address, access, user, result))) {
      this.trueFaults++;
      this.guestErrorCode = result.errorCode;
      return SHADOW_TRUE;
    }
    const gpa = result.physical - (this.host.a20Enabled ? 0 : result.physical & (1 << 20));
    const kind = this.tables.classify(gpa);
    if (kind === GPA_OTHER || (kind === GPA_ROM && write)) return this.mmio(gpa);

    const flags = result.flags;
    let table: number;
    if (pae) {
      table = this.pages.linkDirect(slot, slot, ROLE_DIRECT | ROLE_PAE);
    } else {
      // The walk's trace names the directory entry (and the page table) the translation came from.
      const pde = tables.tracedValue[0];
      const rights = ((pde & PTE_RW) !== 0 ? ROLE_RW : 0) | ((pde & PTE_US) !== 0 ? ROLE_US : 0);
      if ((flags & TLB_LARGE) !== 0) {
        const dirty = write || (pde & PTE_D) !== 0 ? ROLE_DIRTY : 0;
        table = this.pages.linkDirect(slot, gpa >>> 22, ROLE_DIRECT | rights | dirty);
      } else {
        table = this.pages.linkTable(slot, tables.tracedAddress[1], rights);
      }
    }
    const supervisorWriteIgnoringRw = write && !user && (flags & TLB_NO_WRITE_USER) !== 0;
    return this.fill(
      table, address, gpa, kind, write,
      (flags & TLB_NO_USER) === 0 && !supervisorWriteIgnoringRw,
      supervisorWriteIgnoringRw || ((flags & TLB_NO_WRITE_USER) === 0 && (flags & TLB_CLEAN) === 0),
    );
  }

  /**
   * Stores a guest write the VMM emulated (after SHADOW_TRACED) and drops the shadow entries made
   * from the dwords it changed. Bytes outside guest RAM and ROM go to the MMIO bus as the guest's
   * store would; bytes in the VMM's frames are dropped.
   */
  guestWrite(gpa: number, size: 1 | 2 | 4, value: number): void {
    if (!Number.isInteger(gpa) || gpa < 0 || gpa >= 0x1_0000_0000) return;
    const first = gpa;
    const last = Math.min(gpa + size - 1, 0xffffffff);
    const before0 = this.dwordAt(first);
    const before1 = this.dwordAt(last);
    this.tables.write(first, size, value);
    this.afterWrite(first, before0);
    if ((last & ~3) !== (first & ~3)) this.afterWrite(last, before1);
  }

  /** Walks the guest's tables as the guest CPU would (sets A/D): gpa, or -1 with `guestErrorCode`. */
  translateGuest(linear: number, access: Access, user: boolean): number {
    const address = linear >>> 0;
    if ((this.cr0Value & CR0_PG) === 0) return (address & this.host.addressMask) >>> 0;
    const result = this.result;
    const ok = (this.cr4Value & CR4_PAE) !== 0
      ? walkPae(this, address, access, user, result)
      : walk32Bit(this, address, access, user, result);
    if (!ok) {
      this.guestErrorCode = result.errorCode;
      return -1;
    }
    return result.physical;
  }

  /**
   * The guest's current translation of `linear` for a supervisor fetch, read without the side
   * effects of a walk (no accessed bits set: nothing is fetched): gpa, or -1 when the fetch would
   * fault. Binary translators check that translated code is still what its linear address maps.
   */
  peekFetch(linear: number): number {
    const address = linear >>> 0;
    if ((this.cr0Value & CR0_PG) === 0) {
      this.peekFlags = 0;
      return (address & this.host.addressMask) >>> 0;
    }
    const result = this.peekResult;
    const ok = (this.cr4Value & CR4_PAE) !== 0
      ? walkPae(this.peekContext, address, ACCESS_FETCH, false, result)
      : walk32Bit(this.peekContext, address, ACCESS_FETCH, false, result);
    if (!ok) return -1;
    this.peekFlags = result.flags;
    return result.physical;
  }

  /** Guest INVLPG: drops the shadow of that page (all of a 4 MiB page) in the active root. */
  invlpg(linear: number): void {
    this.invlpgs++;
    const address = linear >>> 0;
    const slot = address >>> 22;
    const rootSlot = this.pages.activeRoot * ENTRIES + slot;
    const table = this.pages.slots.owner[rootSlot];
    const role = table < 0 ? 0 : this.pages.role[table];
    if ((role & ROLE_VOLATILE) !== 0 || (this.pages.role[this.pages.activeRoot] & ROLE_VOLATILE) !== 0) this.pages.dropFlushed();
    if (table < 0 || this.pages.role[table] !== role) return;
    if ((role & ROLE_PAE) !== 0) {
      // The page may be a 4 KiB piece of a 2 MiB page: clear the whole 2 MiB half of this table.
      const first = table * ENTRIES + ((address >>> 12) & 0x200);
      const base = (this.pages.frame[table] >>> 2) + ((address >>> 12) & 0x200);
      for (let i = 0; i < 512; i++) if (this.pages.dwords[base + i] !== 0) this.pages.setLeaf(first + i, 0);
      this.hostTlb.flush(false);
    } else if ((role & ROLE_DIRECT) !== 0 && (role & ROLE_IDENTITY) === 0) {
      this.pages.unlinkSlot(this.pages.activeRoot, slot);
    } else {
      this.pages.setLeaf(table * ENTRIES + ((address >>> 12) & 0x3ff), 0);
      this.hostTlb.invlpg(address);
    }
  }

  /** A guest flush of non-global translations (CR3 load): shadows are current, only untraceable ones go. */
  flushNonGlobal(): void {
    this.flushGuestTlb();
  }

  /** A guest flush of all translations (CR4.PGE toggle). */
  flushAll(): void {
    this.flushGuestTlb();
  }

  /** Drops every shadow and gives all frames back to the pool (then rebuilds the active root lazily). */
  reset(): void {
    this.pages.dropAll();
    this.pages.releaseFrames(this.freeFrame);
    this.selectRoot();
  }

  /**
   * Reserves 4 MiB slots from `linearBase` (4 MiB aligned) for the VMM: `pdes` (host directory
   * entries) go into every shadow root there, and guest mappings never do.
   */
  reserveVmmArea(linearBase: number, pdes: ArrayLike<number>): void {
    this.pages.reserveVmmArea(linearBase, pdes);
  }

  /** Moves the reserved area to `linearBase` (the guest mapped over it); the entries stay the same. */
  relocateVmmArea(linearBase: number): void {
    this.pages.relocateVmmArea(linearBase);
  }

  /**
   * Walks every shadow entry and throws if one maps a frame outside guest RAM or ROM, maps ROM or a
   * traced page writable, links a table the pager does not own, or holds a table outside VMM frames;
   * only the current overlay's leaves (supervisor-only) may map VMM frames.
   */
  checkInvariants(): void {
    this.pages.checkInvariants((page, dword) => this.overlayLeafAt(page, dword) >= 0);
  }

  // --- overlay ----------------------------------------------------------------------------------

  /**
   * Shows VMM frames at guest linear addresses in the active root until `clearOverlay`: the page of
   * each byte of [linear, linear + length) maps the frame at the same distance from `hpa` (the frame
   * for `linear`'s page; contiguous, page aligned, above guest RAM), supervisor-only and writable,
   * so the CPU's own supervisor accesses there (descriptor-table reads at CPL 3) see them. A user
   * access to an overlaid page, or to another page whose shadow leaf is an overlaid one, is
   * SHADOW_OVERLAY: the VMM emulates it against the guest's own mapping. Replaces any overlay set;
   * false (and no overlay) when the range wraps, reaches the VMM area, spans more than
   * MAX_OVERLAY_PAGES pages, or the guest's paging mode is unsupported. The VMM clears it before
   * the guest's supervisor code runs (which must see its own memory there) or its tables change.
   */
  setOverlay(linear: number, length: number, hpa: number): boolean {
    this.clearOverlay();
    const first = linear >>> 0;
    const last = first + length - 1;
    if (!Number.isInteger(length) || length < 1 || last > 0xffffffff) return false;
    const pages = (last >>> 12) - (first >>> 12) + 1;
    if (!Number.isInteger(hpa) || (hpa & 0xfff) !== 0 || hpa < this.tables.ramEnd || hpa + pages * 4096 > this.host.ramEnd) {
      throw new RangeError(`overlay frames at 0x${hpa.toString(16)} are not page-aligned VMM frames`);
    }
    if (pages > MAX_OVERLAY_PAGES || this.unsupportedReason !== null) return false;
    for (let page = first >>> 12; page <= last >>> 12; page++) if (this.pages.isVmmSlot(page >>> 10)) return false;
    const overlay = this.overlay;
    for (let i = 0; i < pages; i++) {
      overlay.linearPage[i] = (first >>> 12) + i;
      overlay.entry[i] = (hpa + i * 4096) | PTE_P | PTE_RW | PTE_A | PTE_D;
      overlay.table[i] = -1;
    }
    overlay.count = pages;
    for (let i = 0; i < pages; i++) this.installOverlay(i);
    return true;
  }

  /** Removes the overlay: the guest's own mappings come back at the next access (refilled on demand). */
  clearOverlay(): void {
    const overlay = this.overlay;
    for (let i = 0; i < overlay.count; i++) {
      const table = overlay.table[i];
      if (table < 0 || this.overlayLeafAt(table, overlay.dword[i]) !== i) continue;
      this.pages.dwords[overlay.dword[i]] = 0;
      this.pages.invalidateLeaf(table, overlay.linearPage[i] & 0x3ff);
      this.hostTlb.invlpg(overlay.linearPage[i] << 12);
    }
    overlay.count = 0;
  }

  /** Writes overlaid page `i`'s leaf into the table the active root links at its slot (a holder if none). */
  private installOverlay(i: number): void {
    const overlay = this.overlay;
    const page = overlay.linearPage[i];
    const slot = page >>> 10;
    let table = this.pages.slots.owner[this.pages.activeRoot * ENTRIES + slot];
    if (table < 0) table = this.pages.linkDirect(slot, slot, ROLE_DIRECT | ROLE_OVERLAY);
    const index = page & 0x3ff;
    this.pages.setLeaf(table * ENTRIES + index, 0); // off the writable-mapping lists: a VMM frame is no guest frame
    const dword = (this.pages.frame[table] >>> 2) + index;
    this.pages.dwords[dword] = overlay.entry[i];
    overlay.table[i] = table;
    overlay.dword[i] = dword;
    this.pages.invalidateLeaf(table, index);
    this.hostTlb.invlpg(page << 12);
  }

  /** The overlaid page whose leaf is still in shadow page `table` at host dword `dword`, or -1. */
  private overlayLeafAt(table: number, dword: number): number {
    if (this.overlay.count === 0) return -1;
    const i = this.overlay.installedAt(table, dword);
    return i >= 0 && (this.pages.role[table] & ROLE_ROOT) === 0 && this.pages.frame[table] >>> 2 === dword - (dword & 0x3ff)
      && this.pages.dwords[dword] === this.overlay.entry[i] ? i : -1;
  }

  // --- guest TLB operations -------------------------------------------------------------------

  private flushGuestTlb(): void {
    this.flushes++;
    if (this.pages.flushedCount > 0) this.pages.dropFlushed();
    this.hostTlb.flush(false);
  }

  /** Chooses (or builds) the shadow root for the guest's current paging state. */
  private selectRoot(): void {
    const paged = (this.cr0Value & CR0_PG) !== 0;
    const pae = (this.cr4Value & CR4_PAE) !== 0;
    this.unsupportedReason = paged && pae && (this.eferValue & EFER_NXE) !== 0
      ? 'PAE paging with EFER.NXE = 1: 32-bit shadow tables cannot enforce execute-disable (hide NX in CPUID)' : null;
    let root: number;
    if (!paged || pae) {
      const role = ROLE_ROOT | (!paged ? ROLE_IDENTITY : this.unsupportedReason !== null ? ROLE_EMPTY : ROLE_PAE);
      root = this.pages.find(this.pages.directHead, 0, role);
      if (root < 0) root = this.pages.create(this.pages.directHead, 0, role);
    } else {
      const table = (this.cr3Value & 0xfffff000 & this.host.addressMask) >>> 0;
      const gfn = table >>> PAGE_SHIFT;
      const role = ROLE_ROOT | (this.tables.classify(table) === GPA_RAM ? 0 : ROLE_VOLATILE);
      root = this.pages.find(this.pages.tableHead, gfn, role);
      if (root >= 0) this.rootsReused++;
      else root = this.pages.create(this.pages.tableHead, gfn, role);
    }
    this.pages.activate(root);
  }

  // --- filling ----------------------------------------------------------------------------------

  private mmio(gpa: number): ShadowFaultKind {
    this.mmioFaults++;
    this.faultGpa = gpa;
    return SHADOW_MMIO;
  }

  /**
   * Writes the leaf for `linear` in `table`: frame `gpa`, user access if `userOk`, writable if
   * `writeOk` and the frame is RAM that is not a traced table. A write to a traced table is SHADOW_TRACED.
   */
  private fill(
    table: number, linear: number, gpa: number, kind: number, write: boolean, userOk: boolean, writeOk: boolean,
  ): ShadowFaultKind {
    const leaf = table * ENTRIES + ((linear >>> 12) & 0x3ff);
    if (this.overlay.count > 0 && this.overlayLeafAt(table, (this.pages.frame[table] >>> 2) + (leaf & 0x3ff)) >= 0) {
      // Another linear page whose shadow leaf the overlay holds (the guest maps its table twice).
      this.overlayFaults++;
      return SHADOW_OVERLAY;
    }
    const gfn = gpa >>> PAGE_SHIFT;
    const traced = this.pages.tableHead[gfn] >= 0;
    const writable = writeOk && kind === GPA_RAM && !traced;
    const entry = (gpa & 0xfffff000) | PTE_P | PTE_A | (userOk ? PTE_US : 0) | (writable ? PTE_RW | PTE_D : 0);
    this.pages.setLeaf(leaf, entry);
    if (write && traced) {
      this.tracedFaults++;
      this.faultGpa = gpa;
      return SHADOW_TRACED;
    }
    this.hiddenFaults++;
    return SHADOW_HIDDEN;
  }

  /** Drops every shadow (the rules they were built under changed) and picks the root again. */
  private rebuild(): void {
    this.pages.dropAllButActive();
    this.selectRoot();
  }

  // --- traced writes ----------------------------------------------------------------------------

  private dwordAt(gpa: number): number {
    const aligned = gpa - (gpa & 3);
    return this.tables.classify(aligned) === GPA_RAM ? this.host.read32(aligned) : 0;
  }

  /** After a store changed the dword holding `gpa` (it was `before`): drop shadow entries made from it. */
  private afterWrite(gpa: number, before: number): void {
    const aligned = gpa - (gpa & 3);
    const gfn = aligned >>> PAGE_SHIFT;
    if (this.pages.tableHead[gfn] < 0 || this.tables.classify(aligned) !== GPA_RAM) return;
    this.tracedWrites++;
    const after = this.host.read32(aligned);
    const unchanged = after === before >>> 0;
    const index = (aligned & 0xfff) >>> 2;
    const pages = this.pages;
    for (let page = pages.tableHead[gfn], next = -1; page >= 0; page = next) {
      next = pages.chainNext[page];
      if (pages.isStale(page)) {
        pages.drop(page);
      } else if (unchanged) {
        continue;
      } else if ((pages.role[page] & ROLE_ROOT) !== 0) {
        if (!pages.isVmmSlot(index) && pages.slots.owner[page * ENTRIES + index] >= 0) pages.unlinkSlot(page, index);
      } else {
        const old = pages.dwords[(pages.frame[page] >>> 2) + index];
        const entry = this.prefetched(pages.role[page], after);
        if (old === entry) continue;
        pages.setLeaf(page * ENTRIES + index, entry);
        if (old !== 0) pages.invalidateLeaf(page, index);
      }
    }
  }

  /**
   * The shadow leaf for a PTE the guest just stored in a table with `role`, or 0. Installed only when
   * the guest set A itself (no access is owed an A update); writable only when D is set too. Saves
   * the hidden fault that would follow a page fault handler's PTE store.
   */
  private prefetched(role: number, pte: number): number {
    if ((pte & (PTE_P | PTE_A)) !== (PTE_P | PTE_A)) return 0;
    const gpa = (pte & 0xfffff000 & this.host.addressMask) >>> 0;
    const kind = this.tables.classify(gpa);
    if (kind === GPA_OTHER) return 0;
    const userOk = (role & ROLE_US) !== 0 && (pte & PTE_US) !== 0;
    const writable = (role & ROLE_RW) !== 0 && (pte & (PTE_RW | PTE_D)) === (PTE_RW | PTE_D) && kind === GPA_RAM
      && this.pages.tableHead[gpa >>> PAGE_SHIFT] < 0;
    return gpa | PTE_P | PTE_A | (userOk ? PTE_US : 0) | (writable ? PTE_RW | PTE_D : 0);
  }
}
