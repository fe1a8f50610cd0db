// virtio-blk over an asynchronous back end: a notify only starts a request, which completes when
// the host's operation does; one step at a time, in pieces; resets, failures and hostile chains.
import { describe, expect, it } from 'vitest';
import {
  AsyncVirtioBlock, PIECE_BYTES, VIRTIO_STATUS_NEEDS_RESET, VirtioMmioTransport, type AsyncBlockBackend,
} from '../../src/virtio/index.js';
import { IrqRecorder } from '../support/irq.js';
import { BASIC_FEATURES, TestDriver } from './support/driver.js';
import { expectBytes } from './support/bytes.js';
import { S_IOERR, S_OK, T_FLUSH, T_GET_ID, T_IN, T_OUT, header, pattern } from './support/blk-request.js';
import { TestGuestRam } from './support/guest-ram.js';


/** An in-memory disk whose operations wait in `pending` until the test completes them (or completes them at once). */
class ManualBackend implements AsyncBlockBackend {
  readonly readOnly = false;
  readonly data: Uint8Array;
  readonly pending: { op: string; offset: number; length: number; complete: (error?: Error) => void }[] = [];
  flushes = 0;
  constructor(size: number, private readonly immediate = false) {
    this.data = new Uint8Array(size);
  }
  get size(): number {
    return this.data.length;
  }
  private queue(op: string, offset: number, length: number, act: () => Uint8Array | null, done: (e: Error | null, d: Uint8Array | null) => void): void {
    const complete = (error?: Error) => done(error ?? null, error ? null : act());
    if (this.immediate) complete();
    else this.pending.push({ op, offset, length, complete });
  }
  read(offset: number, length: number, done: (error: Error | null, data: Uint8Array | null) => void): void {
    this.queue('read', offset, length, () => this.data.slice(offset, offset + length), done);
  }
  write(offset: number, data: Uint8Array, done: (error: Error | null) => void): void {
    this.queue('write', offset, data.length, () => { this.data.set(data, offset); return null; }, done);
  }
  flush(done: (error: Error | null) => void): void {
    this.queue('flush', 0, 0, () => { this.flushes++; return null; }, done);
  }
  discard(offset: number, length: number, done: (error: Error | null) => void): void {
    this.queue('discard', offset, length, () => { this.data.fill(0, offset, offset + length); return null; }, done);
  }
  /** Completes every waiting operation, and those they lead to, in order. */
  drain(): number {
    let n = 0;
    while (this.pending.length > 0) {
      this.pending.shift()!.complete();
      n++;
    }
    return n;
  }
}

function setup(backend: AsyncBlockBackend = new ManualBackend(4 << 20), beforeCompletion?: (publish: () => void) => void) {
  const ram = new TestGuestRam(1 << 23);
  const irq = new IrqRecorder();
  const block = new AsyncVirtioBlock({ backend, id: 'rv-async', queueSize: 16, ...(beforeCompletion ? { beforeCompletion } : {}) });
  const transport = new VirtioMmioTransport(block, { memory: ram, irq });
  const driver = new TestDriver(transport, ram);
  const [queue] = driver.init(1, { accept: BASIC_FEATURES });
  return { ram, irq, block, transport, driver, queue };
}

