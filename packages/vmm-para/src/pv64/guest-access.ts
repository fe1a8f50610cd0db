// The hypervisor's copy_from_user/copy_to_user for a 64-bit PV guest: pointers are canonical
// linear addresses in the guest's current address space (its kernel L4 while it is in kernel
// mode). As in Xen, a pointer into the hypervisor's hole (L4 slots 256-271) is refused before any
// walk (__addr_ok), and the rest is walked in the guest's own 4-level tables, writable at every
// level for a write; anything else is -EFAULT to the caller, never a host access outside the domain.
import type { PhysicalMemory } from '@ringvisor/mmu';
import { PAGE_SIZE, PTE_P, PTE_RW } from '../abi.js';
import type { FrameTable } from '../frames.js';
import { GuestFault } from '../guest-access.js';
import { HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START } from './abi.js';
import { entryFrame } from './page-tables.js';

const TWO_32 = 0x1_0000_0000;
const TWO_47 = 2 ** 47;
const TWO_48 = 2 ** 48;

/** Xen's __addr_ok for `length` bytes at `linear`: canonical, and clear of the hypervisor's hole. */
export function rangeOk64(linear: number, length: number): boolean {
  if (!Number.isSafeInteger(linear) || !Number.isSafeInteger(length) || length < 0) return false;
  const end = linear + length;
  if (linear < -TWO_47 || end > TWO_47) return false;
  // Negative numbers are the upper half: a range running from it into 0 wraps around 2^64.
  if (linear < 0 && end > 0) return false;
  return end <= HYPERVISOR_VIRT_START || linear >= HYPERVISOR_VIRT_END;
}

export class GuestAccess64 {
  /** Machine frame of the L4 in use. */
  base = 0;

  constructor(private readonly memory: PhysicalMemory, private readonly frames: FrameTable) {}

  /** Machine address of the byte at `linear`, or throws GuestFault. */
  translate(linear: number, write: boolean): number {
    if (!rangeOk64(linear, 1)) throw new GuestFault(linear);
    const u = linear < 0 ? linear + TWO_48 : linear;
    let table = this.base;
    for (let level = 3; level >= 0; level--) {
      const index = Math.floor(u / 2 ** (12 + 9 * level)) % 512;
      const at = table * PAGE_SIZE + index * 8;
      const lo = this.memory.read32(at) >>> 0;
      if ((lo & PTE_P) === 0 || (write && (lo & PTE_RW) === 0)) throw new GuestFault(linear);
      const frame = entryFrame(lo, this.memory.read32(at + 4));
      if (!this.frames.mappable(frame)) throw new GuestFault(linear);
      table = frame;
    }
    return table * PAGE_SIZE + (u % PAGE_SIZE);
  }

  read8(linear: number): number {
    return this.memory.read8(this.translate(linear, false));
  }

  read16(linear: number): number {
    return this.read8(linear) | (this.read8(linear + 1) << 8);
  }

  read32(linear: number): number {
    if (linear % 4 === 0) return this.memory.read32(this.translate(linear, false)) >>> 0;
    return (this.read16(linear) | (this.read16(linear + 2) << 16)) >>> 0;
  }

  /** A 64-bit value as a number: exact for anything within ±2^53 (addresses, counts, small negatives). */
  read64(linear: number): number {
    return (this.read32(linear + 4) | 0) * TWO_32 + this.read32(linear);
  }

  write8(linear: number, value: number): void {
    this.memory.write8(this.translate(linear, true), value & 0xff);
  }

  write16(linear: number, value: number): void {
    this.write8(linear, value);
    this.write8(linear + 1, value >>> 8);
  }

  write32(linear: number, value: number): void {
    if (linear % 4 === 0) {
      this.memory.write32(this.translate(linear, true), value);
      return;
    }
    for (let i = 0; i < 4; i++) this.write8(linear + i, value >>> (i * 8));
  }

  /** Writes a 64-bit value given as a number (exact within ±2^53); both halves checked first. */
  write64(linear: number, value: number): void {
    const hi = Math.floor(value / TWO_32);
    this.translate(linear, true);
    this.translate(linear + 7, true);
    this.write32(linear, value - hi * TWO_32);
    this.write32(linear + 4, hi);
  }

  readBytes(linear: number, into: Uint8Array): void {
    let done = 0;
    while (done < into.length) {
      const at = linear + done;
      const n = Math.min(into.length - done, PAGE_SIZE - (((at % PAGE_SIZE) + PAGE_SIZE) % PAGE_SIZE));
      this.memory.readBytes(this.translate(at, false), into.subarray(done, done + n));
      done += n;
    }
  }

  writeBytes(linear: number, from: Uint8Array): void {
    for (let at = linear; at < linear + from.length; at = Math.floor(at / PAGE_SIZE) * PAGE_SIZE + PAGE_SIZE) this.translate(at, true);
    let done = 0;
    while (done < from.length) {
      const at = linear + done;
      const n = Math.min(from.length - done, PAGE_SIZE - (((at % PAGE_SIZE) + PAGE_SIZE) % PAGE_SIZE));
      this.memory.writeBytes(this.translate(at, true), from.subarray(done, done + n));
      done += n;
    }
  }
}
