// The shape shared by devices with one request queue that they serve synchronously whenever the
// driver notifies it (virtio-blk, virtio-rng): take each chain, answer it, return it used.
import type { Clock, TimerId } from '@ringvisor/vmm-api';
import type { DescriptorChain } from './descriptor-chain.js';
import type { VirtioDevice, VirtioDeviceContext } from './device.js';

const REQUEST_QUEUE = 0;

/**
 * Bounds the work one notification does: once the chains served add up to `maxBytesPerSlice`
 * bytes, the rest wait for a timer at the current time, which the run loop fires between vCPU
 * runs. Chain lengths count even where descriptors alias the same RAM, so that is bounded too.
 */
export interface RequestPacing {
  readonly clock: Clock;
  readonly maxBytesPerSlice: number;
}

export abstract class RequestQueueDevice implements VirtioDevice {
  abstract readonly deviceId: number;
  abstract readonly features: bigint;
  abstract readonly config: Uint8Array;
  readonly queueSizes: readonly number[];
  protected ctx: VirtioDeviceContext | null = null;
  private readonly pacing: RequestPacing | undefined;
  /** The timer that serves what the last slice left, or undefined. */
  private continuation: TimerId | undefined;
  private readonly onContinuation = (): void => {
    this.continuation = undefined;
    this.serve();
  };

  constructor(queueSize: number, pacing?: RequestPacing) {
    this.queueSizes = [queueSize];
    this.pacing = pacing;
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
    // Requests complete synchronously, so none is in flight; chains left for later belonged to the old rings.
    if (this.continuation !== undefined) {
      this.pacing?.clock.cancel(this.continuation);
      this.continuation = undefined;
    }
  }

  private serve(): void {
    const ctx = this.ctx;
    if (ctx === null || !ctx.active) return;
    const queue = ctx.queues[REQUEST_QUEUE];
    const budget = this.pacing?.maxBytesPerSlice ?? Infinity;
    let served = 0;
    let bytes = 0;
    // At most one queue's worth per notification: the driver cannot have more outstanding.
    for (; served < queue.size; served++) {
      if (bytes >= budget) {
        this.continueLater();
        break;
      }
      const chain = queue.pop();
      if (chain === null) break;
      const written = this.serveRequest(ctx, chain);
      if (written === null) break;
      queue.pushUsed(chain, written);
      bytes += chain.readableLength + chain.writableLength;
    }
    if (served > 0) ctx.usedBuffersAdded(REQUEST_QUEUE);
  }

  private continueLater(): void {
    const pacing = this.pacing;
    if (pacing === undefined || this.continuation !== undefined) return;
    this.continuation = pacing.clock.schedule(pacing.clock.now(), this.onContinuation);
  }
}
