import { LoaderError, hex, type LoaderFormat } from '../loader-error.js';

/**
 * Little-endian reads from an untrusted image. Every read names the field it reads, so a truncated
 * file produces "linux: image truncated reading setup header (needs 0x260 bytes, has 0x200)".
 */
export class ByteReader {
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array, private readonly format: LoaderFormat) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** Throws unless `[offset, offset + size)` lies inside the image. */
  require(offset: number, size: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0
      || offset + size > this.bytes.length) {
      throw new LoaderError(this.format,
        `image truncated reading ${what} (needs ${hex(offset + size)} bytes, has ${hex(this.bytes.length)})`);
    }
  }

  u8(offset: number, what: string): number {
    this.require(offset, 1, what);
    return this.view.getUint8(offset);
  }

  u16(offset: number, what: string): number {
    this.require(offset, 2, what);
    return this.view.getUint16(offset, true);
  }

  u32(offset: number, what: string): number {
    this.require(offset, 4, what);
    return this.view.getUint32(offset, true);
  }

  /** A 64-bit field as a number; values above 2^53 cannot be addresses we can load to. */
  u64(offset: number, what: string): number {
    this.require(offset, 8, what);
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new LoaderError(this.format, `${what} out of range (0x${value.toString(16)})`);
    }
    return Number(value);
  }

  /** A sub-range of the image without copying. */
  slice(offset: number, size: number, what: string): Uint8Array {
    this.require(offset, size, what);
    return this.bytes.subarray(offset, offset + size);
  }
}
