// A block backend held in host memory: for tests and throw-away scratch disks.
import type { BlockBackend } from './backend.js';

export interface MemoryBlockBackendOptions {
  /** Initial contents; copied. Either this or `size` is required. */
  readonly contents?: Uint8Array;
  /** Size in bytes of a zero-filled disk. */
  readonly size?: number;
  readonly readOnly?: boolean;
}

export class MemoryBlockBackend implements BlockBackend {
  /** The disk's bytes (tests inspect them directly). */
  data: Uint8Array;
  readonly readOnly: boolean;
  /** Number of `flush` calls, for tests and statistics. */
  flushes = 0;

  constructor(options: MemoryBlockBackendOptions) {
    if (options.contents !== undefined) {
      this.data = Uint8Array.from(options.contents);
    } else if (options.size !== undefined && Number.isSafeInteger(options.size) && options.size >= 0) {
      this.data = new Uint8Array(options.size);
    } else {
      throw new RangeError('MemoryBlockBackend needs `contents` or a non-negative integer `size`');
    }
    this.readOnly = options.readOnly ?? false;
  }

  get size(): number {
    return this.data.length;
  }

  /** Grows (zero-filled) or shrinks the disk; follow with `VirtioBlock.refreshCapacity()`. */
  resize(size: number): void {
    const data = new Uint8Array(size);
    data.set(this.data.subarray(0, size));
    this.data = data;
  }

  read(offset: number, into: Uint8Array): void {
    into.set(this.data.subarray(offset, offset + into.length));
  }

  write(offset: number, from: Uint8Array): void {
    if (this.readOnly) throw new Error('read-only block backend');
    this.data.set(from, offset);
  }

  flush(): void {
    this.flushes++;
  }

  discard(offset: number, length: number): void {
    if (this.readOnly) throw new Error('read-only block backend');
    this.data.fill(0, offset, offset + length);
  }
}
