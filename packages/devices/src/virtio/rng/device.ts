// virtio-rng, the entropy device (virtio spec v1.1, section 5.4): device ID 4, one request queue
// of device-writable buffers that the device fills with random bytes from the host's CSPRNG.
import { randomFillSync } from 'node:crypto';
import { VIRTIO_ID_RNG } from '../constants.js';
import { fillSegments } from '../descriptor-chain.js';
import type { VirtioDevice, VirtioDeviceContext } from '../device.js';

const REQUESTQ = 0;

export interface VirtioRngOptions {
  /** QueueNumMax of the request queue (default 64). */
  readonly queueSize?: number;
  /**
   * Most bytes given per request (default 64 KiB). The spec lets the device fill less than the
   * buffer; the bound keeps a guest from making the host generate gigabytes in one call.
   */
  readonly maxBytesPerRequest?: number;
}

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly features = 0n;
  readonly queueSizes: readonly number[];
  readonly config = new Uint8Array(0);
  /** Random bytes handed to the guest so far. */
  bytesProvided = 0;
  private readonly maxBytesPerRequest: number;
  private ctx: VirtioDeviceContext | null = null;

  constructor(options: VirtioRngOptions = {}) {
    this.queueSizes = [options.queueSize ?? 64];
    this.maxBytesPerRequest = options.maxBytesPerRequest ?? 64 * 1024;
  }

  attach(context: VirtioDeviceContext): void {
    this.ctx = context;
  }

  writeConfig(): void {
    // No configuration space.
  }

  activate(): void {
    this.serve();
  }

  notify(queueIndex: number): void {
    if (queueIndex === REQUESTQ) this.serve();
  }

  reset(): void {
    // Nothing is kept between requests.
  }

  private serve(): void {
    const ctx = this.ctx;
    if (ctx === null || !ctx.active) return;
    const queue = ctx.queues[REQUESTQ];
    let served = 0;
    for (; served < queue.size; served++) {
      const chain = queue.pop();
      if (chain === null) break;
      const length = Math.min(chain.writableLength, this.maxBytesPerRequest);
      if (!fillSegments(ctx.memory, chain.writable, 0, length, (into) => randomFillSync(into))) {
        ctx.error('buffer-out-of-range', `entropy buffer ${chain.head} is not all guest RAM`);
        break;
      }
      this.bytesProvided += length;
      queue.pushUsed(chain, length);
    }
    if (served > 0) ctx.usedBuffersAdded(REQUESTQ);
  }
}
