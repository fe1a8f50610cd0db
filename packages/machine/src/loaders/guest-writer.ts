import type { GuestMemory } from '@ringvisor/vmm-api';
import { LoaderError, hex, type LoaderFormat } from '../loader-error.js';

const ZERO_CHUNK = new Uint8Array(64 * 1024);

/**
 * Writes loader output into guest RAM, turning "not RAM" into a LoaderError that names what was
 * being placed, so a segment outside RAM never becomes an out-of-bounds host write.
 */
export class GuestWriter {
  private readonly scratch = new DataView(new ArrayBuffer(8));

  constructor(readonly memory: GuestMemory, private readonly format: LoaderFormat) {}

  /** Throws unless `[address, address + size)` is a sane guest-physical range. */
  checkRange(address: number, size: number, what: string): void {
    if (!Number.isSafeInteger(address) || !Number.isSafeInteger(size) || address < 0 || size < 0) {
      throw new LoaderError(this.format, `${what} has an invalid range (${address}, ${size} bytes)`);
    }
  }

  bytes(address: number, data: Uint8Array, what: string): void {
    this.checkRange(address, data.length, what);
    if (data.length === 0) return;
    if (!this.memory.writeBytes(address, data)) {
      throw new LoaderError(this.format,
        `${what} at ${hex(address)}..${hex(address + data.length)} is outside guest RAM`);
    }
  }

  zeros(address: number, size: number, what: string): void {
    this.checkRange(address, size, what);
    for (let done = 0; done < size; done += ZERO_CHUNK.length) {
      const chunk = Math.min(ZERO_CHUNK.length, size - done);
      this.bytes(address + done, ZERO_CHUNK.subarray(0, chunk), what);
    }
  }

  u8(address: number, value: number, what: string): void {
    this.bytes(address, Uint8Array.of(value & 0xff), what);
  }

  u16(address: number, value: number, what: string): void {
    this.scratch.setUint16(0, value, true);
    this.bytes(address, new Uint8Array(this.scratch.buffer, 0, 2), what);
  }

  u32(address: number, value: number, what: string): void {
    this.scratch.setUint32(0, value >>> 0, true);
    this.bytes(address, new Uint8Array(this.scratch.buffer, 0, 4), what);
  }

  u64(address: number, value: number, what: string): void {
    this.scratch.setBigUint64(0, BigInt(value), true);
    this.bytes(address, new Uint8Array(this.scratch.buffer, 0, 8), what);
  }

  /** A NUL-terminated string (Latin-1 / ASCII, one byte per char). */
  cString(address: number, text: string, what: string): number {
    const data = new Uint8Array(text.length + 1);
    for (let i = 0; i < text.length; i++) data[i] = text.charCodeAt(i) & 0xff;
    this.bytes(address, data, what);
    return data.length;
  }
}
