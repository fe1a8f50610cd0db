// virtio-blk (virtio spec v1.1, section 5.2) over an asynchronous back end: a notify only starts
// work, and a request completes (status byte, used ring, interrupt) when the host's I/O does, so
// the thread holding the device never waits for the host disk. Requests are served one at a time
// in ring order, each as a sequence of back-end steps (async-request.ts); a driver may not assume
// a request completes before its notify returns (section 2.7.13), so this is the same device as
// `VirtioBlock` to a conforming driver.
import { VIRTIO_ID_BLOCK } from '../constants.js';
import type { DescriptorChain } from '../descriptor-chain.js';
import type { VirtioDevice, VirtioDeviceContext } from '../device.js';
import type { AsyncBlockBackend } from './async-backend.js';
import { type BlockStep, type BlockSteps, requestSteps } from './async-request.js';
import { type BlockIdentityOptions, blockIdentity } from './identity.js';
import {
  type BlockRequestSettings, IOERR, type Outcome, completeRequest, headerSector, headerType, readHeader,
} from './request.js';
import type { VirtioBlockStats } from './stats.js';

const REQUEST_QUEUE = 0;

export interface AsyncVirtioBlockOptions extends BlockIdentityOptions {
  readonly backend: AsyncBlockBackend;
  /**
   * Called when a request has written data into guest RAM, before the driver can see it complete:
   * the device writes the status byte and the used ring only when `publish` is called. A host whose
   * guest CPU keeps code decoded from RAM elsewhere (another thread) calls it once that CPU has
   * dropped what it decoded from the frames written, so a polling driver never runs stale code.
   * Default: at once.
   */
  readonly beforeCompletion?: (publish: () => void) => void;
}

interface InFlight {
  readonly chain: DescriptorChain;
  readonly steps: BlockSteps;
  /** ready: the next step may go; waiting: a step is with the back end; publishing: done, not yet visible. */
  state: 'ready' | 'waiting' | 'publishing';
  /** What the last step returned (a read's bytes), or a failure that ends the request with IOERR. */
  result: Uint8Array | null;
  failed: boolean;
}

export class AsyncVirtioBlock implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly features: bigint;
  readonly config: Uint8Array;
  readonly queueSizes: readonly number[];
  readonly stats: VirtioBlockStats;
  readonly backend: AsyncBlockBackend;
  private readonly settings: Omit<BlockRequestSettings, 'memory'>;
  private readonly beforeCompletion: ((publish: () => void) => void) | undefined;
  private ctx: VirtioDeviceContext | null = null;
  private requestContext: BlockRequestSettings | null = null;
  private current: InFlight | null = null;
  /** Bumped by a reset: completions of steps issued before it are dropped (their chains belong to old rings). */
  private generation = 0;
  /** True inside `drive`: a back end that completes in the call resumes the loop instead of nesting it. */
  private driving = false;
  /**
   * Steps with the back end, this generation's or an older one's. A new step waits until it is 0,
   * so a driver that resets and resubmits in a loop cannot pile up work at the back end.
   */
  private outstanding = 0;

  constructor(options: AsyncVirtioBlockOptions) {
    const backend = options.backend;
    const identity = blockIdentity(options, backend.size, backend.readOnly);
    this.backend = backend;
    this.features = identity.features;
    this.config = identity.config;
    this.queueSizes = [identity.queueSize];
    this.settings = identity.settings;
    this.stats = identity.settings.stats;
    this.beforeCompletion = options.beforeCompletion;
  }

  /** True while a request is with the back end or waiting to be published. */
  get busy(): boolean {
    return this.current !== null;
  }

  attach(context: VirtioDeviceContext): void {
    this.ctx = context;
    this.requestContext = null;
  }

  writeConfig(): void {
    // Configuration fields of virtio-blk are read-only to the driver.
  }

  activate(): void {
    this.drive();
  }

  notify(queueIndex: number): void {
    if (queueIndex === REQUEST_QUEUE) this.drive();
  }

  reset(): void {
    // A step still with the back end completes into nothing: the driver's rings are gone.
    this.generation++;
    this.current = null;
  }

  /** Takes chains and runs their steps until one waits for the back end or the queue is empty. */
  private drive(): void {
    if (this.driving) return;
    this.driving = true;
    try {
      for (;;) {
        const ctx = this.ctx;
        if (ctx === null || !ctx.active) return;
        let request = this.current;
        if (request === null) {
          const chain = ctx.queues[REQUEST_QUEUE].pop();
          if (chain === null) return;
          if (!readHeader(ctx.memory, chain)) {
            ctx.error('malformed-request', `virtio-blk chain ${chain.head} has no room for header or status`);
            return;
          }
          this.requestContext ??= { ...this.settings, memory: ctx.memory };
          const steps = requestSteps(this.requestContext, chain, headerType(), headerSector());
          request = { chain, steps, state: 'ready', result: null, failed: false };
          this.current = request;
        }
        if (request.state !== 'ready' || this.outstanding > 0) return;
        if (request.failed) {
          this.finish(ctx, request, IOERR);
          continue;
        }
        const step = request.steps.next(request.result);
        request.result = null;
        if (step.done === true) {
          this.finish(ctx, request, step.value);
          continue;
        }
        request.state = 'waiting';
        this.issue(request, step.value);
      }
    } finally {
      this.driving = false;
    }
  }

  /** Hands `step` to the back end; its completion (now or later) resumes the request. */
  private issue(request: InFlight, step: BlockStep): void {
    const generation = this.generation;
    let answered = false;
    const done = (error: Error | null, data: Uint8Array | null = null): void => {
      if (answered) return;
      answered = true;
      this.outstanding--;
      if (generation !== this.generation || this.current !== request) {
        this.drive(); // a request of the new rings may have waited for this stale step
        return;
      }
      request.state = 'ready';
      request.failed = error !== null;
      request.result = data;
      this.drive();
    };
    const backend = this.backend;
    this.outstanding++;
    try {
      switch (step.kind) {
        case 'read': backend.read(step.offset, step.length, done); break;
        case 'write': backend.write(step.offset, step.data, done); break;
        case 'flush': backend.flush(done); break;
        case 'discard': backend.discard(step.offset, step.length, done); break;
      }
    } catch (error) {
      done(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Writes the status byte and returns the chain used, once the data written is safe to see. */
  private finish(ctx: VirtioDeviceContext, request: InFlight, outcome: Outcome): void {
    const publish = (): void => {
      if (this.current !== request) return;
      this.current = null;
      if (!ctx.active) return;
      const used = completeRequest(this.requestContext!, request.chain, outcome);
      if (used === null) {
        ctx.error('malformed-request', `virtio-blk chain ${request.chain.head}: its status byte cannot be written`);
        return;
      }
      ctx.queues[REQUEST_QUEUE].pushUsed(request.chain, used);
      ctx.usedBuffersAdded(REQUEST_QUEUE);
      this.drive();
    };
    if (outcome.dataWritten > 0 && this.beforeCompletion) {
      request.state = 'publishing';
      this.beforeCompletion(publish);
    } else {
      publish();
    }
  }
}
