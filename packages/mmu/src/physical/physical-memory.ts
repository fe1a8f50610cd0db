import type { AccessSize, GuestMemory, MemoryRegionSpec, MmioBus, MmioHandler } from '@ringvisor/vmm-api';
import {
  FOUR_GIB, KIND_MMIO, KIND_RAM, KIND_RAM_CODE, KIND_ROM, KIND_UNMAPPED, PAGE_COUNT, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE,
} from './page-kind.js';
import { HighRam } from './high-ram.js';
import { checkPlacement, overlaps, regionFromSpec, type Region } from './region.js';

export interface PhysicalMemoryOptions {
  /**
   * RAM and ROM regions (4 KiB aligned, not overlapping). ROM lies below 4 GiB; RAM may also lie at
   * or above it (reached through PAE translations, DMA and loaders), not across it.
   */
  readonly regions: readonly MemoryRegionSpec[];
  /** Where accesses to addresses nothing claims go (below 4 GiB). Without it they read all ones. */
  readonly fallback?: MmioBus;
  /**
   * Backing store for `ram`, at least `ramEnd` bytes: a buffer (e.g. a SharedArrayBuffer), or a view
   * whose first byte is address 0 (frames of a larger pool). RAM above 4 GiB is not in it.
   */
  readonly ramBuffer?: ArrayBufferLike | Uint8Array;
}

/** All-ones value of an access of `size` bytes (what an undriven bus reads). */
const ONES = [0, 0xff, 0xffff, 0xffffff, 0xffffffff];
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/** The A20 gate forces physical address bit 20 to zero while it is disabled. */
const A20_OFF_MASK = ~(1 << 20);

/**
 * The guest-physical address space: RAM, ROM, MMIO windows and an optional fallback bus, with
 * the A20 gate. Every entry point takes addresses from the guest and checks them: anything that is
 * not RAM at or above 4 GiB and not an integer in [0, 2^32) reads all ones and drops writes.
 *
 * CPU accesses (`read8`..`write32`) see the A20 gate; the block transfers (`readBytes`,
 * `writeBytes`, `view`) are device DMA and loader copies, which the CPU's A20M# does not affect.
 */
export class PhysicalMemory implements GuestMemory {
  /** One past the highest RAM address below 4 GiB; `ram.length === ramEnd`. */
  readonly ramEnd: number;
  /**
   * Bytes of guest-physical [0, ramEnd). Only pages whose `kind` is KIND_RAM or KIND_RAM_CODE
   * hold guest RAM; ROM, MMIO and holes below `ramEnd` leave unused bytes here.
   */
  readonly ram: Uint8Array;
  /** KIND_* of every 4 KiB page below 4 GiB, indexed by `address >>> 12`. Read-only to callers. */
  readonly kind = new Uint8Array(PAGE_COUNT);
  /** Bumped on every write that hits a page marked with `markCode`. */
  codeWriteGeneration = 0;
  /** Called with the page number after a write hit a page marked with `markCode` (which it unmarks). */
  onCodeWrite: ((page: number) => void) | null = null;

  private readonly regionOf = new Uint16Array(PAGE_COUNT);
  /** Index 0 means "no region"; removed MMIO windows leave null slots that are reused. */
  private readonly regions: (Region | null)[] = [null];
  private readonly fallback: MmioBus | null;
  private a20Mask = -1;
  private readonly layoutListeners: (() => void)[] = [];
  /** `ram` as dwords for locked updates (null on a big-endian host, where dword order would differ). */
  private readonly ramDwords: Int32Array | null;
  /** RAM at or above 4 GiB: off the CPU's fast path (whose addresses are below 4 GiB). */
  private readonly high: HighRam;

