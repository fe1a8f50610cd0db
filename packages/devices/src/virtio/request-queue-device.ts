// The shape shared by devices with one request queue that they serve synchronously whenever the
// driver notifies it (virtio-blk, virtio-rng): take each chain, answer it, return it used.
import type { DescriptorChain } from './descriptor-chain.js';
import type { VirtioDevice, VirtioDeviceContext } from './device.js';

const REQUEST_QUEUE = 0;

export abstract class RequestQueueDevice implements VirtioDevice {
  abstract readonly deviceId: number;
  abstract readonly features: bigint;
  abstract readonly config: Uint8Array;
  readonly queueSizes: readonly number[];
  protected ctx: VirtioDeviceContext | null = null;

  constructor(queueSize: number) {
    this.queueSizes = [queueSize];
  }

  /**
   * Answers one request: returns how many bytes were written into the chain, or null after
   * reporting (through `ctx.error`) a chain that cannot be answered at all.
   */
  protected abstract serveRequest(ctx: VirtioDeviceContext, chain: DescriptorChain): number | null;

  attach(context: VirtioDeviceContext): void {
    this.ctx = context;
  }

  writeConfig(): void {
    // Configuration fields of these devices are read-only to the driver.
  }

  activate(): void {
    this.serve();
  }

  notify(queueIndex: number): void {
    if (queueIndex === REQUEST_QUEUE) this.serve();
  }

  reset(): void {
    // Requests complete synchronously, so none is in flight to abandon.
  }

  private serve(): void {
    const ctx = this.ctx;
    if (ctx === null || !ctx.active) return;
    const queue = ctx.queues[REQUEST_QUEUE];
    let served = 0;
    // At most one queue's worth per notification: the driver cannot have more outstanding.
    for (; served < queue.size; served++) {
      const chain = queue.pop();
      if (chain === null) break;
      const written = this.serveRequest(ctx, chain);
      if (written === null) break;
      queue.pushUsed(chain, written);
    }
    if (served > 0) ctx.usedBuffersAdded(REQUEST_QUEUE);
  }
}
