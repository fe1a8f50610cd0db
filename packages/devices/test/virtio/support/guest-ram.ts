// Guest RAM for virtio tests: one flat region from guest-physical 0, with the GuestMemory checks a
// real VM's memory makes. `views: false` makes view() refuse, to exercise the copying DMA path.
import type { GuestMemory } from '@ringvisor/vmm-api';

export class TestGuestRam implements GuestMemory {
  readonly bytes: Uint8Array;
  readonly ramEnd: number;
  private readonly data: DataView;
  private readonly views: boolean;
  /** Every notifyWrite range, to check devices announce writes made through views. */
  readonly notified: [number, number][] = [];

  constructor(size: number, options: { views?: boolean } = {}) {
    this.bytes = new Uint8Array(size);
    this.data = new DataView(this.bytes.buffer);
    this.ramEnd = size;
    this.views = options.views ?? true;
  }

  private inRam(address: number, length: number): boolean {
    return Number.isSafeInteger(address) && address >= 0 && length >= 0 && address + length <= this.ramEnd;
  }

  read8(address: number): number {
    return this.inRam(address, 1) ? this.bytes[address] : 0xff;
  }
  read16(address: number): number {
    return this.inRam(address, 2) ? this.data.getUint16(address, true) : 0xffff;
  }
  read32(address: number): number {
    return this.inRam(address, 4) ? this.data.getUint32(address, true) : 0xffff_ffff;
  }
  write8(address: number, value: number): void {
    if (this.inRam(address, 1)) this.bytes[address] = value;
  }
  write16(address: number, value: number): void {
    if (this.inRam(address, 2)) this.data.setUint16(address, value, true);
  }
  write32(address: number, value: number): void {
    if (this.inRam(address, 4)) this.data.setUint32(address, value >>> 0, true);
  }
  readBytes(address: number, into: Uint8Array): boolean {
    if (!this.inRam(address, into.length)) return false;
    into.set(this.bytes.subarray(address, address + into.length));
    return true;
  }
  writeBytes(address: number, from: Uint8Array): boolean {
    if (!this.inRam(address, from.length)) return false;
    this.bytes.set(from, address);
    return true;
  }
  view(address: number, length: number): Uint8Array | null {
    if (!this.views || !this.inRam(address, length)) return null;
    return this.bytes.subarray(address, address + length);
  }
  notifyWrite(address: number, length: number): void {
    this.notified.push([address, length]);
  }
}
