// A domain's disk as an asynchronous block back end: its own I/O thread (io-worker.ts) does the
// file I/O, and the answers come back on a MessagePort that the thread holding the board drains
// with `poll()` (the device-model thread never returns to an event loop; it wakes on the doorbell
// the I/O thread rings) or, on a thread with an event loop, also as they arrive (`listen`). Data
// crosses by transfer: a read's bytes are the I/O thread's buffer, a write's the device's piece.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { AsyncBlockBackend, BlockDone } from '@ringvisor/devices';
import { DiskExtentBackend, type DiskExtent } from './disk-extent.js';
import type { DiskIoAnswer, DiskIoInit, DiskIoRequest } from './io-protocol.js';

type Waiter = (error: Error | null, data: Uint8Array | null) => void;

/**
 * How long `close` waits for the I/O thread to close the file (ms). The device has at most one
 * step with it (a piece of at most PIECE_BYTES, or an fsync), so this is a bound, not a delay.
 */
const CLOSE_WAIT_MS = 2000;

export class DiskIo implements AsyncBlockBackend {
  /** The I/O thread's module: tsup's entry next to the bundle that holds this class (device-model.js, worker.js). */
  static threadUrl = new URL('./disk-thread.js', import.meta.url);
  readonly readOnly: boolean;
  private readonly port: MessagePort;
  private readonly waiting = new Map<number, Waiter>();
  private readonly closedWord = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;
  private closed = false;

  /**
   * Opens the file here first, so that a disk that cannot be opened as its access asks (or is shorter than
   * the extent) is refused at once (throws); then starts its I/O thread, which opens its own.
   * `doorbell`: the word the I/O thread rings after each answer (the device-model thread's), or null.
   */
  constructor(readonly extent: DiskExtent, doorbell: SharedArrayBuffer | null) {
    new DiskExtentBackend(extent).close();
    this.readOnly = extent.readOnly;
    const channel = new MessageChannel();
    this.port = channel.port1;
    const init: DiskIoInit = { extent, port: channel.port2, doorbell, closed: this.closedWord.buffer as SharedArrayBuffer };
    // Unreferenced: the thread ends when the file is closed, and never holds its host thread's exit.
    new Worker(DiskIo.threadUrl, { workerData: init, transferList: [channel.port2] }).unref();
  }

  get size(): number {
    return this.extent.size;
  }

  read(offset: number, length: number, done: (error: Error | null, data: Uint8Array | null) => void): void {
    this.send({ id: 0, op: 'read', offset, length }, done);
  }

  write(offset: number, data: Uint8Array, done: BlockDone): void {
    // The piece is the device's own buffer: it moves to the I/O thread rather than being copied.
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
    this.send({ id: 0, op: 'write', offset, data: whole ? data : data.slice() }, (error) => done(error));
  }

  flush(done: BlockDone): void {
    this.send({ id: 0, op: 'flush' }, (error) => done(error));
  }

  discard(offset: number, length: number, done: BlockDone): void {
    this.send({ id: 0, op: 'discard', offset, length }, (error) => done(error));
  }

  /** Takes every answer that has arrived and completes its request; returns how many. */
  poll(): number {
    let count = 0;
    for (;;) {
      const received = receiveMessageOnPort(this.port);
      if (received === undefined) return count;
      this.complete(received.message as DiskIoAnswer);
      count++;
    }
  }

  /** Also completes answers as they arrive on this thread's event loop, then calls `after`. */
  listen(after: () => void): void {
    this.port.on('message', (answer: DiskIoAnswer) => {
      this.complete(answer);
      after();
    });
    this.port.unref();
  }

  /**
   * Closes the file after the requests already sent and ends the I/O thread; later requests fail.
   * Waits (Atomics.wait, bounded) until the file is closed: the thread holding the board may be
   * terminated next, and a descriptor outlives the thread that opened it.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiting.clear();
    this.port.postMessage({ id: 0, op: 'close' } satisfies DiskIoRequest);
    Atomics.wait(this.closedWord, 0, 0, CLOSE_WAIT_MS);
  }

  private send(request: DiskIoRequest, done: Waiter): void {
    if (this.closed) throw new Error(`${this.extent.path}: the disk is closed`);
    const id = this.nextId++;
    this.waiting.set(id, done);
    const message = { ...request, id };
    this.port.postMessage(message, message.op === 'write' ? [message.data.buffer as ArrayBuffer] : []);
  }

  private complete(answer: DiskIoAnswer): void {
    const done = this.waiting.get(answer.id);
    if (!done) return;
    this.waiting.delete(answer.id);
    done(answer.error === null ? null : new Error(answer.error), answer.data ?? null);
  }
}
