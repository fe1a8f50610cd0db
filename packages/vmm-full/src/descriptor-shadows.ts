// The shadow GDT and LDT the CPU uses while guest user code runs directly at ring 3: the guest's
// tables with kernel segments, gates and system descriptors made not present (their use traps and
// is emulated on the guest's own table) and every segment cut below the VMM area. Synced on the way
// to ring 3 by comparing against a copy of what was last shadowed; accessed bits the CPU set in the
// shadows are written back to the guest's descriptors on the way out, as bare hardware sets them.
// The GDT's shadow starts at the guest table's page offset: the pager overlays its frames at the
// guest's GDT pages while ring 3 runs, with the hardware GDTR on the guest's base.
import { ACCESS_READ, type PhysicalMemory, type ShadowPaging } from '@ringvisor/mmu';
import { shadowDescriptor, shadowed } from './segments.js';

const ENTRIES = 8192;

export class DescriptorShadow {
  /** Guest descriptor dwords as last shadowed (lo, hi per entry). */
  private readonly copy = new Int32Array(ENTRIES * 2);
  /** Guest linear address each entry was read from (-1: none). */
  private readonly from = new Float64Array(ENTRIES).fill(-1);
  private used = 0;
  /** Byte offset of entry 0 in the shadow's frames. */
  private at = 0;
  syncs = 0;

  constructor(
    private readonly host: PhysicalMemory,
    private readonly shadow: ShadowPaging,
    /** Host-physical address of the shadow table's frames (contiguous). */
    private readonly phys: number,
    private readonly guestRamEnd: number,
    /** Entries the VMM keeps for itself at the table's top (never overwritten). */
    private readonly reserved: number,
    /** Frames of the shadow table from `phys`. */
    private readonly pages: number,
  ) {}

  /** Byte offset of entry 0 in the shadow's frames (as last synced). */
  get offset(): number {
    return this.at;
  }

  /**
   * Makes the shadow match the guest table at `base` with byte `limit` (entries = (limit+1)/8),
   * entry 0 at byte `at` of the frames (below 4096).
   */
  sync(base: number, limit: number, at = 0): void {
    const count = Math.min((limit + 1) >>> 3, ENTRIES - this.reserved);
    const ram = this.host;
    if (at !== this.at) {
      for (let i = 0; i < this.used; i++) {
        ram.write32(this.phys + this.at + 8 * i, 0);
        ram.write32(this.phys + this.at + 8 * i + 4, 0);
      }
      this.at = at;
      this.used = 0;
    }
    const phys = this.phys + at;
    let changed = false;
    let page = -1;
    let gpa = -1;
    for (let i = 0; i < count; i++) {
      const linear = (base + i * 8) >>> 0;
      if (linear >>> 12 !== page || ((linear + 7) >>> 12) !== page) {
        page = linear >>> 12;
        gpa = this.readable(linear) && this.readable(linear + 7) ? this.shadow.translateGuest(linear, ACCESS_READ, false) : -1;
        if (gpa >= 0) gpa -= linear & 0xfff;
        if ((linear + 7) >>> 12 !== page) gpa = -1;
      }
      let lo = 0;
      let hi = 0;
      if (gpa >= 0) {
        const a = gpa + (linear & 0xfff);
        if (a + 8 <= this.guestRamEnd) {
          lo = ram.read32(a);
          hi = ram.read32(a + 4);
        }
      }
      if (lo === this.copy[2 * i] && hi === this.copy[2 * i + 1] && this.from[i] === linear && i < this.used) continue;
      this.copy[2 * i] = lo;
      this.copy[2 * i + 1] = hi;
      this.from[i] = gpa >= 0 ? linear : -1;
      shadowDescriptor(lo, hi);
      ram.write32(phys + 8 * i, shadowed.lo);
      ram.write32(phys + 8 * i + 4, shadowed.hi);
      changed = true;
    }
    for (let i = count; i < this.used; i++) {
      ram.write32(phys + 8 * i, 0);
      ram.write32(phys + 8 * i + 4, 0);
      this.copy[2 * i] = this.copy[2 * i + 1] = 0;
      this.from[i] = -1;
      changed = true;
    }
    this.used = count;
    if (changed) this.syncs++;
  }

  /** Accessed bits the CPU set in the shadow go to the guest's descriptors (through the pager). */
  writeBackAccessed(): void {
    for (let i = 0; i < this.used; i++) {
      const hi = this.host.read32(this.phys + this.at + 8 * i + 4);
      const guestHi = this.copy[2 * i + 1];
      if ((hi & 0x100) === 0 || (guestHi & 0x100) !== 0 || (guestHi & 0x1000) === 0 || this.from[i] < 0) continue;
      const gpa = this.shadow.translateGuest(this.from[i] + 4, ACCESS_READ, false);
      if (gpa < 0 || gpa + 4 > this.guestRamEnd) continue;
      this.shadow.guestWrite(gpa, 4, guestHi | 0x100);
      this.copy[2 * i + 1] = guestHi | 0x100;
    }
  }

  /**
   * Zeroes the shadow's frames and forgets the copy: another instance of this vCPU's VM, over the
   * same frames, may have written its own shadow there (a vCPU moving between physical CPUs).
   */
  reset(): void {
    this.host.ram.fill(0, this.phys, this.phys + this.pages * 4096);
    this.copy.fill(0);
    this.from.fill(-1);
    this.used = 0;
    this.at = 0;
  }

  /** Forgets the copy (after the guest's table may have moved in physical memory). */
  invalidate(): void {
    this.from.fill(-1, 0, this.used);
  }

  private readable(linear: number): boolean {
    return linear >= 0 && linear <= 0xffffffff;
  }
}