describe('virtio-blk over an asynchronous back end', () => {
  it('completes a request when the back end does, not at the notify: the used ring, status and interrupt come then', () => {
    const backend = new ManualBackend(64 * 1024);
    const { queue, irq, block } = setup(backend);
    const data = pattern(1024, 3);
    const w = queue.submit([header(T_OUT, 5), data], [1]);
    queue.kick();
    expect(queue.takeUsed()).toEqual([]);
    expect(irq.level).toBe(false);
    expect(block.busy).toBe(true);
    expect(backend.pending.map((p) => [p.op, p.offset, p.length])).toEqual([['write', 5 * 512, 1024]]);
    backend.drain();
    expect(queue.takeUsed()).toEqual([{ id: w.head, len: 1 }]);
    expect(queue.readWritable(w, 0)[0]).toBe(S_OK);
    expect(irq.level).toBe(true);
    expectBytes(backend.data.subarray(5 * 512, 7 * 512), data);

    const r = queue.submit([header(T_IN, 5)], [1024, 1]);
    queue.kick();
    expect(queue.readWritable(r, 0)).toEqual(new Uint8Array(1024)); // nothing lands before the back end answers
    backend.drain();
    expect(queue.takeUsed()).toEqual([{ id: r.head, len: 1025 }]);
    expectBytes(queue.readWritable(r, 0), data);
    expect(queue.readWritable(r, 1)[0]).toBe(S_OK);
    expect(block.stats).toMatchObject({ reads: 1, writes: 1, bytesRead: 1024, bytesWritten: 1024, ioErrors: 0 });
    expect(block.busy).toBe(false);
  });

  it('serves requests one at a time in ring order, a long one in pieces of at most PIECE_BYTES', () => {
    const backend = new ManualBackend(4 << 20);
    backend.data.set(pattern(1 << 20, 11), 0);
    const { queue } = setup(backend);
    const big = PIECE_BYTES * 2 + 4096;
    const r = queue.submit([header(T_IN, 0)], [big, 1]);
    const f = queue.submit([header(T_FLUSH, 0)], [1]);
    const id = queue.submit([header(T_GET_ID, 0)], [20, 1]);
    queue.kick();
    const seen: [string, number, number][] = [];
    while (backend.pending.length > 0) {
      expect(backend.pending).toHaveLength(1); // never two steps at once
      const next = backend.pending.shift()!;
      seen.push([next.op, next.offset, next.length]);
      next.complete();
    }
    expect(seen).toEqual([['read', 0, PIECE_BYTES], ['read', PIECE_BYTES, PIECE_BYTES], ['read', 2 * PIECE_BYTES, 4096], ['flush', 0, 0]]);
    expect(queue.takeUsed().map((u) => u.id)).toEqual([r.head, f.head, id.head]);
    expectBytes(queue.readWritable(r, 0), backend.data.subarray(0, big));
    expect(new TextDecoder().decode(queue.readWritable(id, 0)).replace(/\0+$/, '')).toBe('rv-async');
    expect(backend.flushes).toBe(1);
  });

  it('gives the same answers when the back end completes in the call, for a full queue', () => {
    const backend = new ManualBackend(64 * 1024, true);
    const { queue, block } = setup(backend);
    const subs = Array.from({ length: 5 }, (_, i) => queue.submit([header(T_OUT, i * 2), pattern(1024, i)], [1]));
    queue.kick();
    expect(queue.takeUsed().map((u) => u.id)).toEqual(subs.map((s) => s.head));
    for (let i = 0; i < 5; i++) expectBytes(backend.data.subarray(i * 1024, (i + 1) * 1024), pattern(1024, i));
    expect(block.busy).toBe(false);
  });

  it('answers IOERR for a failed or throwing back end and for sectors past the disk (which never reach it)', () => {
    const backend = new ManualBackend(64 * 1024);
    const { queue, block } = setup(backend);
    const failed = queue.submit([header(T_IN, 0)], [512, 1]);
    queue.kick();
    backend.pending.shift()!.complete(new Error('EIO'));
    expect(queue.takeUsed()).toEqual([{ id: failed.head, len: 1 }]);
    expect(queue.readWritable(failed, 1)[0]).toBe(S_IOERR);
    const past = queue.submit([header(T_IN, 128)], [512, 1]);
    queue.kick();
    expect(backend.pending).toHaveLength(0);
    expect(queue.takeUsed()).toEqual([{ id: past.head, len: 1 }]);
    expect(queue.readWritable(past, 1)[0]).toBe(S_IOERR);
    const throwing: AsyncBlockBackend = {
      size: 4096, readOnly: false,
      read: () => { throw new Error('closed'); }, write: () => { throw new Error('closed'); },
      flush: () => { throw new Error('closed'); }, discard: () => { throw new Error('closed'); },
    };
    const other = setup(throwing);
    const t = other.queue.submit([header(T_OUT, 0), pattern(512, 1)], [1]);
    other.queue.kick();
    expect(other.queue.readWritable(t, 0)[0]).toBe(S_IOERR);
    expect(block.stats.ioErrors).toBe(2);
  });

  it('drops what completes after a reset: the old buffers stay untouched, the new rings work', () => {
    const backend = new ManualBackend(64 * 1024);
    backend.data.fill(0xaa, 0, 512);
    const { queue, driver } = setup(backend);
    const r = queue.submit([header(T_IN, 0)], [512, 1]);
    queue.kick();
    const late = backend.pending.shift()!;
    driver.write(0x070, 0); // status 0: reset
    late.complete();
    late.complete(); // a back end that answers twice changes nothing either
    expect(queue.readWritable(r, 0)).toEqual(new Uint8Array(512));
    expect(queue.usedIdx).toBe(0);
    const [again] = driver.init(1, { accept: BASIC_FEATURES });
    const r2 = again.submit([header(T_IN, 0)], [512, 1]);
    again.kick();
    backend.drain();
    expect(again.takeUsed()).toEqual([{ id: r2.head, len: 513 }]);
    expect(again.readWritable(r2, 0)).toEqual(new Uint8Array(512).fill(0xaa));
  });

  it('after a reset, issues nothing more until the stale step is answered: a reset loop cannot pile up host work', () => {
    const backend = new ManualBackend(64 * 1024);
    const { queue, driver } = setup(backend);
    queue.submit([header(T_IN, 0)], [512, 1]);
    queue.kick();
    const stale = backend.pending.shift()!;
    driver.write(0x070, 0);
    const [again] = driver.init(1, { accept: BASIC_FEATURES });
    const r = again.submit([header(T_IN, 1)], [512, 1]);
    again.kick();
    expect(backend.pending).toHaveLength(0);
    stale.complete();
    expect(backend.pending.map((p) => [p.op, p.offset])).toEqual([['read', 512]]);
    backend.drain();
    expect(again.takeUsed()).toEqual([{ id: r.head, len: 513 }]);
  });

  it('writes the data first and publishes the status and used ring only when the host says the guest CPU is coherent', () => {
    const backend = new ManualBackend(64 * 1024);
    backend.data.fill(0x5c, 0, 512);
    const waiting: (() => void)[] = [];
    const { queue, irq } = setup(backend, (publish) => waiting.push(publish));
    const r = queue.submit([header(T_IN, 0)], [512, 1]);
    queue.kick();
    backend.drain();
    expect(queue.readWritable(r, 0)).toEqual(new Uint8Array(512).fill(0x5c)); // the DMA happened...
    expect(queue.readWritable(r, 1)[0]).toBe(0); // ...but no status,
    expect(queue.takeUsed()).toEqual([]); // no used entry,
    expect(irq.level).toBe(false); // no interrupt yet
    expect(waiting).toHaveLength(1);
    // A write (no data to the guest) behind it waits for the read's publication, then goes at once.
    const w = queue.submit([header(T_OUT, 1), pattern(512, 2)], [1]);
    queue.kick();
    expect(backend.pending).toHaveLength(0);
    waiting.shift()!();
    expect(queue.readWritable(r, 1)[0]).toBe(S_OK);
    backend.drain();
    expect(queue.takeUsed().map((u) => u.id)).toEqual([r.head, w.head]);
    expect(waiting).toHaveLength(0);
    expect(irq.level).toBe(true);
  });

  it('puts the device in NEEDS_RESET for a chain with no room for a status byte, as the synchronous device does', () => {
    const { queue, transport } = setup();
    queue.submit([header(T_IN, 0)], []);
    queue.kick();
    expect(transport.deviceStatus & VIRTIO_STATUS_NEEDS_RESET).toBe(VIRTIO_STATUS_NEEDS_RESET);
  });
});
