// Messages between a board's disk client (disk-io.ts) and the disk's I/O thread (io-worker.ts).
import type { MessagePort } from 'node:worker_threads';
import type { DiskExtent } from './disk-extent.js';

export interface DiskIoInit {
  readonly extent: DiskExtent;
  /** Where requests arrive and answers go. */
  readonly port: MessagePort;
  /** A word to bump and notify after each answer (the device-model thread's doorbell), or null. */
  readonly doorbell: SharedArrayBuffer | null;
  /** A word set to 1 (and notified) once the file is closed: the client waits for it. */
  readonly closed: SharedArrayBuffer;
}

export type DiskIoRequest =
  | { readonly id: number; readonly op: 'read'; readonly offset: number; readonly length: number }
  | { readonly id: number; readonly op: 'write'; readonly offset: number; readonly data: Uint8Array }
  | { readonly id: number; readonly op: 'flush' }
  | { readonly id: number; readonly op: 'discard'; readonly offset: number; readonly length: number }
  /** Close the file and end the thread (after the requests before it). */
  | { readonly id: number; readonly op: 'close' };

/** The answer to request `id`: the error's message, or null and (for a read) the bytes. */
export interface DiskIoAnswer {
  readonly id: number;
  readonly error: string | null;
  readonly data?: Uint8Array;
}
