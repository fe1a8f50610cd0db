// A descriptor chain taken from a split virtqueue (spec section 2.7.5), already walked and checked:
// every buffer lies inside guest RAM, device-readable buffers come before device-writable ones.
import type { GuestMemory } from '@ringvisor/vmm-api';

/** One guest buffer of a chain: `length` bytes of guest RAM at guest-physical `address`. */
export interface Segment {
  readonly address: number;
  readonly length: number;
}

export class DescriptorChain {
  /** Head descriptor index: what goes back into the used ring's `id`. */
  readonly head: number;
  /** Buffers the device reads (driver → device), in chain order. */
  readonly readable: Segment[] = [];
  /** Buffers the device writes (device → driver), in chain order. */
  readonly writable: Segment[] = [];
  readableLength = 0;
  writableLength = 0;

  constructor(head: number) {
    this.head = head;
  }
}

/** Largest host buffer used to stage a copy when guest RAM cannot be viewed in one piece. */
const STAGING_CHUNK = 64 * 1024;

/**
 * Copies `into.length` bytes starting `offset` bytes into the byte stream formed by `segments`.
 * False when the segments hold fewer bytes or guest RAM refuses an access (a hole in RAM).
 */
export function readSegments(memory: GuestMemory, segments: readonly Segment[], offset: number, into: Uint8Array): boolean {
  return drainSegments(memory, segments, offset, into.length, (from, at) => into.set(from, at - offset));
}

/** Writes `from` starting `offset` bytes into the stream formed by `segments`; false as `readSegments`. */
export function writeSegments(memory: GuestMemory, segments: readonly Segment[], offset: number, from: Uint8Array): boolean {
  return fillSegments(memory, segments, offset, from.length, (into, at) =>
    into.set(from.subarray(at - offset, at - offset + into.length)),
  );
}

/**
 * Calls `visit` with the guest-physical address, length and stream position of each piece of
 * `[offset, offset + length)` in the byte stream formed by `segments`. False when `visit` refuses
 * a piece or the segments hold fewer bytes.
 */
function walkSegments(
  segments: readonly Segment[],
  offset: number,
  length: number,
  visit: (address: number, length: number, streamOffset: number) => boolean,
): boolean {
  let done = 0;
  let skip = offset;
  for (const seg of segments) {
    if (done === length) break;
    if (skip >= seg.length) {
      skip -= seg.length;
      continue;
    }
    const n = Math.min(seg.length - skip, length - done);
    if (!visit(seg.address + skip, n, offset + done)) return false;
    done += n;
    skip = 0;
  }
  return done === length;
}

/**
 * Hands `length` bytes of the segment stream, starting at `offset`, to `fill` as host byte arrays
 * that `fill` writes into (DMA towards the guest). Uses zero-copy views of guest RAM where possible
 * and a bounded staging buffer otherwise. `fill` receives the stream position of each piece.
 * False when the range is not all there or guest RAM refuses the access.
 */
export function fillSegments(
  memory: GuestMemory,
  segments: readonly Segment[],
  offset: number,
  length: number,
  fill: (into: Uint8Array, streamOffset: number) => void,
): boolean {
  let staging: Uint8Array | null = null;
  return walkSegments(segments, offset, length, (address, n, at) => {
    const view = memory.view(address, n);
    if (view !== null) {
      fill(view, at);
      memory.notifyWrite(address, n);
      return true;
    }
    staging ??= new Uint8Array(STAGING_CHUNK);
    for (let done = 0; done < n; done += STAGING_CHUNK) {
      const piece = staging.subarray(0, Math.min(n - done, STAGING_CHUNK));
      fill(piece, at + done);
      if (!memory.writeBytes(address + done, piece)) return false;
    }
    return true;
  });
}

/**
 * The opposite of `fillSegments` (DMA from the guest): hands pieces of the segment stream to
 * `drain` to read, zero-copy where possible. False when the range is not all there.
 */
export function drainSegments(
  memory: GuestMemory,
  segments: readonly Segment[],
  offset: number,
  length: number,
  drain: (from: Uint8Array, streamOffset: number) => void,
): boolean {
  let staging: Uint8Array | null = null;
  return walkSegments(segments, offset, length, (address, n, at) => {
    const view = memory.view(address, n);
    if (view !== null) {
      drain(view, at);
      return true;
    }
    staging ??= new Uint8Array(STAGING_CHUNK);
    for (let done = 0; done < n; done += STAGING_CHUNK) {
      const piece = staging.subarray(0, Math.min(n - done, STAGING_CHUNK));
      if (!memory.readBytes(address + done, piece)) return false;
      drain(piece, at + done);
    }
    return true;
  });
}
