// Messages between the hypervisor (main thread) and its device-model thread. The hypervisor's go
// over a MessageChannel the device-model thread drains synchronously (it never returns to an event
// loop: it sleeps on the doorbell); the device-model thread's go to the hypervisor's event loop.
import type { MessagePort } from 'node:worker_threads';
import type { DiskExtent } from '../disk/disk-extent.js';
import type { Extent } from '../memory/frame-pool.js';

export interface DmInit {
  readonly pool: SharedArrayBuffer;
  readonly doorbell: SharedArrayBuffer;
  /** Every pCPU's control block, in pCPU order: the requests it serves. */
  readonly controls: readonly SharedArrayBuffer[];
  /** Where the hypervisor's messages arrive (drained with receiveMessageOnPort). */
  readonly port: MessagePort;
}

/** What builds a domain's board (its devices, their clock, DMA through its p2m), wherever it lives. */
export interface BoardSpec {
  readonly domain: number;
  readonly ramSize: number;
  readonly rtcTime: number;
  readonly epochMs: number;
  readonly lines: SharedArrayBuffer;
  readonly extent: Extent;
  readonly guestFrames: number;
  /** The domain's DMA write log (memory/dma-log.ts), drained by the pCPU that runs its vCPU. */
  readonly dmaLog: SharedArrayBuffer;
  /** The domain's disk, as virtio-blk in the board's first virtio-mmio slot. */
  readonly disk?: DiskExtent;
}

export type ToDm =
  | ({ readonly type: 'create' } & BoardSpec)
  /** Bytes typed at the domain's COM1. */
  | { readonly type: 'input'; readonly domain: number; readonly bytes: Uint8Array }
  /** Press the domain's ACPI power button (xl shutdown). */
  | { readonly type: 'power-button'; readonly domain: number }
  /** Forget the domain's board (destroyed), then answer 'dropped': no DMA reaches its frames after that. */
  | { readonly type: 'drop'; readonly domain: number }
  | { readonly type: 'stop' };

export type FromDm =
  | { readonly type: 'ready' }
  | { readonly type: 'dropped'; readonly domain: number }
  /** COM1 output of a domain. */
  | { readonly type: 'console'; readonly domain: number; readonly bytes: Uint8Array }
  /** The domain's interrupt line rose while its vCPU was blocked (LINE_BLOCKED): schedule it. */
  | { readonly type: 'wake'; readonly domain: number }
  /**
   * A device model failed on an access (answered as an undriven bus), or, `fatal`, the domain's
   * devices could not be built (its disk could not be opened): the domain cannot run.
   */
  | { readonly type: 'error'; readonly domain: number; readonly message: string; readonly fatal?: boolean };
