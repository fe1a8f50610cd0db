// The platform's physical RAM: one SharedArrayBuffer every pCPU worker maps, handed to domains in
// 4 KiB machine frames. Allocation is first fit over free extents; freed extents merge with their
// neighbours, so a destroyed domain's frames are whole again for the next one.

export const FRAME_SIZE = 4096;
export const FRAME_SHIFT = 12;

/** A run of machine frames: [first, first + count). */
export interface Extent {
  readonly first: number;
  readonly count: number;
}

/** The pool has not `count` contiguous free frames. */
export class PoolExhaustedError extends Error {
  constructor(readonly wanted: number, readonly free: number, readonly largest: number) {
    super(`the RAM pool has no ${wanted} contiguous free frames (${free} free, the largest run ${largest})`);
    this.name = 'PoolExhaustedError';
  }
}

export class FramePool {
  readonly buffer: SharedArrayBuffer;
  readonly frames: number;
  /** Free extents, sorted by first frame, never adjacent (merged). */
  private free: Extent[];
  /** Owner of each frame (0: free; otherwise the domain id), for isolation checks and `xl list`. */
  readonly owner: Int32Array;

  constructor(bytes: number) {
    if (bytes <= 0 || bytes % FRAME_SIZE !== 0) throw new RangeError(`pool size ${bytes} is not a positive multiple of ${FRAME_SIZE}`);
    this.buffer = new SharedArrayBuffer(bytes);
    this.frames = bytes / FRAME_SIZE;
    this.free = [{ first: 0, count: this.frames }];
    this.owner = new Int32Array(this.frames);
  }

  get freeFrames(): number {
    return this.free.reduce((sum, e) => sum + e.count, 0);
  }

  get largestFreeRun(): number {
    return this.free.reduce((max, e) => Math.max(max, e.count), 0);
  }

  /** Takes `count` contiguous frames for `domain` (a positive id) and zeroes them. */
  allocate(count: number, domain: number): Extent {
    if (!Number.isInteger(count) || count <= 0) throw new RangeError(`cannot allocate ${count} frames`);
    if (!Number.isInteger(domain) || domain <= 0) throw new RangeError(`domain id ${domain} is not positive`);
    const i = this.free.findIndex((e) => e.count >= count);
    if (i < 0) throw new PoolExhaustedError(count, this.freeFrames, this.largestFreeRun);
    const hole = this.free[i];
    const extent = { first: hole.first, count };
    if (hole.count === count) this.free.splice(i, 1);
    else this.free[i] = { first: hole.first + count, count: hole.count - count };
    this.owner.fill(domain, extent.first, extent.first + count);
    // A frame never carries one domain's data to the next.
    new Uint8Array(this.buffer, extent.first * FRAME_SIZE, count * FRAME_SIZE).fill(0);
    return extent;
  }

  /** Returns `extent` to the pool; every frame of it must belong to `domain`. */
  release(extent: Extent, domain: number): void {
    for (let f = extent.first; f < extent.first + extent.count; f++) {
      if (this.owner[f] !== domain) throw new Error(`frame ${f} does not belong to domain ${domain}`);
    }
    this.owner.fill(0, extent.first, extent.first + extent.count);
    let i = 0;
    while (i < this.free.length && this.free[i].first < extent.first) i++;
    this.free.splice(i, 0, { ...extent });
    // Merge with the following and then the preceding extent.
    if (i + 1 < this.free.length && this.free[i].first + this.free[i].count === this.free[i + 1].first) {
      this.free[i] = { first: this.free[i].first, count: this.free[i].count + this.free[i + 1].count };
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1].first + this.free[i - 1].count === this.free[i].first) {
      this.free[i - 1] = { first: this.free[i - 1].first, count: this.free[i - 1].count + this.free[i].count };
      this.free.splice(i, 1);
    }
  }

  /** Frames owned by `domain`. */
  framesOf(domain: number): number {
    let n = 0;
    for (let f = 0; f < this.frames; f++) if (this.owner[f] === domain) n++;
    return n;
  }
}
