// virtio-rng, the entropy device (virtio spec v1.1, section 5.4): device ID 4, one request queue
// of device-writable buffers that the device fills with random bytes from the host's CSPRNG, or
// from a seeded generator for reproducible runs.
import { randomFillSync } from 'node:crypto';
import { VIRTIO_ID_RNG } from '../constants.js';
import { type DescriptorChain, fillSegments } from '../descriptor-chain.js';
import type { VirtioDeviceContext } from '../device.js';
import { RequestQueueDevice } from '../request-queue-device.js';

export interface VirtioRngOptions {
  /** QueueNumMax of the request queue (default 64). */
  readonly queueSize?: number;
  /**
   * Most bytes given per request (default 64 KiB). The spec lets the device fill less than the
   * buffer; the bound keeps a guest from making the host generate gigabytes in one call.
   */
  readonly maxBytesPerRequest?: number;
  /** Where the bytes come from (default: the host's CSPRNG); `seededEntropy(seed)` repeats a run. */
  readonly source?: (into: Uint8Array) => void;
}

const hostEntropy = (into: Uint8Array): void => {
  randomFillSync(into);
};

export class VirtioRng extends RequestQueueDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly features = 0n;
  readonly config = new Uint8Array(0);
  /** Random bytes handed to the guest so far. */
  bytesProvided = 0;
  private readonly maxBytesPerRequest: number;
  private readonly source: (into: Uint8Array) => void;

  constructor(options: VirtioRngOptions = {}) {
    super(options.queueSize ?? 64);
    this.maxBytesPerRequest = options.maxBytesPerRequest ?? 64 * 1024;
    this.source = options.source ?? hostEntropy;
  }

  protected serveRequest(ctx: VirtioDeviceContext, chain: DescriptorChain): number | null {
    const length = Math.min(chain.writableLength, this.maxBytesPerRequest);
    if (!fillSegments(ctx.memory, chain.writable, 0, length, this.source)) {
      ctx.error('buffer-out-of-range', `entropy buffer ${chain.head} is not all guest RAM`);
      return null;
    }
    this.bytesProvided += length;
    return length;
  }
}
