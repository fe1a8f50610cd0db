// RAM above 4 GiB, reachable only through PAE (or PSE-36) translations, DMA and loaders. It lives
// outside the CPU's fast path (`PhysicalMemory.ram` and `kind` cover the first 4 GiB), in chunks of
// 1 GiB allocated on first write, so a large guest costs host memory only for what it touches and no
// single typed array exceeds what the host can allocate.
import { FOUR_GIB } from './page-kind.js';

/** Bytes per chunk (a power of two, so chunk boundaries are GiB-aligned addresses). */
export const HIGH_CHUNK_SIZE = 1 << 30;

/** The RAM regions at or above 4 GiB of one PhysicalMemory. */
export class HighRam {
  /** Chunks by `(address - 4 GiB) / HIGH_CHUNK_SIZE`; null until first written. */
  private readonly chunks: (Uint8Array | null)[] = [];
  /** The RAM of chunk i is [from[i], to[i]) as offsets in it (one range per chunk; to = 0: none). */
  private readonly from: number[] = [];
  private readonly to: number[] = [];
  /** One past the highest RAM byte. */
  readonly end: number;

  constructor(regions: readonly { base: number; size: number }[]) {
    let end = FOUR_GIB;
    for (const { base, size } of [...regions].sort((a, b) => a.base - b.base)) {
      for (let a = base; a < base + size; a = chunkStart(chunkIndex(a) + 1)) {
        const i = chunkIndex(a);
        while (this.chunks.length <= i) {
          this.chunks.push(null);
          this.from.push(0);
          this.to.push(0);
        }
        const offset = a - chunkStart(i);
        // A second region in the same GiB must continue the first: one range per chunk.
        if (this.to[i] !== 0 && this.to[i] !== offset) {
          throw new RangeError(`RAM region at 0x${base.toString(16)}: RAM above 4 GiB leaves a gap inside a GiB`);
        }
        if (this.to[i] === 0) this.from[i] = offset;
        this.to[i] = Math.min(base + size, chunkStart(i + 1)) - chunkStart(i);
      }
      end = Math.max(end, base + size);
    }
    this.end = end;
  }

  get empty(): boolean {
    return this.chunks.length === 0;
  }

  /** True when [address, address + length) is all RAM here. */
  covers(address: number, length: number): boolean {
    if (address < FOUR_GIB || address + length > this.end) return false;
    for (let a = address; a < address + length; a = chunkStart(chunkIndex(a) + 1)) {
      const i = chunkIndex(a);
      const start = a - chunkStart(i);
      const stop = Math.min(address + length, chunkStart(i + 1)) - chunkStart(i);
      if (start < this.from[i] || stop > this.to[i]) return false;
    }
    return true;
  }

  /** The byte at a RAM `address` (callers check `covers`); an untouched chunk reads 0. */
  read8(address: number): number {
    const chunk = this.chunks[chunkIndex(address)];
    return chunk === null ? 0 : chunk[address - chunkStart(chunkIndex(address))];
  }

  write8(address: number, value: number): void {
    const i = chunkIndex(address);
    this.chunk(i)[address - chunkStart(i)] = value;
  }

  /**
   * A view of [address, address + length) when it lies in one chunk (DMA buffers crossing a GiB
   * boundary above 4 GiB get null, as for any range that is not one piece of RAM).
   */
  view(address: number, length: number): Uint8Array | null {
    const i = chunkIndex(address);
    if (length > 0 && chunkIndex(address + length - 1) !== i) return null;
    const offset = address - chunkStart(i);
    return this.chunk(i).subarray(offset, offset + length);
  }

  /** Copies out [address, address + into.length) (callers check `covers`). */
  readBytes(address: number, into: Uint8Array): void {
    for (let done = 0; done < into.length;) {
      const a = address + done;
      const i = chunkIndex(a);
      const n = Math.min(into.length - done, chunkStart(i + 1) - a);
      const chunk = this.chunks[i];
      if (chunk === null) into.fill(0, done, done + n);
      else into.set(chunk.subarray(a - chunkStart(i), a - chunkStart(i) + n), done);
      done += n;
    }
  }

  /** Copies `from` to `address` (callers check `covers`). */
  writeBytes(address: number, from: Uint8Array): void {
    for (let done = 0; done < from.length;) {
      const a = address + done;
      const i = chunkIndex(a);
      const n = Math.min(from.length - done, chunkStart(i + 1) - a);
      this.chunk(i).set(from.subarray(done, done + n), a - chunkStart(i));
      done += n;
    }
  }

  private chunk(i: number): Uint8Array {
    let chunk = this.chunks[i];
    if (chunk === null) {
      // Offsets below `from` are never touched, so the OS never backs them.
      chunk = new Uint8Array(this.to[i]);
      this.chunks[i] = chunk;
    }
    return chunk;
  }
}

function chunkIndex(address: number): number {
  return Math.floor((address - FOUR_GIB) / HIGH_CHUNK_SIZE);
}

function chunkStart(i: number): number {
  return FOUR_GIB + i * HIGH_CHUNK_SIZE;
}