  constructor(options: PhysicalMemoryOptions) {
    this.fallback = options.fallback ?? null;
    this.kind.fill(KIND_UNMAPPED);
    let ramEnd = 0;
    const built: Region[] = [];
    const high: Region[] = [];
    for (const spec of options.regions) {
      const region = regionFromSpec(spec);
      for (const other of built) {
        if (overlaps(other, region.base, region.size)) {
          throw new RangeError(`region at 0x${region.base.toString(16)} overlaps region at 0x${other.base.toString(16)}`);
        }
      }
      for (const other of high) {
        if (overlaps(other, region.base, region.size)) {
          throw new RangeError(`region at 0x${region.base.toString(16)} overlaps region at 0x${other.base.toString(16)}`);
        }
      }
      if (region.base >= FOUR_GIB) {
        high.push(region);
        continue;
      }
      built.push(region);
      if (region.kind === KIND_RAM) ramEnd = Math.max(ramEnd, region.base + region.size);
    }
    this.ramEnd = ramEnd;
    // A view's first byte is guest-physical 0 (a frame-aligned window of a larger pool).
    const given = options.ramBuffer;
    const backing = given === undefined ? null : given instanceof Uint8Array ? given : new Uint8Array(given);
    if (backing && backing.byteLength < ramEnd) {
      throw new RangeError(`ramBuffer holds ${backing.byteLength} bytes, RAM needs ${ramEnd}`);
    }
    if (backing && backing.byteOffset % 4 !== 0) throw new RangeError(`ramBuffer view starts at byte ${backing.byteOffset}, not 4-aligned`);
    this.ram = backing ? backing.subarray(0, ramEnd) : new Uint8Array(ramEnd);
    this.ramDwords = LITTLE_ENDIAN_HOST ? new Int32Array(this.ram.buffer, this.ram.byteOffset, ramEnd / 4) : null;
    for (const region of built) this.place(region);
    this.high = new HighRam(high);
  }

  /** False while the A20 gate is disabled (address bit 20 forced to 0). */
  get a20Enabled(): boolean {
    return this.a20Mask === -1;
  }

  set a20Enabled(enabled: boolean) {
    const mask = enabled ? -1 : A20_OFF_MASK;
    if (mask === this.a20Mask) return;
    this.a20Mask = mask;
    this.layoutChanged();
  }

  /**
   * AND a linear address with this before using it as a physical one with paging off and without
   * `Paging.translate` (which applies it itself): -1 while A20 is enabled, bit 20 clear otherwise.
   */
  get addressMask(): number {
    return this.a20Mask;
  }

  /** Maps a device's MMIO window (4 KiB aligned); it may cover RAM or ROM, not another window. */
  addMmio(base: number, size: number, handler: MmioHandler): void {
    checkPlacement('MMIO window', base, size);
    for (const region of this.regions) {
      if (region && region.kind === KIND_MMIO && overlaps(region, base, size)) {
        throw new RangeError(`MMIO window at 0x${base.toString(16)} overlaps window at 0x${region.base.toString(16)}`);
      }
    }
    // Covering code counts as writing it: the bytes at those addresses are no longer what was
    // decoded, and once the window goes the page is plain RAM whose stores nobody would report.
    const first = base >>> PAGE_SHIFT;
    for (let page = first; page < first + size / PAGE_SIZE; page++) {
      if (this.kind[page] === KIND_RAM_CODE) this.codeWritten(page);
    }
    this.place({ kind: KIND_MMIO, base, size, data: null, handler });
    this.layoutChanged();
  }

  /** Unmaps the MMIO window starting at `base`, uncovering whatever lies below it. */
  removeMmio(base: number): boolean {
    const index = this.regions.findIndex((r) => r !== null && r.kind === KIND_MMIO && r.base === base);
    if (index < 0) return false;
    const window = this.regions[index] as Region;
    this.regions[index] = null;
    const first = window.base >>> PAGE_SHIFT;
    const end = first + window.size / PAGE_SIZE;
    this.kind.fill(KIND_UNMAPPED, first, end);
    this.regionOf.fill(0, first, end);
    this.regions.forEach((region, i) => {
      if (!region || !overlaps(region, window.base, window.size)) return;
      const from = Math.max(first, region.base >>> PAGE_SHIFT);
      const to = Math.min(end, (region.base + region.size) / PAGE_SIZE);
      this.kind.fill(region.kind, from, to);
      this.regionOf.fill(i, from, to);
    });
    this.layoutChanged();
    return true;
  }

