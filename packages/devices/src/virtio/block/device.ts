// virtio-blk (virtio spec v1.1, section 5.2): device ID 2, one request queue. Requests are served
// synchronously when the driver notifies the queue, against a `BlockBackend`.
import type { Clock } from '@ringvisor/vmm-api';
import { VIRTIO_ID_BLOCK, featureBit } from '../constants.js';
import type { DescriptorChain } from '../descriptor-chain.js';
import type { VirtioDeviceContext } from '../device.js';
import { RequestQueueDevice } from '../request-queue-device.js';
import type { BlockBackend } from './backend.js';
import {
  BlkConfig, SECTOR_SIZE, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_ID_BYTES,
} from './protocol.js';
import { type BlockRequestContext, executeBlockRequest } from './request.js';
import { type VirtioBlockStats, emptyBlockStats } from './stats.js';

export interface VirtioBlockOptions {
  readonly backend: BlockBackend;
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
  /**
   * With a clock, one notification serves chains adding up to at most about `maxBytesPerSlice`
   * bytes (default 64 MiB) and leaves the rest to a timer at the current time, so a driver whose
   * descriptors alias the same RAM cannot hold the vCPU in one exit for queue size x disk size
   * bytes of I/O. Without a clock, everything available is served in the notify exit.
   */
  readonly clock?: Clock;
  readonly maxBytesPerSlice?: number;
}

export class VirtioBlock extends RequestQueueDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly features: bigint;
  readonly config: Uint8Array;
  readonly stats: VirtioBlockStats = emptyBlockStats();
  readonly backend: BlockBackend;
  private settings: Omit<BlockRequestContext, 'memory'>;
  /** `settings` plus guest memory, built at the first request after a change (not per request). */
  private requestContext: BlockRequestContext | null = null;

  constructor(options: VirtioBlockOptions) {
    const queueSize = options.queueSize ?? 256;
    super(queueSize, options.clock && { clock: options.clock, maxBytesPerSlice: options.maxBytesPerSlice ?? 64 * 1024 * 1024 });
    const backend = options.backend;
    const readOnly = options.readOnly ?? backend.readOnly;
    const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    const idBytes = new TextEncoder().encode(options.id ?? '');
    if (idBytes.length > VIRTIO_BLK_ID_BYTES) throw new RangeError(`virtio-blk id "${options.id}" is longer than 20 bytes`);
    id.set(idBytes);
    this.backend = backend;
    this.settings = {
      backend,
      capacitySectors: Math.floor(backend.size / SECTOR_SIZE),
      readOnly,
      id,
      maxDiscardSectors: options.maxDiscardSectors ?? 8192,
      maxDiscardSegments: options.maxDiscardSegments ?? 16,
      stats: this.stats,
    };
    let features = featureBit(VIRTIO_BLK_F_FLUSH) | featureBit(VIRTIO_BLK_F_BLK_SIZE) | featureBit(VIRTIO_BLK_F_SEG_MAX);
    features |= readOnly ? featureBit(VIRTIO_BLK_F_RO) : featureBit(VIRTIO_BLK_F_DISCARD);
    this.features = features;

    this.config = new Uint8Array(BlkConfig.size);
    const fields = new DataView(this.config.buffer);
    fields.setBigUint64(BlkConfig.capacity, BigInt(this.settings.capacitySectors), true);
    // Header and status take two descriptors of a chain no longer than the queue.
    fields.setUint32(BlkConfig.segMax, Math.max(1, queueSize - 2), true);
    fields.setUint32(BlkConfig.blkSize, SECTOR_SIZE, true);
    fields.setUint32(BlkConfig.maxDiscardSectors, this.settings.maxDiscardSectors, true);
    fields.setUint32(BlkConfig.maxDiscardSeg, this.settings.maxDiscardSegments, true);
    fields.setUint32(BlkConfig.discardSectorAlignment, 1, true);
  }

  /** Disk size in 512-byte sectors, as in the `capacity` config field. */
  get capacity(): number {
    return this.settings.capacitySectors;
  }

  /**
   * Re-reads the backend's size after the host resized the image, updates `capacity` in config
   * space and tells the driver (Linux's virtio_blk then revalidates the disk size).
   */
  refreshCapacity(): void {
    const capacitySectors = Math.floor(this.backend.size / SECTOR_SIZE);
    if (capacitySectors === this.settings.capacitySectors) return;
    this.settings = { ...this.settings, capacitySectors };
    this.requestContext = null;
    new DataView(this.config.buffer).setBigUint64(BlkConfig.capacity, BigInt(capacitySectors), true);
    this.ctx?.configChanged();
  }

  protected serveRequest(ctx: VirtioDeviceContext, chain: DescriptorChain): number | null {
    this.requestContext ??= { ...this.settings, memory: ctx.memory };
    const used = executeBlockRequest(this.requestContext, chain);
    if (used === null) ctx.error('malformed-request', `virtio-blk chain ${chain.head} has no room for header or status`);
    return used;
  }
}
