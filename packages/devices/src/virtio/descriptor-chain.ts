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
  let done = 0;
  let skip = offset;
  let staging: Uint8Array | null = null;
  for (const seg of segments) {
    if (done === length) break;
    if (skip >= seg.length) {
      skip -= seg.length;
      continue;
    }
    let address = seg.address + skip;
    let n = Math.min(seg.length - skip, length - done);
    skip = 0;
    const view = memory.view(address, n);
    if (view !== null) {
      fill(view, offset + done);
      memory.notifyWrite(address, n);
      done += n;
      continue;
    }
    staging ??= new Uint8Array(STAGING_CHUNK);
    while (n > 0) {
      const piece = staging.subarray(0, Math.min(n, STAGING_CHUNK));
      fill(piece, offset + done);
      if (!memory.writeBytes(address, piece)) return false;
      address += piece.length;
      n -= piece.length;
      done += piece.length;
    }
  }
  return done === length;
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
  let done = 0;
  let skip = offset;
  let staging: Uint8Array | null = null;
  for (const seg of segments) {
    if (done === length) break;
    if (skip >= seg.length) {
      skip -= seg.length;
      continue;
    }
    let address = seg.address + skip;
    let n = Math.min(seg.length - skip, length - done);
    skip = 0;
    const view = memory.view(address, n);
    if (view !== null) {
      drain(view, offset + done);
      done += n;
      continue;
    }
    staging ??= new Uint8Array(STAGING_CHUNK);
    while (n > 0) {
      const piece = staging.subarray(0, Math.min(n, STAGING_CHUNK));
      if (!memory.readBytes(address, piece)) return false;
      drain(piece, offset + done);
      address += piece.length;
      n -= piece.length;
      done += piece.length;
    }
  }
  return done === length;
}
