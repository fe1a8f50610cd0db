import type { GuestMemory } from '@ringvisor/vmm-api';

/** Guest RAM for loader tests: one buffer per RAM region, bounds-checked like the real thing. */
export class TestMemory implements GuestMemory {
  private readonly regions: { base: number; bytes: Uint8Array }[];
  readonly ramEnd: number;

  constructor(regions: readonly { base: number; size: number; rom?: Uint8Array }[]) {
    this.regions = regions.filter((region) => !region.rom)
      .map((region) => ({ base: region.base, bytes: new Uint8Array(region.size) }));
    this.ramEnd = Math.max(...this.regions.map((region) => region.base + region.bytes.length));
  }

  view(address: number, length: number): Uint8Array | null {
    const region = this.regions.find((r) => address >= r.base && address + length <= r.base + r.bytes.length);
    return region ? region.bytes.subarray(address - region.base, address - region.base + length) : null;
  }

  notifyWrite(): void {}

  readBytes(address: number, into: Uint8Array): boolean {
    const view = this.view(address, into.length);
    if (view) into.set(view);
    return view !== null;
  }

  writeBytes(address: number, from: Uint8Array): boolean {
    const view = this.view(address, from.length);
    if (view) view.set(from);
    return view !== null;
  }

  private data(address: number, size: number): DataView {
    const view = this.view(address, size);
    if (!view) throw new RangeError(`test read outside RAM at 0x${address.toString(16)}`);
    return new DataView(view.buffer, view.byteOffset, size);
  }

  read8(address: number): number { return this.data(address, 1).getUint8(0); }
  read16(address: number): number { return this.data(address, 2).getUint16(0, true); }
  read32(address: number): number { return this.data(address, 4).getUint32(0, true); }
  readU64(address: number): bigint { return this.data(address, 8).getBigUint64(0, true); }
  write8(address: number, value: number): void { this.data(address, 1).setUint8(0, value); }
  write16(address: number, value: number): void { this.data(address, 2).setUint16(0, value, true); }
  write32(address: number, value: number): void { this.data(address, 4).setUint32(0, value, true); }

  /** The NUL-terminated string at `address`. */
  cString(address: number): string {
    let text = '';
    for (let at = address; this.read8(at) !== 0; at++) text += String.fromCharCode(this.read8(at));
    return text;
  }
}
