// Guest RAM for virtio tests: one flat region from guest-physical 0. Bulk accesses outside RAM
// fail as GuestMemory specifies; scalar ones (which devices use for ring fields they validated
// first) throw, so a test notices a device touching memory it had not checked.
// `views: false` makes view() refuse, to exercise the copying DMA path.
import type { GuestMemory } from '@ringvisor/vmm-api';

export class TestGuestRam implements GuestMemory {
  readonly bytes: Uint8Array;
  readonly ramEnd: number;
  private readonly data: DataView;
  private readonly views: boolean;
  /** A range below ramEnd that is not RAM (an MMIO hole), as [start, end). */
  private readonly hole: readonly [number, number] | undefined;
  /** Every notifyWrite range, to check devices announce writes made through views. */
  readonly notified: [number, number][] = [];

  constructor(size: number, options: { views?: boolean; hole?: [number, number] } = {}) {
    this.bytes = new Uint8Array(size);
    this.data = new DataView(this.bytes.buffer);
    this.ramEnd = size;
    this.views = options.views ?? true;
    this.hole = options.hole;
  }

  private inRam(address: number, length: number): boolean {
    if (!(Number.isSafeInteger(address) && address >= 0 && length >= 0 && address + length <= this.ramEnd)) return false;
    return this.hole === undefined || address + length <= this.hole[0] || address >= this.hole[1];
  }

  private check(address: number, length: number): void {
    if (!this.inRam(address, length)) throw new Error(`scalar access outside guest RAM at 0x${address.toString(16)}`);
  }

  read8(address: number): number {
    this.check(address, 1);
    return this.bytes[address];
  }
  read16(address: number): number {
    this.check(address, 2);
    return this.data.getUint16(address, true);
  }
  read32(address: number): number {
    this.check(address, 4);
    return this.data.getUint32(address, true);
  }
  write8(address: number, value: number): void {
    this.check(address, 1);
    this.bytes[address] = value;
  }
  write16(address: number, value: number): void {
    this.check(address, 2);
    this.data.setUint16(address, value, true);
  }
  write32(address: number, value: number): void {
    this.check(address, 4);
    this.data.setUint32(address, value >>> 0, true);
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