  /**
   * `listener` runs after the map or the A20 gate changed (address translations cached elsewhere
   * are stale). Returns the function that unsubscribes it.
   */
  onLayoutChange(listener: () => void): () => void {
    this.layoutListeners.push(listener);
    return () => {
      const index = this.layoutListeners.indexOf(listener);
      if (index >= 0) this.layoutListeners.splice(index, 1);
    };
  }

  /**
   * Marks a RAM page as holding code the CPU cached. The next write to it (CPU store, DMA through
   * `writeBytes`, `notifyWrite`, or an MMIO window mapped over it) unmarks it, bumps
   * `codeWriteGeneration` and calls `onCodeWrite`.
   * Returns false when the page is not RAM (ROM never changes; MMIO code must not be cached).
   */
  markCode(page: number): boolean {
    if ((page >>> 0) !== page || page >= PAGE_COUNT) return false;
    const kind = this.kind[page];
    if (kind === KIND_RAM) this.kind[page] = KIND_RAM_CODE;
    return kind === KIND_RAM || kind === KIND_RAM_CODE;
  }

  /** `read8`/`read16`/`read32` by size, for callers that carry the size as a value. */
  read(address: number, size: AccessSize): number {
    return size === 1 ? this.read8(address) : size === 2 ? this.read16(address) : this.read32(address);
  }

  /** `write8`/`write16`/`write32` by size. */
  write(address: number, size: AccessSize, value: number): void {
    if (size === 1) this.write8(address, value);
    else if (size === 2) this.write16(address, value);
    else this.write32(address, value);
  }

  read8(address: number): number {
    if ((address >>> 0) !== address) return this.readHigh(address, 1);
    const a = (address & this.a20Mask) >>> 0;
    if (this.kind[a >>> PAGE_SHIFT] <= KIND_RAM_CODE) return this.ram[a];
    return this.readSlow(address, a, 1);
  }

  read16(address: number): number {
    if ((address >>> 0) !== address) return this.readHigh(address, 2);
    const a = (address & this.a20Mask) >>> 0;
    if ((a & PAGE_MASK) !== PAGE_MASK && this.kind[a >>> PAGE_SHIFT] <= KIND_RAM_CODE) {
      return this.ram[a] | (this.ram[a + 1] << 8);
    }
    return this.readSlow(address, a, 2);
  }

  read32(address: number): number {
    if ((address >>> 0) !== address) return this.readHigh(address, 4);
    const a = (address & this.a20Mask) >>> 0;
    if ((a & PAGE_MASK) <= PAGE_SIZE - 4 && this.kind[a >>> PAGE_SHIFT] <= KIND_RAM_CODE) {
      const ram = this.ram;
      return (ram[a] | (ram[a + 1] << 8) | (ram[a + 2] << 16) | (ram[a + 3] << 24)) >>> 0;
    }
    return this.readSlow(address, a, 4);
  }

  /**
   * ORs `bits` into the dword at `address` as one locked operation when it is aligned RAM (other
   * vCPU threads sharing `ram` cannot lose an update to it), as the processor sets A/D bits.
   * Elsewhere it is a read followed by a write.
   */
  or32(address: number, bits: number): void {
    if ((address >>> 0) !== address) {
      // Above 4 GiB: not shared with other threads (it is not in `ram`), so read-then-write is atomic enough.
      this.writeHigh(address, 4, this.readHigh(address, 4) | bits);
      return;
    }
    const a = (address & this.a20Mask) >>> 0;
    const kind = this.kind[a >>> PAGE_SHIFT];
    if ((a & 3) === 0 && kind <= KIND_RAM_CODE && this.ramDwords) {
      Atomics.or(this.ramDwords, a >>> 2, bits);
      if (kind === KIND_RAM_CODE) this.codeWritten(a >>> PAGE_SHIFT);
    } else {
      this.write32(address, this.read32(address) | bits);
    }
  }

  write8(address: number, value: number): void {
    if ((address >>> 0) !== address) {
      this.writeHigh(address, 1, value);
      return;
    }
    const a = (address & this.a20Mask) >>> 0;
    if (this.kind[a >>> PAGE_SHIFT] === KIND_RAM) this.ram[a] = value;
    else this.writeSlow(address, a, 1, value);
  }

