// Carrying out one virtio-blk request (virtio spec v1.1, section 5.2.6): a device-readable header
// (and data, for writes and discards), then device-writable data (for reads and GET_ID) ending in
// the status byte. Every guest-supplied sector and length is checked against the disk first.
import type { GuestMemory } from '@ringvisor/vmm-api';
import { type DescriptorChain, drainSegments, fillSegments, readSegments, writeSegments } from '../descriptor-chain.js';
import type { BlockBackend } from './backend.js';
import {
  DISCARD_SEGMENT_SIZE, REQUEST_HEADER_SIZE, SECTOR_SIZE, VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
} from './protocol.js';
import type { VirtioBlockStats } from './stats.js';

/** What the device knows while serving requests, whatever its back end. */
export interface BlockRequestSettings {
  readonly memory: GuestMemory;
  readonly capacitySectors: number;
  readonly readOnly: boolean;
  /** GET_ID answer, exactly VIRTIO_BLK_ID_BYTES long. */
  readonly id: Uint8Array;
  readonly maxDiscardSectors: number;
  readonly maxDiscardSegments: number;
  readonly stats: VirtioBlockStats;
}

/** The synchronous device's context: the settings and a back end that completes in the call. */
export interface BlockRequestContext extends BlockRequestSettings {
  readonly backend: BlockBackend;
}

/** How a request ended: its status byte and how many bytes of data went to the guest. */
export interface Outcome {
  status: number;
  dataWritten: number;
}

/**
 * Scratch for the request header and the status byte. Typed-array allocation is the costliest
 * step of a small request in V8, and a header is read right where it is used and a status byte
 * written in one call, never nested, so one pair serves every device, synchronous or not.
 */
const header = new Uint8Array(REQUEST_HEADER_SIZE);
const headerFields = new DataView(header.buffer);
const statusByte = new Uint8Array(1);

export const OK: Outcome = { status: VIRTIO_BLK_S_OK, dataWritten: 0 };
export const IOERR: Outcome = { status: VIRTIO_BLK_S_IOERR, dataWritten: 0 };
export const UNSUPP: Outcome = { status: VIRTIO_BLK_S_UNSUPP, dataWritten: 0 };

/**
 * Serves `chain` and writes its status byte. Returns the used length (bytes written to the guest,
 * status included), or null when the chain cannot carry a request at all (no header or no status
 * byte): the caller then puts the device into NEEDS_RESET.
 */
export function executeBlockRequest(ctx: BlockRequestContext, chain: DescriptorChain): number | null {
  if (!readHeader(ctx.memory, chain)) return null;
  return completeRequest(ctx, chain, serve(ctx, chain, headerType(), headerSector()));
}

/** Reads `chain`'s header into the shared scratch (`headerType`, `headerSector`); false when it cannot carry a request. */
export function readHeader(memory: GuestMemory, chain: DescriptorChain): boolean {
  return chain.readableLength >= REQUEST_HEADER_SIZE && chain.writableLength >= 1 && readSegments(memory, chain.readable, 0, header);
}

export function headerType(): number {
  return headerFields.getUint32(0, true);
}

export function headerSector(): number {
  return headerFields.getUint32(8, true) + headerFields.getUint32(12, true) * 0x1_0000_0000;
}

/** Counts `outcome` and writes its status byte: the used length, or null when the status byte cannot be written. */
export function completeRequest(ctx: BlockRequestSettings, chain: DescriptorChain, outcome: Outcome): number | null {
  const { stats } = ctx;
  if (outcome.status === VIRTIO_BLK_S_IOERR) stats.ioErrors++;
  if (outcome.status === VIRTIO_BLK_S_UNSUPP) stats.unsupported++;
  statusByte[0] = outcome.status;
  if (!writeSegments(ctx.memory, chain.writable, chain.writableLength - 1, statusByte)) return null;
  return outcome.dataWritten + 1;
}

function serve(ctx: BlockRequestContext, chain: DescriptorChain, type: number, sector: number): Outcome {
  switch (type) {
    case VIRTIO_BLK_T_IN: return read(ctx, chain, sector);
    case VIRTIO_BLK_T_OUT: return write(ctx, chain, sector);
    case VIRTIO_BLK_T_FLUSH:
      ctx.stats.flushes++;
      return tryIo(() => ctx.backend.flush()) ? OK : IOERR;
    case VIRTIO_BLK_T_GET_ID: return getId(ctx, chain);
    case VIRTIO_BLK_T_DISCARD: return discard(ctx, chain);
    default: return UNSUPP;
  }
}

