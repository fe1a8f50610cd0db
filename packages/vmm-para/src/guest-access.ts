// The hypervisor's copy_from_user/copy_to_user: guest pointers are linear addresses in the guest's
// current address space. Like Xen, a pointer must lie below the hypervisor's region (access_ok)
// and be mapped by the guest's own page tables, writable for a write (Xen runs with CR0.WP set);
// anything else is -EFAULT to the caller, never a host access outside the domain's frames.
import type { PhysicalMemory } from '@ringvisor/mmu';
import { HYPERVISOR_VIRT_START, PAGE_SIZE, PTE_P, PTE_RW } from './abi.js';
import type { FrameTable } from './frames.js';

/** Thrown by a guest access that would fault; hypercalls turn it into -EFAULT. */
export class GuestFault extends Error {
  constructor(readonly linear: number) {
    super(`guest fault at 0x${(linear >>> 0).toString(16)}`);
  }
}

/** Xen's access_ok for `length` bytes at `linear`: the whole range lies below the hypervisor. */
export function rangeOk(linear: number, length: number): boolean {
  return Number.isFinite(length) && length >= 0 && linear >= 0 && linear + length <= HYPERVISOR_VIRT_START;
}

export class GuestAccess {
  /** Machine address of the current page directory (CR3). */
  cr3 = 0;

  constructor(private readonly memory: PhysicalMemory, private readonly frames: FrameTable) {}

  /** Machine address of the byte at `linear`, or throws GuestFault. */
  translate(linear: number, write: boolean): number {
    linear >>>= 0;
    if (linear >= HYPERVISOR_VIRT_START) throw new GuestFault(linear);
    const pde = this.memory.read32(this.cr3 + (linear >>> 22) * 4) >>> 0;
    if ((pde & PTE_P) === 0 || (write && (pde & PTE_RW) === 0)) throw new GuestFault(linear);
    const l1 = pde >>> 12;
    if (!this.frames.mappable(l1)) throw new GuestFault(linear);
    const pte = this.memory.read32(l1 * PAGE_SIZE + ((linear >>> 12) & 0x3ff) * 4) >>> 0;
    if ((pte & PTE_P) === 0 || (write && (pte & PTE_RW) === 0)) throw new GuestFault(linear);
    const frame = pte >>> 12;
    if (!this.frames.mappable(frame)) throw new GuestFault(linear);
    return frame * PAGE_SIZE + (linear & 0xfff);
  }

  read32(linear: number): number {
    if ((linear & 3) === 0) return this.memory.read32(this.translate(linear, false)) >>> 0;
    let value = 0;
    for (let i = 3; i >= 0; i--) value = (value << 8) | this.read8(linear + i);
    return value >>> 0;
  }

  read16(linear: number): number {
    return this.read8(linear) | (this.read8(linear + 1) << 8);
  }

  read8(linear: number): number {
    return this.memory.read8(this.translate(linear, false));
  }

  write32(linear: number, value: number): void {
    if ((linear & 3) === 0) {
      this.memory.write32(this.translate(linear, true), value);
      return;
    }
    for (let i = 0; i < 4; i++) this.write8(linear + i, value >>> (i * 8));
  }

  write16(linear: number, value: number): void {
    this.write8(linear, value);
    this.write8(linear + 1, value >>> 8);
  }

  write8(linear: number, value: number): void {
    this.memory.write8(this.translate(linear, true), value & 0xff);
  }

  /** Copies `into.length` bytes from guest linear memory (page by page). */
  readBytes(linear: number, into: Uint8Array): void {
    let done = 0;
    while (done < into.length) {
      const at = linear + done;
      const n = Math.min(into.length - done, PAGE_SIZE - (at & 0xfff));
      this.memory.readBytes(this.translate(at, false), into.subarray(done, done + n));
      done += n;
    }
  }

  writeBytes(linear: number, from: Uint8Array): void {
    // Check every page first, so a fault part-way writes nothing.
    for (let at = (linear & ~0xfff) >>> 0; at < linear + from.length; at += PAGE_SIZE) this.translate(Math.max(at, linear), true);
    let done = 0;
    while (done < from.length) {
      const at = linear + done;
      const n = Math.min(from.length - done, PAGE_SIZE - (at & 0xfff));
      this.memory.writeBytes(this.translate(at, true), from.subarray(done, done + n));
      done += n;
    }
  }
}
