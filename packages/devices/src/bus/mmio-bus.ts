// Guest-physical MMIO dispatch. Windows are few and large (a virtio-mmio device is 4 KiB, an HPET
// 1 KiB), so a sorted array searched by bisection, with the last hit cached, beats a page table in
// memory and matches it in speed for the repeated accesses a driver makes to one device.
import type { AccessSize, MmioBus, MmioHandler } from '@ringvisor/vmm-api';
import { allOnes, truncate } from './access.js';

interface Window {
  readonly base: number;
  readonly end: number;
  readonly handler: MmioHandler;
}

/**
 * Routes guest-physical accesses to the window containing their first byte; the handler sees the
 * offset into its window. Unclaimed reads answer all ones of the access size, unclaimed writes are
 * dropped, both counted.
 */
export class MmioDispatchBus implements MmioBus {
  /** Reads of addresses no window claims. */
  unclaimedReads = 0;
  /** Writes to addresses no window claims. */
  unclaimedWrites = 0;
  /** The last unclaimed guest-physical address accessed, or -1. */
  lastUnclaimedAddress = -1;

  private windows: Window[] = [];
  private last: Window | undefined;

  /** Claims [base, base + length). Overlap with an existing window is a host wiring error: throws. */
  register(base: number, length: number, handler: MmioHandler): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length < 1 || !Number.isSafeInteger(base + length)) {
      throw new RangeError(`MMIO window 0x${base.toString(16)}+0x${length.toString(16)} is not a valid range`);
    }
    const end = base + length;
    for (const w of this.windows) {
      if (base < w.end && w.base < end) {
        throw new Error(
          `MMIO window 0x${base.toString(16)}-0x${(end - 1).toString(16)} overlaps 0x${w.base.toString(16)}-0x${(w.end - 1).toString(16)}`,
        );
      }
    }
    this.windows = [...this.windows, { base, end, handler }].sort((a, b) => a.base - b.base);
  }

  /** The handler whose window contains `address`, or undefined. */
  handlerAt(address: number): MmioHandler | undefined {
    return this.find(address)?.handler;
  }

  read(address: number, size: AccessSize): number {
    const w = this.find(address);
    if (w === undefined) {
      this.unclaimedReads++;
      this.lastUnclaimedAddress = address;
      return allOnes(size);
    }
    return truncate(w.handler.mmioRead(address - w.base, size), size);
  }

  write(address: number, size: AccessSize, value: number): void {
    const w = this.find(address);
    if (w === undefined) {
      this.unclaimedWrites++;
      this.lastUnclaimedAddress = address;
      return;
    }
    w.handler.mmioWrite(address - w.base, size, truncate(value, size));
  }

  private find(address: number): Window | undefined {
    const last = this.last;
    if (last !== undefined && address >= last.base && address < last.end) return last;
    const ws = this.windows;
    let lo = 0;
    let hi = ws.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const w = ws[mid];
      if (address < w.base) hi = mid - 1;
      else if (address >= w.end) lo = mid + 1;
      else {
        this.last = w;
        return w;
      }
    }
    return undefined;
  }
}
