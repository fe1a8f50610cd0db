// A domain's physical-to-machine map and the hypervisor's view of the domain's RAM through it.
import type { GuestMemory } from '@ringvisor/vmm-api';
import type { DmaWriteLog } from './dma-log.js';
import { FRAME_SHIFT, FRAME_SIZE, type Extent } from './frame-pool.js';

/**
 * Guest frame → machine frame for one domain. The hypervisor reads and writes domain RAM only
 * through it (loaders, consoles, device DMA, checksums), so an address the guest hands a device can
 * reach nothing but the domain's own frames. Domains get one extent today (see ARCHITECTURE.md:
 * the emulated CPU indexes guest RAM as one array), so `contiguous` is the pCPU's fast path.
 */
export class P2m {
  /** Machine frame of each guest frame. */
  readonly mfn: Int32Array;
  readonly bytes: number;

  /** `guestFrames` of the extent are guest RAM (default all); the rest are the strategy's own frames. */
  constructor(readonly extent: Extent, guestFrames = extent.count) {
    if (guestFrames > extent.count) throw new RangeError(`${guestFrames} guest frames do not fit in an extent of ${extent.count}`);
    this.mfn = new Int32Array(guestFrames);
    for (let g = 0; g < guestFrames; g++) this.mfn[g] = extent.first + g;
    this.bytes = guestFrames * FRAME_SIZE;
  }

  get frames(): number {
    return this.mfn.length;
  }

  /** Machine byte address of guest-physical `address`, or -1 outside the domain's RAM. */
  machineAddress(address: number): number {
    if (!Number.isInteger(address) || address < 0 || address >= this.bytes) return -1;
    return this.mfn[address >>> FRAME_SHIFT] * FRAME_SIZE + (address & (FRAME_SIZE - 1));
  }

  /** The machine byte range of guest [address, address+length), when it is one machine run; else -1. */
  machineRange(address: number, length: number): number {
    if (!Number.isInteger(length) || length < 0) return -1;
    const start = this.machineAddress(address);
    if (start < 0) return -1;
    if (length === 0) return start;
    const last = this.machineAddress(address + length - 1);
    return last === start + length - 1 ? start : -1;
  }
}

/**
 * Domain RAM as the hypervisor's loaders and devices see it: every access translated and bounded by
 * the p2m. A device's memory records its writes in the domain's DMA log (the pCPU drops code it
 * decoded from those frames); the loaders write before any VM exists and need none.
 */
export class DomainMemory implements GuestMemory {
  private readonly bytes: Uint8Array;

  constructor(pool: SharedArrayBuffer, readonly p2m: P2m, private readonly dmaLog: DmaWriteLog | null = null) {
    this.bytes = new Uint8Array(pool);
  }

  get ramEnd(): number {
    return this.p2m.bytes;
  }

  read8(address: number): number {
    const at = this.p2m.machineAddress(address);
    return at < 0 ? 0xff : this.bytes[at];
  }

  read16(address: number): number {
    return this.read8(address) | (this.read8(address + 1) << 8);
  }

  read32(address: number): number {
    return (this.read16(address) | (this.read16(address + 2) << 16)) >>> 0;
  }

  write8(address: number, value: number): void {
    const at = this.p2m.machineAddress(address);
    if (at < 0) return;
    this.bytes[at] = value;
    this.dmaLog?.mark(address, 1);
  }

  write16(address: number, value: number): void {
    this.write8(address, value);
    this.write8(address + 1, value >>> 8);
  }

  write32(address: number, value: number): void {
    this.write16(address, value);
    this.write16(address + 2, value >>> 16);
  }

  readBytes(address: number, into: Uint8Array): boolean {
    const at = this.p2m.machineRange(address, into.length);
    if (at < 0) return false;
    into.set(this.bytes.subarray(at, at + into.length));
    return true;
  }

  writeBytes(address: number, from: Uint8Array): boolean {
    const at = this.p2m.machineRange(address, from.length);
    if (at < 0) return false;
    this.bytes.set(from, at);
    this.dmaLog?.mark(address, from.length);
    return true;
  }

  view(address: number, length: number): Uint8Array | null {
    const at = this.p2m.machineRange(address, length);
    return at < 0 ? null : this.bytes.subarray(at, at + length);
  }

  /** After a write through `view`: `[address, address + length)` is recorded when it is the domain's RAM. */
  notifyWrite(address: number, length: number): void {
    if (this.p2m.machineRange(address, length) >= 0) this.dmaLog?.mark(address, length);
  }

  /** FNV-1a over the domain's RAM (isolation checks). */
  checksum(): number {
    let hash = 0x811c9dc5;
    for (let g = 0; g < this.p2m.frames; g++) {
      const base = this.p2m.mfn[g] * FRAME_SIZE;
      for (let i = base; i < base + FRAME_SIZE; i++) hash = Math.imul(hash ^ this.bytes[i], 0x01000193);
    }
    return hash >>> 0;
  }
}
