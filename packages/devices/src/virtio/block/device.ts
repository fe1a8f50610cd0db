// virtio-blk (virtio spec v1.1, section 5.2): device ID 2, one request queue. Requests are served
// synchronously when the driver notifies the queue, against a `BlockBackend`.
import type { Clock } from '@ringvisor/vmm-api';
import { VIRTIO_ID_BLOCK } from '../constants.js';
import type { DescriptorChain } from '../descriptor-chain.js';
import type { VirtioDeviceContext } from '../device.js';
import { RequestQueueDevice } from '../request-queue-device.js';
import type { BlockBackend } from './backend.js';
import { type BlockIdentityOptions, blockIdentity } from './identity.js';
import { BlkConfig, SECTOR_SIZE } from './protocol.js';
import { type BlockRequestContext, executeBlockRequest } from './request.js';
import type { VirtioBlockStats } from './stats.js';

export interface VirtioBlockOptions extends BlockIdentityOptions {
  readonly backend: BlockBackend;
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
  readonly stats: VirtioBlockStats;
  readonly backend: BlockBackend;
  private settings: Omit<BlockRequestContext, 'memory'>;
  /** `settings` plus guest memory, built at the first request after a change (not per request). */
  private requestContext: BlockRequestContext | null = null;

  constructor(options: VirtioBlockOptions) {
    const backend = options.backend;
    const identity = blockIdentity(options, backend.size, backend.readOnly);
    super(identity.queueSize, options.clock && { clock: options.clock, maxBytesPerSlice: options.maxBytesPerSlice ?? 64 * 1024 * 1024 });
    this.backend = backend;
    this.features = identity.features;
    this.config = identity.config;
    this.settings = { ...identity.settings, backend };
    this.stats = identity.settings.stats;
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
