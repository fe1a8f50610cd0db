// Guest-physical memory as the guest may see it inside host-physical memory: guest RAM, ROM and the
// MMIO bus, but never the VMM's frames above guest RAM (they read as an undriven bus: all ones).
import type { PhysicalMemory } from '../physical/physical-memory.js';
import { FOUR_GIB, KIND_RAM_CODE, KIND_ROM, PAGE_SHIFT } from '../physical/page-kind.js';
import type { PageTableMemory } from '../paging/walk.js';

/** Guest RAM: mapped writable in shadows. */
export const GPA_RAM = 0;
/** ROM: mapped read-only; writes are dropped (emulated). */
export const GPA_ROM = 1;
/** MMIO, holes, the VMM's frames, beyond 4 GiB: never mapped, always emulated. */
export const GPA_OTHER = 2;

/** Entries a walk reads at most (a PAE walk reads 3 entries of 2 dwords). */
const TRACE_LENGTH = 8;

/**
 * The `PageTableMemory` the guest-table walker reads through. It also traces the entries each walk
 * read (address and value), so the shadow pager learns which guest table held the leaf without a
 * second walker.
 */
export class GuestPhysical implements PageTableMemory {
  /** Addresses read since `startTrace`, in order (PDE, then PTE for a 32-bit walk). */
  readonly tracedAddress = new Float64Array(TRACE_LENGTH);
  /** The values read there. */
  readonly tracedValue = new Int32Array(TRACE_LENGTH);
  traced = 0;

  constructor(private readonly host: PhysicalMemory, readonly ramEnd: number) {}

  /** GPA_RAM, GPA_ROM or GPA_OTHER for the page holding `gpa` (any number; A20 applied). */
  classify(gpa: number): number {
    if (!(gpa >= 0 && gpa < FOUR_GIB)) return GPA_OTHER;
    const a = (gpa & this.host.addressMask) >>> 0;
    const kind = this.host.kind[a >>> PAGE_SHIFT];
    if (kind <= KIND_RAM_CODE) return a < this.ramEnd ? GPA_RAM : GPA_OTHER;
    return kind === KIND_ROM ? GPA_ROM : GPA_OTHER;
  }

  startTrace(): void {
    this.traced = 0;
  }

  read32(address: number): number {
    const value = this.isVmmFrame(address) ? 0xffffffff : this.host.read32(address);
    if (this.traced < TRACE_LENGTH) {
      this.tracedAddress[this.traced] = address;
      this.tracedValue[this.traced++] = value;
    }
    return value;
  }

  write32(address: number, value: number): void {
    if (!this.isVmmFrame(address)) this.host.write32(address, value);
  }

  or32(address: number, bits: number): void {
    if (!this.isVmmFrame(address)) this.host.or32(address, bits);
  }

  /** A store of the guest (an emulated write): bytes in the VMM's frames are dropped. */
  write(address: number, size: 1 | 2 | 4, value: number): void {
    const last = address + size - 1;
    if (!this.isVmmFrame(address) && !this.isVmmFrame(last)) {
      this.host.write(address, size, value);
      return;
    }
    for (let i = 0; i < size; i++) {
      if (!this.isVmmFrame(address + i)) this.host.write8(address + i, value >>> (8 * i));
    }
  }

  /**
   * Host RAM at or above guest RAM's end: the VMM's, which an undriven guest bus stands for. Walkers
   * read aligned dwords, so checking the first byte's page covers the access.
   */
  private isVmmFrame(address: number): boolean {
    if (!(address >= 0 && address < FOUR_GIB)) return false;
    const a = (address & this.host.addressMask) >>> 0;
    return a >= this.ramEnd && this.host.kind[a >>> PAGE_SHIFT] <= KIND_RAM_CODE;
  }
}