/** Byte offset of `sector` when `[sector, sector + bytes/512)` lies on the disk, else null. */
export function diskOffset(ctx: BlockRequestSettings, sector: number, bytes: number): number | null {
  if (bytes % SECTOR_SIZE !== 0) return null;
  // `sector` is exact only below 2^53; anything that large is past the end of any disk anyway.
  if (sector > ctx.capacitySectors || bytes / SECTOR_SIZE > ctx.capacitySectors - sector) return null;
  return sector * SECTOR_SIZE;
}

function read(ctx: BlockRequestContext, chain: DescriptorChain, sector: number): Outcome {
  ctx.stats.reads++;
  const length = chain.writableLength - 1;
  const start = diskOffset(ctx, sector, length);
  if (start === null) return IOERR;
  const { backend } = ctx;
  if (!tryIo(() => fillSegments(ctx.memory, chain.writable, 0, length, (into, at) => backend.read(start + at, into)))) {
    return IOERR;
  }
  ctx.stats.bytesRead += length;
  return { status: VIRTIO_BLK_S_OK, dataWritten: length };
}

function write(ctx: BlockRequestContext, chain: DescriptorChain, sector: number): Outcome {
  ctx.stats.writes++;
  if (ctx.readOnly) return IOERR;
  const length = chain.readableLength - REQUEST_HEADER_SIZE;
  const start = diskOffset(ctx, sector, length);
  if (start === null) return IOERR;
  const { backend } = ctx;
  const drained = tryIo(() =>
    drainSegments(ctx.memory, chain.readable, REQUEST_HEADER_SIZE, length, (from, at) => backend.write(start + at - REQUEST_HEADER_SIZE, from)),
  );
  if (!drained) return IOERR;
  ctx.stats.bytesWritten += length;
  return OK;
}

export function getId(ctx: BlockRequestSettings, chain: DescriptorChain): Outcome {
  ctx.stats.getIds++;
  const length = Math.min(chain.writableLength - 1, VIRTIO_BLK_ID_BYTES);
  if (!writeSegments(ctx.memory, chain.writable, 0, ctx.id.subarray(0, length))) return IOERR;
  return { status: VIRTIO_BLK_S_OK, dataWritten: length };
}

function discard(ctx: BlockRequestContext, chain: DescriptorChain): Outcome {
  const ranges = discardRanges(ctx, chain);
  if (!Array.isArray(ranges)) return ranges;
  const { backend } = ctx;
  const discarded = tryIo(() => {
    for (const [start, bytes] of ranges) backend.discard(start, bytes);
  });
  return discarded ? OK : IOERR;
}

/** The byte ranges a DISCARD request names (each checked against the disk), or the outcome that refuses it. */
export function discardRanges(ctx: BlockRequestSettings, chain: DescriptorChain): [number, number][] | Outcome {
  ctx.stats.discards++;
  if (ctx.readOnly) return IOERR;
  const length = chain.readableLength - REQUEST_HEADER_SIZE;
  const count = length / DISCARD_SEGMENT_SIZE;
  if (length === 0 || !Number.isInteger(count) || count > ctx.maxDiscardSegments) return IOERR;
  const segments = new Uint8Array(length);
  if (!readSegments(ctx.memory, chain.readable, REQUEST_HEADER_SIZE, segments)) return IOERR;
  const fields = new DataView(segments.buffer);
  const ranges: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const at = i * DISCARD_SEGMENT_SIZE;
    const sector = fields.getUint32(at, true) + fields.getUint32(at + 4, true) * 0x1_0000_0000;
    const sectors = fields.getUint32(at + 8, true);
    const flags = fields.getUint32(at + 12, true);
    // Section 5.2.6.2: unknown flags, and UNMAP (meaningful only for WRITE_ZEROES), are UNSUPP.
    if (flags !== 0) return UNSUPP;
    if (sectors > ctx.maxDiscardSectors) return IOERR;
    const start = diskOffset(ctx, sector, sectors * SECTOR_SIZE);
    if (start === null) return IOERR;
    ranges.push([start, sectors * SECTOR_SIZE]);
  }
  return ranges;
}

/** Runs backend I/O; false when it reports failure or throws (a host I/O error becomes IOERR). */
function tryIo(io: () => boolean | void): boolean {
  try {
    return io() !== false;
  } catch {
    return false;
  }
}