  write16(address: number, value: number): void {
    if ((address >>> 0) !== address) {
      this.writeHigh(address, 2, value);
      return;
    }
    const a = (address & this.a20Mask) >>> 0;
    if ((a & PAGE_MASK) !== PAGE_MASK && this.kind[a >>> PAGE_SHIFT] === KIND_RAM) {
      this.ram[a] = value;
      this.ram[a + 1] = value >> 8;
    } else {
      this.writeSlow(address, a, 2, value);
    }
  }

  write32(address: number, value: number): void {
    if ((address >>> 0) !== address) {
      this.writeHigh(address, 4, value);
      return;
    }
    const a = (address & this.a20Mask) >>> 0;
    if ((a & PAGE_MASK) <= PAGE_SIZE - 4 && this.kind[a >>> PAGE_SHIFT] === KIND_RAM) {
      const ram = this.ram;
      ram[a] = value;
      ram[a + 1] = value >> 8;
      ram[a + 2] = value >> 16;
      ram[a + 3] = value >> 24;
    } else {
      this.writeSlow(address, a, 4, value);
    }
  }

  readBytes(address: number, into: Uint8Array): boolean {
    if (address >= FOUR_GIB) {
      if (!Number.isSafeInteger(address) || !this.high.covers(address, into.length)) return false;
      this.high.readBytes(address, into);
      return true;
    }
    if (!this.isRam(address, into.length)) return false;
    into.set(this.ram.subarray(address, address + into.length));
    return true;
  }

  writeBytes(address: number, from: Uint8Array): boolean {
    if (address >= FOUR_GIB) {
      if (!Number.isSafeInteger(address) || !this.high.covers(address, from.length)) return false;
      this.high.writeBytes(address, from);
      return true;
    }
    if (!this.isRam(address, from.length)) return false;
    this.ram.set(from, address);
    this.notifyWrite(address, from.length);
    return true;
  }

  view(address: number, length: number): Uint8Array | null {
    if (address >= FOUR_GIB) {
      if (!Number.isSafeInteger(address) || !Number.isInteger(length) || length < 0) return null;
      return this.high.covers(address, length) ? this.high.view(address, length) : null;
    }
    return this.isRam(address, length) ? this.ram.subarray(address, address + length) : null;
  }

  notifyWrite(address: number, length: number): void {
    if (!Number.isInteger(address) || !Number.isInteger(length) || address < 0 || length <= 0) return;
    const end = Math.min(address + length, this.ramEnd);
    for (let page = Math.floor(address / PAGE_SIZE); page * PAGE_SIZE < end; page++) {
      if (this.kind[page] === KIND_RAM_CODE) this.codeWritten(page);
    }
  }

  /** True when [address, address+length) is all RAM. */
  private isRam(address: number, length: number): boolean {
    if (!Number.isInteger(address) || !Number.isInteger(length) || address < 0 || length < 0) return false;
    if (address + length > this.ramEnd) return false;
    for (let page = Math.floor(address / PAGE_SIZE); page * PAGE_SIZE < address + length; page++) {
      if (this.kind[page] > KIND_RAM_CODE) return false;
    }
    return true;
  }

  /**
   * A CPU read at an `address` that is not an integer below 4 GiB: RAM above 4 GiB byte by byte (the
   * A20 gate masks bit 20 there too), all ones for anything else.
   */
  private readHigh(address: number, size: number): number {
    if (!Number.isSafeInteger(address) || address < FOUR_GIB || this.high.empty) return ONES[size];
    let value = 0;
    for (let i = 0; i < size; i++) {
      const a = this.gateHigh(address + i);
      value |= (this.high.covers(a, 1) ? this.high.read8(a) : 0xff) << (8 * i);
    }
    return value >>> 0;
  }

