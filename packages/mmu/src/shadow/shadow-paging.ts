// Shadow page tables for software full virtualization: the CPU walks tables the VMM builds from
// the guest's, in VMM frames of host-physical memory; guest page-table pages are write-traced
// (page_track), so every shadow stays current and a CR3 load can reuse a cached one.
import { ACCESS_WRITE, TLB_CLEAN, TLB_LARGE, TLB_NO_USER, TLB_NO_WRITE_USER, type Access } from '../paging/access.js';
import { CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_NXE, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../paging/control-bits.js';
import { WalkResult, type WalkContext } from '../paging/walk.js';
import { walk32Bit } from '../paging/walk-32bit.js';
import { walkPae } from '../paging/walk-pae.js';
import { KIND_RAM_CODE, PAGE_SHIFT } from '../physical/page-kind.js';
import type { PhysicalMemory } from '../physical/physical-memory.js';
import {
  SHADOW_HIDDEN, SHADOW_MMIO, SHADOW_TRACED, SHADOW_TRUE, SHADOW_UNSUPPORTED, SHADOW_VMM_AREA, type ShadowFaultKind,
} from './fault-kind.js';
import { GPA_OTHER, GPA_RAM, GPA_ROM, GuestPhysical } from './guest-physical.js';
import { SlotLists } from './slot-lists.js';

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

const ENTRIES = 1024;
/** A root slot linking a shadow page table: every right is decided in the leaves. */
const LINK_BITS = PTE_P | PTE_RW | PTE_US | PTE_A;

// Role bits of a shadow page; (key, role) names it.
const ROLE_ROOT = 1;
/** Not a guest table: the 4 KiB pieces of a 4 MiB guest page, or of the identity map. */
const ROLE_DIRECT = 2;
const ROLE_IDENTITY = 4;
/** The guest directory entry above allows writes / user accesses (part of the key: leaves combine rights). */
const ROLE_RW = 8;
const ROLE_US = 16;
/** A 4 MiB guest page whose D bit is set (its pieces may be writable). */
const ROLE_DIRTY = 32;
/** A guest table outside RAM (MMIO, holes): its writes cannot be traced, so flushes drop it like a TLB entry. */
const ROLE_VOLATILE = 64;
/** The root used while the guest's paging mode is unsupported: nothing is ever linked in it. */
const ROLE_EMPTY = 128;
const ROLE_FREE = -1;
/** Stores into an unloaded root's directory after which it counts as freed (see `isStale`). */
const ROOT_FLOOD_WRITES = 64;

/** Linear-slot marks of a shadow page table: no parent yet, or parents at several 4 MiB slots. */
const NO_SLOT = -1;
const MANY_SLOTS = -2;

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
  /** `guestWrite` calls that hit a traced page-table page. */
  tracedWrites = 0;
  /** Shadow tables built (roots and page tables). */
  shadowsBuilt = 0;
  /** Guest CR3 loads that found their shadow root cached. */
  rootsReused = 0;
  /** Shadow tables recycled to make room. */
  shadowsRecycled = 0;
  invlpgs = 0;
  flushes = 0;

  // WalkContext of the guest's own paging (the walker reads the guest's tables with these).
  readonly tables: GuestPhysical;
  readonly maxPhysAddrBits = 36;
  private cr0Value = 0;
  private cr3Value = 0;
  private cr4Value = 0;
  private eferValue = 0;

  private readonly host: PhysicalMemory;
  private readonly hostTlb: HostTlb;
  private readonly allocFrame: () => number;
  private readonly freeFrame: (hpa: number) => void;
  private readonly unsubscribe: () => void;
  private readonly guestRamEnd: number;
  /** Host RAM as dwords: shadow entries are read and written here. */
  private readonly dwords: Int32Array;
  private readonly result = new WalkResult();

  // Shadow pages, indexed 0..capacity-1.
  private readonly capacity: number;
  private readonly frame: Int32Array;
  private readonly key: Int32Array;
  private readonly role: Int32Array;
  private readonly chainNext: Int32Array;
  private readonly lastUse: Float64Array;
  /** Traced stores into a root since it was last loaded. */
  private readonly writesSinceUse: Uint16Array;
  private readonly linearSlot: Int32Array;
  /** Root slots linking each page table. */
  private readonly parentHead: Int32Array;
  private readonly freePages: Int32Array;
  private freeCount: number;
  /** Frames kept from dropped shadows, reused before asking the pool. */
  private readonly spareFrames: Int32Array;
  private spareCount = 0;
  private useClock = 0;
  private volatileCount = 0;

  /** Shadows of guest tables by guest frame number (roots and page tables); a non-empty chain means traced. */
  private readonly tableHead = new Int32Array(1 << 20).fill(-1);
  /** Direct shadows (4 MiB guest pages, identity map) by 4 MiB frame index. */
  private readonly directHead = new Int32Array(ENTRIES).fill(-1);
  /** Writable shadow leaves by guest RAM frame (rmap: what to write-protect when the frame becomes a table). */
  private readonly writableHead: Int32Array;
  private readonly slots: SlotLists;

  private activeRoot = -1;
  private vmmFirstSlot = 0;
  private vmmSlotCount = 0;
  private readonly vmmPdes = new Int32Array(ENTRIES);

  constructor(options: ShadowPagingOptions) {
    const { host, guestRamEnd } = options;
    const capacity = options.maxShadowPages ?? 512;
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`maxShadowPages ${capacity} must be an integer ≥ 2`);
    if (!Number.isInteger(guestRamEnd) || guestRamEnd < 0 || guestRamEnd > host.ramEnd || (guestRamEnd & 0xfff) !== 0) {
      throw new RangeError(`guestRamEnd 0x${guestRamEnd.toString(16)} must be page aligned and within host RAM`);
    }
    this.host = host;
    this.hostTlb = options.hostTlb;
    this.allocFrame = options.allocFrame;
    this.freeFrame = options.freeFrame;
    this.guestRamEnd = guestRamEnd;
    this.tables = new GuestPhysical(host, guestRamEnd);
    this.dwords = new Int32Array(host.ram.buffer, host.ram.byteOffset, host.ram.byteLength >>> 2);
    this.capacity = capacity;
    this.frame = new Int32Array(capacity);
    this.key = new Int32Array(capacity);
    this.role = new Int32Array(capacity).fill(ROLE_FREE);
    this.chainNext = new Int32Array(capacity);
    this.lastUse = new Float64Array(capacity);
    this.writesSinceUse = new Uint16Array(capacity);
    this.linearSlot = new Int32Array(capacity);
    this.parentHead = new Int32Array(capacity).fill(-1);
    this.freePages = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.freePages[i] = capacity - 1 - i;
    this.freeCount = capacity;
    this.spareFrames = new Int32Array(capacity);
    this.writableHead = new Int32Array(guestRamEnd >>> PAGE_SHIFT).fill(-1);
    this.slots = new SlotLists(capacity * ENTRIES);
    this.unsubscribe = host.onLayoutChange(() => this.rebuild());
    this.selectRoot();
  }

  /** Host-physical address of the shadow root to load into the real CR3. */
  get root(): number {
    return this.frame[this.activeRoot] >>> 0;
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
    if (slot - this.vmmFirstSlot >>> 0 < this.vmmSlotCount) return SHADOW_VMM_AREA;
    const write = access === ACCESS_WRITE;
    if ((this.cr0Value & CR0_PG) === 0) {
      const gpa = (address & this.host.addressMask) >>> 0;
      const kind = this.tables.classify(gpa);
      if (kind === GPA_OTHER || (kind === GPA_ROM && write)) return this.mmio(gpa);
      const table = this.linkDirect(slot, slot, ROLE_DIRECT | ROLE_IDENTITY);
      return this.fill(table, address, gpa, kind, write, true, true);
    }
    if (this.unsupportedReason !== null) return SHADOW_UNSUPPORTED;

    const tables = this.tables;
    const result = this.result;
    tables.startTrace();
    if (!walk32Bit(this, address, access, user, result)) {
      this.trueFaults++;
      this.guestErrorCode = result.errorCode;
      return SHADOW_TRUE;
    }
    const gpa = result.physical - (this.host.a20Enabled ? 0 : result.physical & (1 << 20));
    const kind = this.tables.classify(gpa);
    if (kind === GPA_OTHER || (kind === GPA_ROM && write)) return this.mmio(gpa);

    const pde = tables.tracedValue[0];
    const rights = ((pde & PTE_RW) !== 0 ? ROLE_RW : 0) | ((pde & PTE_US) !== 0 ? ROLE_US : 0);
    const flags = result.flags;
    let table: number;
    if ((flags & TLB_LARGE) !== 0) {
      const dirty = write || (pde & PTE_D) !== 0 ? ROLE_DIRTY : 0;
      table = this.linkDirect(slot, gpa >>> 22, ROLE_DIRECT | rights | dirty);
    } else {
      table = this.linkTable(slot, tables.tracedAddress[1], rights);
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

  /** Guest INVLPG: drops the shadow of that page (all of a 4 MiB page) in the active root. */
  invlpg(linear: number): void {
    this.invlpgs++;
    const address = linear >>> 0;
    const slot = address >>> 22;
    if (this.volatileCount > 0) this.dropVolatile();
    const rootSlot = this.activeRoot * ENTRIES + slot;
    const table = this.slots.owner[rootSlot];
    if (table < 0) return;
    if ((this.role[table] & ROLE_DIRECT) !== 0 && (this.role[table] & ROLE_IDENTITY) === 0) {
      this.unlinkSlot(this.activeRoot, slot);
    } else {
      this.setLeaf(table * ENTRIES + ((address >>> 12) & 0x3ff), 0);
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

  /**
   * Reserves 4 MiB slots from `linearBase` (4 MiB aligned) for the VMM: `pdes` (host directory
   * entries) go into every shadow root there, and guest mappings never do.
   */
  reserveVmmArea(linearBase: number, pdes: ArrayLike<number>): void {
    const count = pdes.length;
    const first = linearBase >>> 22;
    if ((linearBase & 0x3fffff) !== 0 || count < 1 || first + count > ENTRIES) {
      throw new RangeError(`VMM area 0x${(linearBase >>> 0).toString(16)} + ${count} × 4 MiB must be 4 MiB aligned and below 4 GiB`);
    }
    this.clearVmmSlots();
    for (let i = 0; i < count; i++) this.vmmPdes[i] = pdes[i];
    this.vmmFirstSlot = first;
    this.vmmSlotCount = count;
    this.writeVmmSlots();
  }

  /** Moves the reserved area to `linearBase` (the guest mapped over it); the entries stay the same. */
  relocateVmmArea(linearBase: number): void {
    const pdes = this.vmmPdes.slice(0, this.vmmSlotCount);
    this.reserveVmmArea(linearBase, pdes);
  }

  /** Drops every shadow and gives all frames back to the pool (then rebuilds the active root lazily). */
  reset(): void {
    this.dropAll();
    for (let i = 0; i < this.spareCount; i++) this.freeFrame(this.spareFrames[i] >>> 0);
    this.spareCount = 0;
    this.selectRoot();
  }

  /**
   * Walks every shadow entry and throws if one maps a frame outside guest RAM or ROM, maps ROM or a
   * traced page writable, links a table the pager does not own, or holds a table outside VMM frames.
   */
  checkInvariants(): void {
    const dwords = this.dwords;
    for (let page = 0; page < this.capacity; page++) {
      const role = this.role[page];
      if (role === ROLE_FREE) continue;
      const hpa = this.frame[page] >>> 0;
      if (hpa < this.guestRamEnd || hpa >= this.host.ramEnd || this.host.kind[hpa >>> PAGE_SHIFT] > KIND_RAM_CODE) {
        throw new Error(`shadow page ${page} lives at 0x${hpa.toString(16)}, outside the VMM's frames`);
      }
      const base = hpa >>> 2;
      for (let i = 0; i < ENTRIES; i++) {
        const entry = dwords[base + i];
        const slot = page * ENTRIES + i;
        if ((role & ROLE_ROOT) !== 0) {
          if (i - this.vmmFirstSlot >>> 0 < this.vmmSlotCount) {
            if (entry !== this.vmmPdes[i - this.vmmFirstSlot]) throw new Error(`root ${page} slot ${i}: VMM area entry changed`);
            continue;
          }
          const child = this.slots.owner[slot];
          if ((entry & PTE_P) === 0 && child < 0) continue;
          if (child < 0 || this.role[child] === ROLE_FREE || (this.role[child] & ROLE_ROOT) !== 0
            || entry !== (this.frame[child] | LINK_BITS)) {
            throw new Error(`root ${page} slot ${i}: 0x${(entry >>> 0).toString(16)} is not a link to a shadow table`);
          }
          continue;
        }
        const writable = (entry & PTE_RW) !== 0;
        if ((entry & PTE_P) === 0) {
          if (entry !== 0) throw new Error(`shadow ${page} entry ${i}: non-present entry 0x${(entry >>> 0).toString(16)}`);
          continue;
        }
        const gpa = entry & 0xfffff000;
        const kind = this.tables.classify(gpa >>> 0);
        if (kind === GPA_OTHER || (kind === GPA_ROM && writable) || (entry & 0xf98) !== 0) {
          throw new Error(`shadow ${page} entry ${i}: 0x${(entry >>> 0).toString(16)} reaches a frame the guest must not`);
        }
        const listed = this.slots.owner[slot] === gpa >>> PAGE_SHIFT;
        if (writable && (this.tableHead[gpa >>> PAGE_SHIFT] >= 0 || !listed)) {
          throw new Error(`shadow ${page} entry ${i}: writable mapping of 0x${gpa.toString(16)} is traced or unlisted`);
        }
        if (!writable && this.slots.owner[slot] >= 0) throw new Error(`shadow ${page} entry ${i}: read-only entry listed`);
      }
    }
  }

  // --- guest TLB operations -------------------------------------------------------------------

  private flushGuestTlb(): void {
    this.flushes++;
    if (this.volatileCount > 0) this.dropVolatile();
    this.hostTlb.flush(false);
  }

  /** Chooses (or builds) the shadow root for the guest's current paging state. */
  private selectRoot(): void {
    const paged = (this.cr0Value & CR0_PG) !== 0;
    this.unsupportedReason = paged && (this.cr4Value & CR4_PAE) !== 0
      ? 'PAE guest paging is not shadowed yet (32-bit paging with PSE is)' : null;
    let root: number;
    if (!paged || this.unsupportedReason !== null) {
      const role = paged ? ROLE_ROOT | ROLE_EMPTY : ROLE_ROOT | ROLE_IDENTITY;
      root = this.find(this.directHead, 0, role);
      if (root < 0) root = this.create(this.directHead, 0, role);
    } else {
      const table = (this.cr3Value & 0xfffff000 & this.host.addressMask) >>> 0;
      const gfn = table >>> PAGE_SHIFT;
      const role = ROLE_ROOT | (this.tables.classify(table) === GPA_RAM ? 0 : ROLE_VOLATILE);
      root = this.find(this.tableHead, gfn, role);
      if (root >= 0) this.rootsReused++;
      else root = this.create(this.tableHead, gfn, role);
    }
    this.lastUse[root] = ++this.useClock;
    this.writesSinceUse[root] = 0;
    this.activeRoot = root;
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
    const gfn = gpa >>> PAGE_SHIFT;
    const traced = this.tableHead[gfn] >= 0;
    const writable = writeOk && kind === GPA_RAM && !traced;
    const entry = (gpa & 0xfffff000) | PTE_P | PTE_A | (userOk ? PTE_US : 0) | (writable ? PTE_RW | PTE_D : 0);
    this.setLeaf(table * ENTRIES + ((linear >>> 12) & 0x3ff), entry);
    if (write && traced) {
      this.tracedFaults++;
      this.faultGpa = gpa;
      return SHADOW_TRACED;
    }
    this.hiddenFaults++;
    return SHADOW_HIDDEN;
  }

  /** Sets a leaf slot, keeping the writable-mapping lists in step. */
  private setLeaf(slot: number, entry: number): void {
    const table = (slot / ENTRIES) | 0;
    const index = (this.frame[table] >>> 2) + (slot & (ENTRIES - 1));
    this.slots.remove(this.writableHead, slot);
    this.dwords[index] = entry;
    if ((entry & PTE_RW) !== 0) this.slots.push(this.writableHead, entry >>> PAGE_SHIFT, slot);
  }

  /** The root slot's link to the direct table (key, role), made if missing. */
  private linkDirect(slot: number, key: number, role: number): number {
    return this.link(slot, this.directHead, key, role);
  }

  /** The root slot's link to the shadow of the guest page table at `gfn` (role: the PDE's rights). */
  private linkTable(slot: number, tableAddress: number, rights: number): number {
    const table = (tableAddress & 0xfffff000 & this.host.addressMask) >>> 0;
    const volatile = this.tables.classify(table) === GPA_RAM ? 0 : ROLE_VOLATILE;
    return this.link(slot, this.tableHead, table >>> PAGE_SHIFT, rights | volatile);
  }

  private link(slot: number, heads: Int32Array, key: number, role: number): number {
    const root = this.activeRoot;
    const rootSlot = root * ENTRIES + slot;
    const linked = this.slots.owner[rootSlot];
    if (linked >= 0 && this.key[linked] === key && this.role[linked] === role) {
      this.lastUse[linked] = ++this.useClock;
      return linked;
    }
    let table = this.find(heads, key, role);
    if (table < 0) table = this.create(heads, key, role);
    this.lastUse[table] = ++this.useClock;
    if (this.slots.owner[rootSlot] >= 0) this.unlinkSlot(root, slot);
    this.dwords[(this.frame[root] >>> 2) + slot] = this.frame[table] | LINK_BITS;
    this.slots.push(this.parentHead, table, rootSlot);
    const seen = this.linearSlot[table];
    this.linearSlot[table] = seen === NO_SLOT || seen === slot ? slot : MANY_SLOTS;
    return table;
  }

  /** Clears a root slot's link (the host TLB forgets that 4 MiB). */
  private unlinkSlot(root: number, slot: number): void {
    const rootSlot = root * ENTRIES + slot;
    this.slots.remove(this.parentHead, rootSlot);
    this.dwords[(this.frame[root] >>> 2) + slot] = 0;
    if (root === this.activeRoot) this.hostTlb.flush(false);
  }

  // --- shadow pages -----------------------------------------------------------------------------

  private find(heads: Int32Array, key: number, role: number): number {
    for (let page = heads[key]; page >= 0; page = this.chainNext[page]) {
      if (this.role[page] === role) return page;
    }
    return -1;
  }

  /** A new, empty shadow page for (key, role): a fresh frame, or the least recently used shadow's. */
  private create(heads: Int32Array, key: number, role: number): number {
    let page: number;
    let hpa = -1;
    if (this.freeCount > 0) {
      hpa = this.spareCount > 0 ? this.spareFrames[--this.spareCount] : this.takePoolFrame();
    }
    if (hpa >= 0) {
      page = this.freePages[--this.freeCount];
    } else {
      page = this.leastRecentlyUsed();
      hpa = this.frame[page] >>> 0;
      this.drop(page);
      this.shadowsRecycled++;
      this.freeCount--; // `drop` returned the page; take it back.
      this.spareCount--; // ... and its frame.
    }
    this.dwords.fill(0, hpa >>> 2, (hpa >>> 2) + ENTRIES);
    this.frame[page] = hpa;
    this.key[page] = key;
    this.role[page] = role;
    this.linearSlot[page] = NO_SLOT;
    this.parentHead[page] = -1;
    this.writesSinceUse[page] = 0;
    if ((role & ROLE_VOLATILE) !== 0) this.volatileCount++;
    const gfn = key;
    if (heads === this.tableHead && heads[gfn] < 0 && gfn < this.writableHead.length) this.writeProtect(gfn);
    this.chainNext[page] = heads[key];
    heads[key] = page;
    if ((role & ROLE_ROOT) !== 0) this.writeVmmSlotsOf(page);
    this.shadowsBuilt++;
    return page;
  }

  private takePoolFrame(): number {
    const hpa = this.allocFrame();
    if (hpa < 0) return -1;
    if (!Number.isInteger(hpa) || (hpa & 0xfff) !== 0 || hpa < this.guestRamEnd || hpa >= this.host.ramEnd) {
      throw new RangeError(`allocFrame gave 0x${hpa.toString(16)}: not a page of host RAM above guest RAM`);
    }
    return hpa;
  }

  private leastRecentlyUsed(): number {
    let best = -1;
    for (let page = 0; page < this.capacity; page++) {
      if (this.role[page] === ROLE_FREE || page === this.activeRoot) continue;
      if (best < 0 || this.lastUse[page] < this.lastUse[best]) best = page;
    }
    if (best < 0) throw new RangeError('shadow page pool exhausted: the VMM must provide at least 2 frames');
    return best;
  }

  /** Frees a shadow page: unlinks it from its roots (or its tables from it), its leaves from the lists. */
  private drop(page: number): void {
    const role = this.role[page];
    const base = page * ENTRIES;
    if ((role & ROLE_ROOT) !== 0) {
      for (let i = 0; i < ENTRIES; i++) this.slots.remove(this.parentHead, base + i);
    } else {
      let flush = false;
      for (let slot = this.parentHead[page]; slot >= 0; slot = this.parentHead[page]) {
        const root = (slot / ENTRIES) | 0;
        flush ||= root === this.activeRoot;
        this.slots.remove(this.parentHead, slot);
        this.dwords[(this.frame[root] >>> 2) + (slot & (ENTRIES - 1))] = 0;
      }
      for (let i = 0; i < ENTRIES; i++) this.slots.remove(this.writableHead, base + i);
      if (flush) this.hostTlb.flush(false);
    }
    const heads = (role & (ROLE_DIRECT | ROLE_IDENTITY | ROLE_EMPTY)) !== 0 ? this.directHead : this.tableHead;
    const key = this.key[page];
    if (heads[key] === page) {
      heads[key] = this.chainNext[page];
    } else {
      let before = heads[key];
      while (this.chainNext[before] !== page) before = this.chainNext[before];
      this.chainNext[before] = this.chainNext[page];
    }
    if ((role & ROLE_VOLATILE) !== 0) this.volatileCount--;
    this.role[page] = ROLE_FREE;
    this.freePages[this.freeCount++] = page;
    this.spareFrames[this.spareCount++] = this.frame[page];
  }

  /** Drops every shadow built from guest tables outside RAM (their contents may have changed unseen). */
  private dropVolatile(): void {
    for (let page = 0; page < this.capacity; page++) {
      if (this.role[page] !== ROLE_FREE && (this.role[page] & ROLE_VOLATILE) !== 0 && page !== this.activeRoot) this.drop(page);
    }
    if (this.activeRoot >= 0 && (this.role[this.activeRoot] & ROLE_VOLATILE) !== 0) {
      for (let slot = 0; slot < ENTRIES; slot++) if (this.slots.owner[this.activeRoot * ENTRIES + slot] >= 0) this.unlinkSlot(this.activeRoot, slot);
    }
  }

  private dropAll(): void {
    for (let page = 0; page < this.capacity; page++) if (this.role[page] !== ROLE_FREE) this.drop(page);
    this.activeRoot = -1;
    this.hostTlb.flush(true);
  }

  /** Drops everything and rebuilds the active root (the rules the shadows were built under changed). */
  private rebuild(): void {
    this.dropAll();
    this.selectRoot();
  }

  /** The guest frame became a traced table: no shadow may keep mapping it writable. */
  private writeProtect(gfn: number): void {
    const dwords = this.dwords;
    for (let slot = this.writableHead[gfn]; slot >= 0; slot = this.writableHead[gfn]) {
      const table = (slot / ENTRIES) | 0;
      const index = slot & (ENTRIES - 1);
      this.slots.remove(this.writableHead, slot);
      dwords[(this.frame[table] >>> 2) + index] &= ~(PTE_RW | PTE_D);
      this.invalidateLeaf(table, index);
    }
  }

  /** Tells the host TLB that a leaf of `table` changed. */
  private invalidateLeaf(table: number, index: number): void {
    const slot = (this.role[table] & ROLE_IDENTITY) !== 0 ? this.key[table] : this.linearSlot[table];
    if (slot === MANY_SLOTS) this.hostTlb.flush(false);
    else if (slot !== NO_SLOT) this.hostTlb.invlpg(((slot << 22) | (index << 12)) >>> 0);
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
    if (this.tableHead[gfn] < 0 || this.tables.classify(aligned) !== GPA_RAM) return;
    this.tracedWrites++;
    const unchanged = this.host.read32(aligned) === before >>> 0;
    const index = (aligned & 0xfff) >>> 2;
    for (let page = this.tableHead[gfn], next = -1; page >= 0; page = next) {
      next = this.chainNext[page];
      if (this.isStale(page)) {
        this.drop(page);
      } else if (unchanged) {
        continue;
      } else if ((this.role[page] & ROLE_ROOT) !== 0) {
        if (index - this.vmmFirstSlot >>> 0 >= this.vmmSlotCount && this.slots.owner[page * ENTRIES + index] >= 0) {
          this.unlinkSlot(page, index);
        }
      } else if (this.dwords[(this.frame[page] >>> 2) + index] !== 0) {
        this.setLeaf(page * ENTRIES + index, 0);
        this.invalidateLeaf(page, index);
      }
    }
  }

  /**
   * A shadow that writes show is no longer a table the guest uses: a page table no root links (the
   * guest cleared its directory entry, then reused the page), or a root not loaded while its page
   * took many stores (a freed directory). Dropping it untraces the page, so the guest's further
   * stores there run unemulated (KVM calls this write flooding).
   */
  private isStale(page: number): boolean {
    if ((this.role[page] & ROLE_ROOT) === 0) return this.parentHead[page] < 0;
    return page !== this.activeRoot && ++this.writesSinceUse[page] > ROOT_FLOOD_WRITES;
  }

  // --- the VMM area -----------------------------------------------------------------------------

  private clearVmmSlots(): void {
    for (let page = 0; page < this.capacity; page++) {
      if ((this.role[page] & ROLE_ROOT) === 0 || this.role[page] === ROLE_FREE) continue;
      const base = this.frame[page] >>> 2;
      for (let i = 0; i < this.vmmSlotCount; i++) this.dwords[base + this.vmmFirstSlot + i] = 0;
    }
    this.vmmSlotCount = 0;
  }

  private writeVmmSlots(): void {
    for (let page = 0; page < this.capacity; page++) {
      if (this.role[page] !== ROLE_FREE && (this.role[page] & ROLE_ROOT) !== 0) this.writeVmmSlotsOf(page);
    }
    this.hostTlb.flush(true);
  }

  private writeVmmSlotsOf(root: number): void {
    const base = this.frame[root] >>> 2;
    for (let i = 0; i < this.vmmSlotCount; i++) {
      const slot = this.vmmFirstSlot + i;
      if (this.slots.owner[root * ENTRIES + slot] >= 0) this.unlinkSlot(root, slot);
      this.dwords[base + slot] = this.vmmPdes[i];
    }
  }
}
