// The shadow tables themselves: shadow pages in VMM frames named by (key, role), the reverse maps
// that keep them coherent (root slots linking each page table, writable leaves mapping each guest
// frame), the reserved VMM area in every root, and least-recently-used recycling. Typed arrays only.
import type { HostTlb } from './shadow-paging.js';
import { PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../paging/control-bits.js';
import { KIND_RAM_CODE, PAGE_SHIFT } from '../physical/page-kind.js';
import type { PhysicalMemory } from '../physical/physical-memory.js';
import { GPA_OTHER, GPA_RAM, GPA_ROM, type GuestPhysical } from './guest-physical.js';
import { SlotLists } from './slot-lists.js';

export const ENTRIES = 1024;
/** A root slot linking a shadow page table: every right is decided in the leaves. */
const LINK_BITS = PTE_P | PTE_RW | PTE_US | PTE_A;

// Role bits of a shadow page; (key, role) names it.
export const ROLE_ROOT = 1;
/** Not a guest table: the 4 KiB pieces of a 4 MiB guest page, or of the identity map. */
export const ROLE_DIRECT = 2;
export const ROLE_IDENTITY = 4;
/** The guest directory entry above allows writes / user accesses (part of the key: leaves combine rights). */
export const ROLE_RW = 8;
export const ROLE_US = 16;
/** A 4 MiB guest page whose D bit is set (its pieces may be writable). */
export const ROLE_DIRTY = 32;
/** A guest table outside RAM (MMIO, holes): its writes cannot be traced, so flushes drop it like a TLB entry. */
export const ROLE_VOLATILE = 64;
/** The root used while the guest's paging mode is unsupported: nothing is ever linked in it. */
export const ROLE_EMPTY = 128;
/**
 * A page table of a PAE guest, keyed by linear 4 MiB slot: PAE tables are not traced, so these
 * shadows are a TLB (kept until INVLPG or a flush, as the SDM lets a TLB keep entries).
 */
export const ROLE_PAE = 256;
/** A table that only holds overlay leaves, linked where the guest's tables gave the slot none yet. */
export const ROLE_OVERLAY = 512;
const ROLE_FREE = -1;
/** Stores into an unloaded root's directory after which it counts as freed (see `isStale`). */
const ROOT_FLOOD_WRITES = 64;

/** Linear-slot marks of a shadow page table: no parent yet, or parents at several 4 MiB slots. */
const NO_SLOT = -1;
const MANY_SLOTS = -2;

export class ShadowTables {
  /** Host RAM as dwords: shadow entries are read and written here. */
  readonly dwords: Int32Array;
  readonly capacity: number;
  /** Per shadow page: host frame, key (guest frame or 4 MiB index), role (ROLE_*, -1 when free). */
  readonly frame: Int32Array;
  readonly key: Int32Array;
  readonly role: Int32Array;
  /** Shadows of guest tables by guest frame number (roots and page tables); a non-empty chain means traced. */
  readonly tableHead = new Int32Array(1 << 20).fill(-1);
  /** Direct shadows (4 MiB guest pages, identity map, the empty root) by 4 MiB index. */
  readonly directHead = new Int32Array(ENTRIES).fill(-1);
  readonly chainNext: Int32Array;
  /** Root slots (root × 1024 + index) linking each page table; `slots.owner` of a root slot is the table. */
  readonly slots: SlotLists;
  /** The root the CPU runs on: never recycled. */
  activeRoot = -1;
  /** Pages a guest flush drops: tables outside RAM (ROLE_VOLATILE) and PAE tables. */
  flushedCount = 0;
  shadowsBuilt = 0;
  shadowsRecycled = 0;

  private readonly lastUse: Float64Array;
  /** Traced stores into a root since it was last loaded. */
  private readonly writesSinceUse: Uint16Array;
  private readonly linearSlot: Int32Array;
  private readonly parentHead: Int32Array;
  /** Writable shadow leaves by guest RAM frame (rmap: what to write-protect when the frame becomes a table). */
  private readonly writableHead: Int32Array;
  private readonly freePages: Int32Array;
  private freeCount: number;
  /** Frames kept from dropped shadows, reused before asking the pool. */
  private readonly spareFrames: Int32Array;
  private spareCount = 0;
  private useClock = 0;
  private vmmFirstSlot = 0;
  private vmmSlotCount = 0;
  private readonly vmmPdes = new Int32Array(ENTRIES);

  constructor(
    private readonly host: PhysicalMemory,
    private readonly guest: GuestPhysical,
    private readonly hostTlb: HostTlb,
    private readonly allocFrame: () => number,
    capacity: number,
  ) {
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
    this.writableHead = new Int32Array(guest.ramEnd >>> PAGE_SHIFT).fill(-1);
    this.slots = new SlotLists(capacity * ENTRIES);
  }

  /** Makes `root` the one the CPU runs on. */
  activate(root: number): void {
    this.lastUse[root] = ++this.useClock;
    this.writesSinceUse[root] = 0;
    this.activeRoot = root;
  }

  /** Hands every kept frame to `free` (after `dropAll`). */
  releaseFrames(free: (hpa: number) => void): void {
    for (let i = 0; i < this.spareCount; i++) free(this.spareFrames[i] >>> 0);
    this.spareCount = 0;
  }

  /** True when the slot is in the reserved VMM area. */
  isVmmSlot(slot: number): boolean {
    return slot - this.vmmFirstSlot >>> 0 < this.vmmSlotCount;
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

  /**
   * Walks every shadow entry and throws if one maps a frame outside guest RAM or ROM, maps ROM or a
   * traced page writable, links a table the pager does not own, or holds a table outside VMM frames.
   * `overlaid(page, dword)`: true for a leaf the current overlay installed (a VMM frame, supervisor-only).
   */
  checkInvariants(overlaid: (page: number, dword: number) => boolean): void {
    const dwords = this.dwords;
    for (let page = 0; page < this.capacity; page++) {
      const role = this.role[page];
      if (role === ROLE_FREE) continue;
      const hpa = this.frame[page] >>> 0;
      if (hpa < this.guest.ramEnd || hpa >= this.host.ramEnd || this.host.kind[hpa >>> PAGE_SHIFT] > KIND_RAM_CODE) {
        throw new Error(`shadow page ${page} lives at 0x${hpa.toString(16)}, outside the VMM's frames`);
      }
      const base = hpa >>> 2;
      for (let i = 0; i < ENTRIES; i++) {
        const entry = dwords[base + i];
        const slot = page * ENTRIES + i;
        if ((role & ROLE_ROOT) !== 0) {
          if (i - this.vmmFirstSlot >>> 0 < this.vmmSlotCount) {
            // The CPU sets A (and D in a 4 MiB entry) as it uses the VMM's own entries.
            if (((entry ^ this.vmmPdes[i - this.vmmFirstSlot]) & ~(PTE_A | PTE_D)) !== 0) throw new Error(`root ${page} slot ${i}: VMM area entry changed`);
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
        if (overlaid(page, base + i)) {
          if ((entry & PTE_US) !== 0 || this.slots.owner[slot] >= 0) throw new Error(`shadow ${page} entry ${i}: overlay leaf open to user code or listed`);
          continue;
        }
        if ((entry & PTE_P) === 0) {
          if (entry !== 0) throw new Error(`shadow ${page} entry ${i}: non-present entry 0x${(entry >>> 0).toString(16)}`);
          continue;
        }
        const gpa = entry & 0xfffff000;
        const kind = this.guest.classify(gpa >>> 0);
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

  /** Sets a leaf slot, keeping the writable-mapping lists in step. */
  setLeaf(slot: number, entry: number): void {
    const table = (slot / ENTRIES) | 0;
    const index = (this.frame[table] >>> 2) + (slot & (ENTRIES - 1));
    this.slots.remove(this.writableHead, slot);
    this.dwords[index] = entry;
    if ((entry & PTE_RW) !== 0) this.slots.push(this.writableHead, entry >>> PAGE_SHIFT, slot);
  }

  link(slot: number, heads: Int32Array, key: number, role: number): number {
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
  unlinkSlot(root: number, slot: number): void {
    const rootSlot = root * ENTRIES + slot;
    this.slots.remove(this.parentHead, rootSlot);
    this.dwords[(this.frame[root] >>> 2) + slot] = 0;
    if (root === this.activeRoot) this.hostTlb.flush(false);
  }

  find(heads: Int32Array, key: number, role: number): number {
    for (let page = heads[key]; page >= 0; page = this.chainNext[page]) {
      if (this.role[page] === role) return page;
    }
    return -1;
  }

  /** A new, empty shadow page for (key, role): a fresh frame, or the least recently used shadow's. */
  create(heads: Int32Array, key: number, role: number): number {
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
    if ((role & (ROLE_VOLATILE | ROLE_PAE)) !== 0) this.flushedCount++;
    const gfn = key;
    if (heads === this.tableHead && heads[gfn] < 0 && gfn < this.writableHead.length) this.writeProtect(gfn);
    this.chainNext[page] = heads[key];
    heads[key] = page;
    if ((role & ROLE_ROOT) !== 0) this.writeVmmSlotsOf(page);
    this.shadowsBuilt++;
    return page;
  }

  takePoolFrame(): number {
    const hpa = this.allocFrame();
    if (hpa < 0) return -1;
    if (!Number.isInteger(hpa) || (hpa & 0xfff) !== 0 || hpa < this.guest.ramEnd || hpa >= this.host.ramEnd) {
      throw new RangeError(`allocFrame gave 0x${hpa.toString(16)}: not a page of host RAM above guest RAM`);
    }
    return hpa;
  }

  leastRecentlyUsed(): number {
    let best = -1;
    for (let page = 0; page < this.capacity; page++) {
      if (this.role[page] === ROLE_FREE || page === this.activeRoot) continue;
      if (best < 0 || this.lastUse[page] < this.lastUse[best]) best = page;
    }
    if (best < 0) throw new RangeError('shadow page pool exhausted: the VMM must provide at least 2 frames');
    return best;
  }

  /** Frees a shadow page: unlinks it from its roots (or its tables from it), its leaves from the lists. */
  drop(page: number): void {
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
    const heads = (role & (ROLE_DIRECT | ROLE_IDENTITY | ROLE_EMPTY | ROLE_PAE)) !== 0 ? this.directHead : this.tableHead;
    const key = this.key[page];
    if (heads[key] === page) {
      heads[key] = this.chainNext[page];
    } else {
      let before = heads[key];
      while (this.chainNext[before] !== page) before = this.chainNext[before];
      this.chainNext[before] = this.chainNext[page];
    }
    if ((role & (ROLE_VOLATILE | ROLE_PAE)) !== 0) this.flushedCount--;
    this.role[page] = ROLE_FREE;
    this.freePages[this.freeCount++] = page;
    this.spareFrames[this.spareCount++] = this.frame[page];
  }

  /**
   * A guest TLB flush: drops every shadow built from guest tables outside RAM (their contents may
   * have changed unseen) and every PAE table (untraced).
   */
  dropFlushed(): void {
    for (let page = 0; page < this.capacity; page++) {
      const role = this.role[page];
      if (role === ROLE_FREE) continue;
      if ((role & ROLE_VOLATILE) !== 0 ? page !== this.activeRoot : (role & (ROLE_PAE | ROLE_ROOT)) === ROLE_PAE) this.drop(page);
    }
    if (this.activeRoot >= 0 && (this.role[this.activeRoot] & ROLE_VOLATILE) !== 0) {
      for (let slot = 0; slot < ENTRIES; slot++) if (this.slots.owner[this.activeRoot * ENTRIES + slot] >= 0) this.unlinkSlot(this.activeRoot, slot);
    }
  }

  /**
   * Drops every shadow but the active root, which loses all its links: the CPU's CR3 may still
   * point at it (a layout change the VMM does not hear about), so its frame must stay a root.
   */
  dropAllButActive(): void {
    for (let page = 0; page < this.capacity; page++) {
      if (this.role[page] !== ROLE_FREE && page !== this.activeRoot) this.drop(page);
    }
    this.hostTlb.flush(true);
  }

  dropAll(): void {
    for (let page = 0; page < this.capacity; page++) if (this.role[page] !== ROLE_FREE) this.drop(page);
    this.activeRoot = -1;
    this.hostTlb.flush(true);
  }

  /** The guest frame became a traced table: no shadow may keep mapping it writable. */
  writeProtect(gfn: number): void {
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
  invalidateLeaf(table: number, index: number): void {
    const slot = (this.role[table] & ROLE_IDENTITY) !== 0 ? this.key[table] : this.linearSlot[table];
    if (slot === MANY_SLOTS) this.hostTlb.flush(false);
    else if (slot !== NO_SLOT) this.hostTlb.invlpg(((slot << 22) | (index << 12)) >>> 0);
  }

  /**
   * A shadow that writes show is no longer a table the guest uses: a page table no root links (the
   * guest cleared its directory entry, then reused the page), or a root not loaded while its page
   * took many stores (a freed directory). Dropping it untraces the page, so the guest's further
   * stores there run unemulated (KVM calls this write flooding).
   */
  isStale(page: number): boolean {
    if ((this.role[page] & ROLE_ROOT) === 0) return this.parentHead[page] < 0;
    return page !== this.activeRoot && ++this.writesSinceUse[page] > ROOT_FLOOD_WRITES;
  }

  clearVmmSlots(): void {
    for (let page = 0; page < this.capacity; page++) {
      if ((this.role[page] & ROLE_ROOT) === 0 || this.role[page] === ROLE_FREE) continue;
      const base = this.frame[page] >>> 2;
      for (let i = 0; i < this.vmmSlotCount; i++) this.dwords[base + this.vmmFirstSlot + i] = 0;
    }
    this.vmmSlotCount = 0;
  }

  writeVmmSlots(): void {
    for (let page = 0; page < this.capacity; page++) {
      if (this.role[page] !== ROLE_FREE && (this.role[page] & ROLE_ROOT) !== 0) this.writeVmmSlotsOf(page);
    }
    this.hostTlb.flush(true);
  }

  writeVmmSlotsOf(root: number): void {
    const base = this.frame[root] >>> 2;
    for (let i = 0; i < this.vmmSlotCount; i++) {
      const slot = this.vmmFirstSlot + i;
      if (this.slots.owner[root * ENTRIES + slot] >= 0) this.unlinkSlot(root, slot);
      this.dwords[base + slot] = this.vmmPdes[i];
    }
  }

  /** The root slot's link to the direct table (key, role), made if missing. */
  linkDirect(slot: number, key: number, role: number): number {
    return this.link(slot, this.directHead, key, role);
  }

  /** The root slot's link to the shadow of the guest page table at `gfn` (role: the PDE's rights). */
  linkTable(slot: number, tableAddress: number, rights: number): number {
    const table = (tableAddress & 0xfffff000 & this.host.addressMask) >>> 0;
    const volatile = this.guest.classify(table) === GPA_RAM ? 0 : ROLE_VOLATILE;
    return this.link(slot, this.tableHead, table >>> PAGE_SHIFT, rights | volatile);
  }
}
