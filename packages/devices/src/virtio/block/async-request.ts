// One virtio-blk request against an asynchronous back end, as the steps the device issues in turn
// (virtio spec v1.1, section 5.2.6). Data moves in pieces of at most PIECE_BYTES through host
// buffers: a write's piece is copied out of guest RAM when it is issued, a read's copied into guest
// RAM when it completes, so no guest RAM is held while the host works and a request as long as
// the disk costs one piece of host memory at a time.
import { type DescriptorChain, readSegments, writeSegments } from '../descriptor-chain.js';
import {
  REQUEST_HEADER_SIZE, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
} from './protocol.js';
import {
  type BlockRequestSettings, IOERR, OK, type Outcome, UNSUPP, diskOffset, discardRanges, getId,
} from './request.js';

/** Largest host buffer one step moves (bounds the host memory a request holds). */
export const PIECE_BYTES = 1024 * 1024;

/** One back-end operation; a read step is resumed with the bytes read. */
export type BlockStep =
  | { readonly kind: 'read'; readonly offset: number; readonly length: number }
  | { readonly kind: 'write'; readonly offset: number; readonly data: Uint8Array }
  | { readonly kind: 'flush' }
  | { readonly kind: 'discard'; readonly offset: number; readonly length: number };

export type BlockSteps = Generator<BlockStep, Outcome, Uint8Array | null>;

/** The steps of the request whose header (type, sector) was read from `chain`. */
export function* requestSteps(ctx: BlockRequestSettings, chain: DescriptorChain, type: number, sector: number): BlockSteps {
  switch (type) {
    case VIRTIO_BLK_T_IN: return yield* read(ctx, chain, sector);
    case VIRTIO_BLK_T_OUT: return yield* write(ctx, chain, sector);
    case VIRTIO_BLK_T_FLUSH:
      ctx.stats.flushes++;
      yield { kind: 'flush' };
      return OK;
    case VIRTIO_BLK_T_GET_ID: return getId(ctx, chain);
    case VIRTIO_BLK_T_DISCARD: {
      const ranges = discardRanges(ctx, chain);
      if (!Array.isArray(ranges)) return ranges;
      for (const [offset, length] of ranges) yield { kind: 'discard', offset, length };
      return OK;
    }
    default: return UNSUPP;
  }
}

function* read(ctx: BlockRequestSettings, chain: DescriptorChain, sector: number): BlockSteps {
  ctx.stats.reads++;
  const length = chain.writableLength - 1;
  const start = diskOffset(ctx, sector, length);
  if (start === null) return IOERR;
  for (let at = 0; at < length; at += PIECE_BYTES) {
    const n = Math.min(PIECE_BYTES, length - at);
    const data = yield { kind: 'read', offset: start + at, length: n };
    if (data === null || data.length !== n || !writeSegments(ctx.memory, chain.writable, at, data)) return IOERR;
  }
  ctx.stats.bytesRead += length;
  return { status: VIRTIO_BLK_S_OK, dataWritten: length };
}

function* write(ctx: BlockRequestSettings, chain: DescriptorChain, sector: number): BlockSteps {
  ctx.stats.writes++;
  if (ctx.readOnly) return IOERR;
  const length = chain.readableLength - REQUEST_HEADER_SIZE;
  const start = diskOffset(ctx, sector, length);
  if (start === null) return IOERR;
  for (let at = 0; at < length; at += PIECE_BYTES) {
    const data = new Uint8Array(Math.min(PIECE_BYTES, length - at));
    if (!readSegments(ctx.memory, chain.readable, REQUEST_HEADER_SIZE + at, data)) return IOERR;
    yield { kind: 'write', offset: start + at, data };
  }
  ctx.stats.bytesWritten += length;
  return OK;
}