  /** A CPU write at an `address` that is not an integer below 4 GiB: RAM above 4 GiB, else dropped. */
  private writeHigh(address: number, size: number, value: number): void {
    if (!Number.isSafeInteger(address) || address < FOUR_GIB || this.high.empty) return;
    for (let i = 0; i < size; i++) {
      const a = this.gateHigh(address + i);
      if (this.high.covers(a, 1)) this.high.write8(a, value >>> (8 * i));
    }
  }

  /** `a` (at or above 4 GiB) with bit 20 cleared while the A20 gate is disabled. */
  private gateHigh(a: number): number {
    return this.a20Mask === -1 || Math.floor(a / 0x100000) % 2 === 0 ? a : a - 0x100000;
  }

  /**
   * Slow path of a CPU read of `size` bytes at `address`, which is `a` before the A20 gate. A page
   * crossing access is split into bytes at `address + i`, each then gated and dispatched alone: the
   * gate masks bit 20 of every byte's address, it does not take part in the carry between them (so a
   * word at 0x1fffff with A20 disabled reads 0x0fffff and 0x200000), and a byte at or above 4 GiB
   * reads as all ones.
   */
  private readSlow(address: number, a: number, size: number): number {
    if ((a & PAGE_MASK) + size > PAGE_SIZE) {
      // Crosses a page: each byte goes to whatever maps its own page (possibly another device).
      let value = 0;
      for (let i = 0; i < size; i++) value |= this.read8(address + i) << (8 * i);
      return value >>> 0;
    }
    const page = a >>> PAGE_SHIFT;
    const kind = this.kind[page];
    if (kind <= KIND_RAM_CODE) return littleEndian(this.ram, a, size);
    if (kind === KIND_UNMAPPED) return this.fallback ? (this.fallback.read(a, size as 1 | 2 | 4) & ONES[size]) >>> 0 : ONES[size];
    const region = this.regions[this.regionOf[page]] as Region;
    if (kind === KIND_ROM) return littleEndian(region.data as Uint8Array, a - region.base, size);
    return ((region.handler as MmioHandler).mmioRead(a - region.base, size as 1 | 2 | 4) & ONES[size]) >>> 0;
  }

  /** Slow path of a CPU write, split as `readSlow` splits reads (bytes at or above 4 GiB are dropped). */
  private writeSlow(address: number, a: number, size: number, value: number): void {
    if ((a & PAGE_MASK) + size > PAGE_SIZE) {
      for (let i = 0; i < size; i++) this.write8(address + i, value >>> (8 * i));
      return;
    }
    const page = a >>> PAGE_SHIFT;
    const kind = this.kind[page];
    if (kind <= KIND_RAM_CODE) {
      for (let i = 0; i < size; i++) this.ram[a + i] = value >>> (8 * i);
      if (kind === KIND_RAM_CODE) this.codeWritten(page);
    } else if (kind === KIND_MMIO) {
      const region = this.regions[this.regionOf[page]] as Region;
      (region.handler as MmioHandler).mmioWrite(a - region.base, size as 1 | 2 | 4, (value & ONES[size]) >>> 0);
    } else if (kind === KIND_UNMAPPED) {
      this.fallback?.write(a, size as 1 | 2 | 4, (value & ONES[size]) >>> 0);
    }
    // KIND_ROM: the write is dropped.
  }

  private codeWritten(page: number): void {
    this.kind[page] = KIND_RAM;
    this.codeWriteGeneration++;
    this.onCodeWrite?.(page);
  }

  private place(region: Region): void {
    let index = this.regions.indexOf(null, 1);
    if (index < 0) index = this.regions.length;
    if (index > 0xffff) throw new RangeError('too many memory regions');
    this.regions[index] = region;
    const first = region.base >>> PAGE_SHIFT;
    const end = first + region.size / PAGE_SIZE;
    this.kind.fill(region.kind, first, end);
    this.regionOf.fill(index, first, end);
  }

  private layoutChanged(): void {
    for (const listener of this.layoutListeners) listener();
  }
}

function littleEndian(bytes: Uint8Array, offset: number, size: number): number {
  let value = 0;
  for (let i = 0; i < size; i++) value |= bytes[offset + i] << (8 * i);
  return value >>> 0;
}
