// What a virtio-blk device tells the driver about itself (virtio spec v1.1, sections 5.2.3-5.2.4):
// the feature bits it offers and its configuration space, the same whichever way its back end
// completes requests (`VirtioBlock`, `AsyncVirtioBlock`).
import { featureBit } from '../constants.js';
import {
  BlkConfig, SECTOR_SIZE, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_ID_BYTES,
} from './protocol.js';
import type { BlockRequestSettings } from './request.js';
import { emptyBlockStats } from './stats.js';

export interface BlockIdentityOptions {
  /** Serial returned by GET_ID (at most 20 bytes of UTF-8; Linux shows it as /sys/block/vda/serial). */
  readonly id?: string;
  /** QueueNumMax of the request queue (power of two, default 256). */
  readonly queueSize?: number;
  /** Present the disk read-only even if the backend could write (default: the backend's `readOnly`). */
  readonly readOnly?: boolean;
  /** Most sectors one discard segment may cover (default 8192, 4 MiB). */
  readonly maxDiscardSectors?: number;
  /** Most segments one discard request may carry (default 16). */
  readonly maxDiscardSegments?: number;
}

export interface BlockIdentity {
  readonly queueSize: number;
  readonly features: bigint;
  readonly config: Uint8Array;
  /** What requests are checked against (guest memory comes with the transport). */
  readonly settings: Omit<BlockRequestSettings, 'memory'>;
}

/** The identity of a disk of `size` bytes whose back end is `backendReadOnly` or not. */
export function blockIdentity(options: BlockIdentityOptions, size: number, backendReadOnly: boolean): BlockIdentity {
  const queueSize = options.queueSize ?? 256;
  const readOnly = options.readOnly ?? backendReadOnly;
  const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  const idBytes = new TextEncoder().encode(options.id ?? '');
  if (idBytes.length > VIRTIO_BLK_ID_BYTES) throw new RangeError(`virtio-blk id "${options.id}" is longer than 20 bytes`);
  id.set(idBytes);
  const settings = {
    capacitySectors: Math.floor(size / SECTOR_SIZE),
    readOnly,
    id,
    maxDiscardSectors: options.maxDiscardSectors ?? 8192,
    maxDiscardSegments: options.maxDiscardSegments ?? 16,
    stats: emptyBlockStats(),
  };
  let features = featureBit(VIRTIO_BLK_F_FLUSH) | featureBit(VIRTIO_BLK_F_BLK_SIZE) | featureBit(VIRTIO_BLK_F_SEG_MAX);
  features |= readOnly ? featureBit(VIRTIO_BLK_F_RO) : featureBit(VIRTIO_BLK_F_DISCARD);

  const config = new Uint8Array(BlkConfig.size);
  const fields = new DataView(config.buffer);
  fields.setBigUint64(BlkConfig.capacity, BigInt(settings.capacitySectors), true);
  // Header and status take two descriptors of a chain no longer than the queue.
  fields.setUint32(BlkConfig.segMax, Math.max(1, queueSize - 2), true);
  fields.setUint32(BlkConfig.blkSize, SECTOR_SIZE, true);
  fields.setUint32(BlkConfig.maxDiscardSectors, settings.maxDiscardSectors, true);
  fields.setUint32(BlkConfig.maxDiscardSeg, settings.maxDiscardSegments, true);
  fields.setUint32(BlkConfig.discardSectorAlignment, 1, true);
  return { queueSize, features, config, settings };
}
