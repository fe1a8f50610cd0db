// virtio-blk driven as Linux's virtio_blk.c drives it: header, data, status byte.
import { describe, expect, it } from 'vitest';
import {
  MemoryBlockBackend, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_STATUS_NEEDS_RESET,
  VirtioBlock, VirtioMmioTransport, type BlockBackend,
} from '../../src/virtio/index.js';
import { ManualClock } from '../support/clock.js';
import { IrqRecorder } from '../support/irq.js';
import { BASIC_FEATURES, TestDriver, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, bit } from './support/driver.js';
import { expectBytes } from './support/bytes.js';
import { S_IOERR, S_OK, S_UNSUPP, T_DISCARD, T_FLUSH, T_GET_ID, T_IN, T_OUT, header, pattern } from './support/blk-request.js';
import { TestGuestRam } from './support/guest-ram.js';

const F_SEG_MAX = 2;
const F_RO = 5;
const F_BLK_SIZE = 6;
const F_FLUSH = 9;
const F_DISCARD = 13;

function discardSegment(sector: number, sectors: number, flags = 0): Uint8Array {
  const s = new Uint8Array(16);
  const v = new DataView(s.buffer);
  v.setBigUint64(0, BigInt(sector), true);
  v.setUint32(8, sectors, true);
  v.setUint32(12, flags, true);
  return s;
}

interface SetupOptions {
  backend?: BlockBackend;
  views?: boolean;
  hole?: [number, number];
  accept?: bigint;
  readOnly?: boolean;
  id?: string;
}

function setup(options: SetupOptions = {}) {
  const ram = new TestGuestRam(1 << 22, { views: options.views, hole: options.hole });
  const irq = new IrqRecorder();
  const backend = options.backend ?? new MemoryBlockBackend({ size: 64 * 1024 });
  const block = new VirtioBlock({ backend, id: options.id ?? 'rv-disk-0', queueSize: 16, readOnly: options.readOnly });
  const transport = new VirtioMmioTransport(block, { memory: ram, irq });
  const driver = new TestDriver(transport, ram);
  const [queue] = driver.init(1, { accept: options.accept ?? BASIC_FEATURES });
  return { ram, irq, backend, block, transport, driver, queue };
}

/** Submits one request, kicks, and returns the status byte and used length. */
function request(q: ReturnType<typeof setup>['queue'], readable: Uint8Array[], writable: number[], indirect = false) {
  const sub = q.submit(readable, writable, { indirect });
  q.kick();
  const used = q.takeUsed();
  expect(used).toHaveLength(1);
  expect(used[0].id).toBe(sub.head);
  const last = q.readWritable(sub, writable.length - 1);
  return { sub, status: last[last.length - 1], len: used[0].len };
}

describe('virtio-blk configuration', () => {
  it('is device 2 and offers FLUSH, SEG_MAX, BLK_SIZE and DISCARD with VERSION_1', () => {
    const { driver } = setup();
    expect(driver.read(0x008)).toBe(2);
    const features = driver.deviceFeatures();
    for (const f of [F_FLUSH, F_SEG_MAX, F_BLK_SIZE, F_DISCARD, VIRTIO_F_VERSION_1, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX]) {
      expect(features & bit(f)).toBe(bit(f));
    }
    expect(features & bit(F_RO)).toBe(0n);
  });

  it('reports capacity in sectors, seg_max, blk_size and the discard limits in config space', () => {
    const { driver } = setup({ backend: new MemoryBlockBackend({ size: 3 * 512 + 100 }) });
    expect(driver.readConfig(0, 4)).toBe(3);
    expect(driver.readConfig(4, 4)).toBe(0);
    expect(driver.readConfig(12, 4)).toBe(14);
    expect(driver.readConfig(20, 4)).toBe(512);
    expect(driver.readConfig(36, 4)).toBe(8192);
    expect(driver.readConfig(40, 4)).toBe(16);
    expect(driver.readConfig(44, 4)).toBe(1);
    expect(driver.readConfig(0, 1)).toBe(3);
    expect(driver.readConfig(48, 4)).toBe(0); // past the structure
  });

  it('offers RO instead of DISCARD for a read-only disk', () => {
    const { driver } = setup({ readOnly: true });
    const features = driver.deviceFeatures();
    expect(features & bit(F_RO)).toBe(bit(F_RO));
    expect(features & bit(F_DISCARD)).toBe(0n);
  });

  it('refuses an id longer than 20 bytes', () => {
    expect(() => new VirtioBlock({ backend: new MemoryBlockBackend({ size: 512 }), id: 'x'.repeat(21) })).toThrow(RangeError);
  });
});

describe('virtio-blk requests', () => {
  it('writes sectors and reads them back', () => {
    const { queue, backend, block, irq, driver } = setup();
    const data = pattern(1024, 3);
    const w = request(queue, [header(T_OUT, 5), data], [1]);
    expect(w.status).toBe(S_OK);
    expect(w.len).toBe(1);
    expect(irq.level).toBe(true);
    expect(driver.takeInterrupt()).toBe(1);
    expect(irq.level).toBe(false);
    expectBytes((backend as MemoryBlockBackend).data.subarray(5 * 512, 7 * 512), data);

    const r = request(queue, [header(T_IN, 5)], [1024, 1]);
    expect(r.status).toBe(S_OK);
    expect(r.len).toBe(1025);
    expectBytes(queue.readWritable(r.sub, 0), data);
    expect(block.stats).toMatchObject({ reads: 1, writes: 1, bytesRead: 1024, bytesWritten: 1024, ioErrors: 0 });
  });

  it('handles data split over many descriptors, the header split in two, and the status sharing a buffer', () => {
    const { queue, backend } = setup();
    const h = header(T_OUT, 1);
    const data = pattern(1536, 9);
    const w = request(queue, [h.subarray(0, 5), h.subarray(5), data.subarray(0, 100), data.subarray(100, 1000), data.subarray(1000)], [1]);
    expect(w.status).toBe(S_OK);
    expectBytes((backend as MemoryBlockBackend).data.subarray(512, 2048), data);
    // Read with the data's last 12 bytes and the status byte in one writable buffer.
    const r = request(queue, [header(T_IN, 1)], [1524, 13]);
    expect(r.status).toBe(S_OK);
    const back = new Uint8Array([...queue.readWritable(r.sub, 0), ...queue.readWritable(r.sub, 1).subarray(0, 12)]);
    expectBytes(back, data);
  });

  it('serves requests through indirect descriptors', () => {
    const { queue } = setup();
    const data = pattern(512, 1);
    expect(request(queue, [header(T_OUT, 0), data], [1], true).status).toBe(S_OK);
    const r = request(queue, [header(T_IN, 0)], [256, 256, 1], true);
    expect(r.status).toBe(S_OK);
    expectBytes(new Uint8Array([...queue.readWritable(r.sub, 0), ...queue.readWritable(r.sub, 1)]), data);
  });

  it('copies through bounded staging buffers when guest RAM cannot be viewed', () => {
    const { queue, ram } = setup({ views: false, backend: new MemoryBlockBackend({ size: 1 << 20 }) });
    const data = pattern(200 * 1024, 5);
    expect(request(queue, [header(T_OUT, 0), data], [1]).status).toBe(S_OK);
    const r = request(queue, [header(T_IN, 0)], [200 * 1024, 1]);
    expect(r.status).toBe(S_OK);
    expectBytes(queue.readWritable(r.sub, 0), data);
    expect(ram.notified).toHaveLength(0);
  });

  it('announces DMA writes made through views with notifyWrite', () => {
    const { queue, ram } = setup();
    const r = request(queue, [header(T_IN, 0)], [512, 1]);
    expect(r.status).toBe(S_OK);
    expect(ram.notified).toContainEqual([r.sub.writable[0].address, 512]);
  });

  it('answers IOERR for data buffers in a hole of guest RAM, and still writes the status', () => {
    for (const views of [true, false]) {
      const { queue, block, ram, driver } = setup({ views, hole: [0x30_0000, 0x31_0000] });
      const headerAt = driver.alloc(16);
      ram.bytes.set(header(T_IN, 0), headerAt);
      const statusAt = driver.alloc(1);
      queue.writeDesc(0, headerAt, 16, VIRTQ_DESC_F_NEXT, 1);
      queue.writeDesc(1, 0x30_0000, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
      queue.writeDesc(2, statusAt, 1, VIRTQ_DESC_F_WRITE, 0);
      queue.publish(0);
      queue.kick();
      expect(queue.takeUsed()).toEqual([{ id: 0, len: 1 }]);
      expect(ram.bytes[statusAt]).toBe(S_IOERR);
      expect(block.stats.ioErrors).toBe(1);
    }
  });

  it('flushes the backend', () => {
    const { queue, backend, block } = setup();
    expect(request(queue, [header(T_FLUSH, 0)], [1]).status).toBe(S_OK);
    expect((backend as MemoryBlockBackend).flushes).toBe(1);
    expect(block.stats.flushes).toBe(1);
  });

  it('answers GET_ID with the NUL-padded serial', () => {
    const { queue } = setup({ id: 'serial-42' });
    const r = request(queue, [header(T_GET_ID, 0)], [20, 1]);
    expect(r.status).toBe(S_OK);
    expect(r.len).toBe(21);
    const id = queue.readWritable(r.sub, 0);
    expect(new TextDecoder().decode(id.subarray(0, 9))).toBe('serial-42');
    expect([...id.subarray(9)]).toEqual(new Array(11).fill(0));
  });

  it('discards ranges (they read back as zeros) and rejects UNMAP, unknown flags and bad ranges', () => {
    const { queue, backend } = setup();
    const disk = (backend as MemoryBlockBackend).data;
    disk.fill(0xaa);
    expect(request(queue, [header(T_DISCARD, 0), discardSegment(2, 3), discardSegment(10, 1)], [1]).status).toBe(S_OK);
    expect(disk.subarray(2 * 512, 5 * 512).every((b) => b === 0)).toBe(true);
    expect(disk.subarray(10 * 512, 11 * 512).every((b) => b === 0)).toBe(true);
    expect(disk[5 * 512]).toBe(0xaa);
    expect(disk[512]).toBe(0xaa);
    expect(request(queue, [header(T_DISCARD, 0), discardSegment(20, 1, 1)], [1]).status).toBe(S_UNSUPP);
    expect(request(queue, [header(T_DISCARD, 0), discardSegment(20, 1, 4)], [1]).status).toBe(S_UNSUPP);
    expect(request(queue, [header(T_DISCARD, 0), discardSegment(127, 2)], [1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_DISCARD, 0), discardSegment(0, 8193)], [1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_DISCARD, 0), new Uint8Array(10)], [1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_DISCARD, 0)], [1]).status).toBe(S_IOERR);
    const many = Array.from({ length: 17 }, (_, i) => discardSegment(i, 1));
    expect(request(queue, [header(T_DISCARD, 0), ...many.slice(0, 9)], [1]).status).toBe(S_OK);
    expect(request(queue, [header(T_DISCARD, 0), new Uint8Array(many.flatMap((s) => [...s]))], [1]).status).toBe(S_IOERR);
    expect(disk[20 * 512]).toBe(0xaa);
  });

  it('answers IOERR for requests beyond the capacity, including 64-bit sector overflow', () => {
    const { queue, block } = setup(); // 128 sectors
    expect(request(queue, [header(T_IN, 127)], [512, 1]).status).toBe(S_OK);
    expect(request(queue, [header(T_IN, 127)], [1024, 1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_IN, 128)], [512, 1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_OUT, 2 ** 60), new Uint8Array(512)], [1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_IN, 0xffff_ffff_ffff_fff0n)], [512, 1]).status).toBe(S_IOERR);
    expect(block.stats.ioErrors).toBe(4);
  });

  it('answers IOERR for transfers that are not whole sectors', () => {
    const { queue } = setup();
    expect(request(queue, [header(T_IN, 0)], [100, 1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_OUT, 0), new Uint8Array(513)], [1]).status).toBe(S_IOERR);
  });

  it('answers UNSUPP for unknown request types', () => {
    const { queue, block } = setup();
    expect(request(queue, [header(2, 0)], [1]).status).toBe(S_UNSUPP);
    expect(request(queue, [header(0x8000_0000, 0)], [1]).status).toBe(S_UNSUPP);
    expect(block.stats.unsupported).toBe(2);
  });

  it('refuses writes and discards on a read-only disk with IOERR but still reads', () => {
    const { queue, backend } = setup({ readOnly: true, accept: BASIC_FEATURES | bit(F_RO) });
    expect(request(queue, [header(T_OUT, 0), pattern(512, 1)], [1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_DISCARD, 0), discardSegment(0, 1)], [1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_IN, 0)], [512, 1]).status).toBe(S_OK);
    expect((backend as MemoryBlockBackend).data.every((b) => b === 0)).toBe(true);
  });

  it('turns a backend exception into IOERR', () => {
    const failing: BlockBackend = {
      size: 4096, readOnly: false,
      read() { throw new Error('EIO'); },
      write() { throw new Error('EIO'); },
      flush() { throw new Error('EIO'); },
      discard() { throw new Error('EIO'); },
    };
    const { queue, block } = setup({ backend: failing });
    expect(request(queue, [header(T_IN, 0)], [512, 1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_OUT, 0), new Uint8Array(512)], [1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_FLUSH, 0)], [1]).status).toBe(S_IOERR);
    expect(request(queue, [header(T_DISCARD, 0), discardSegment(0, 1)], [1]).status).toBe(S_IOERR);
    expect(block.stats.ioErrors).toBe(4);
  });

  it('serves every request queued before one notification, in order', () => {
    const { queue, backend } = setup();
    const subs = [0, 1, 2, 3].map((i) => queue.submit([header(T_OUT, i), pattern(512, i)], [1]));
    queue.kick();
    expect(queue.takeUsed().map((u) => u.id)).toEqual(subs.map((s) => s.head));
    for (let i = 0; i < 4; i++) expectBytes((backend as MemoryBlockBackend).data.subarray(i * 512, (i + 1) * 512), pattern(512, i));
  });

  it('puts the device in NEEDS_RESET for a chain with no room for a status byte', () => {
    const { queue, transport } = setup();
    queue.submit([header(T_IN, 0)], []);
    queue.kick();
    expect(queue.takeUsed()).toHaveLength(0);
    expect(transport.deviceStatus & VIRTIO_STATUS_NEEDS_RESET).toBe(VIRTIO_STATUS_NEEDS_RESET);
    expect(transport.errors.count('malformed-request')).toBe(1);
  });

  it('puts the device in NEEDS_RESET for a chain shorter than the header', () => {
    const { queue, transport } = setup();
    queue.submit([new Uint8Array(8)], [1]);
    queue.kick();
    expect(queue.takeUsed()).toHaveLength(0);
    expect(transport.errors.count('malformed-request')).toBe(1);
  });
});

describe('virtio-blk work per notification', () => {
  /**
   * Five read requests whose 2 MiB data descriptors all alias the same guest RAM, as a hostile
   * driver can: without a bound, the one QueueNotify exit does 10 MiB of backend I/O.
   */
  function aliasedReads(options: { clock?: ManualClock; maxBytesPerSlice?: number }) {
    const ram = new TestGuestRam(1 << 22);
    const block = new VirtioBlock({ backend: new MemoryBlockBackend({ size: 4 << 20 }), queueSize: 16, ...options });
    const transport = new VirtioMmioTransport(block, { memory: ram, irq: new IrqRecorder() });
    const driver = new TestDriver(transport, ram);
    const [queue] = driver.init(1, { accept: BASIC_FEATURES });
    const statuses: number[] = [];
    for (let r = 0; r < 5; r++) {
      const headerAt = driver.alloc(16);
      ram.bytes.set(header(T_IN, 0), headerAt);
      const statusAt = driver.alloc(1);
      ram.bytes[statusAt] = 0xff;
      statuses.push(statusAt);
      queue.writeDesc(3 * r, headerAt, 16, VIRTQ_DESC_F_NEXT, 3 * r + 1);
      queue.writeDesc(3 * r + 1, 0x20_0000, 2 << 20, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3 * r + 2);
      queue.writeDesc(3 * r + 2, statusAt, 1, VIRTQ_DESC_F_WRITE, 0);
      queue.publish(3 * r);
    }
    return { ram, block, transport, queue, statuses };
  }

  it('serves everything in the notify exit when no clock paces it', () => {
    const { queue, block } = aliasedReads({});
    queue.kick();
    expect(queue.takeUsed()).toHaveLength(5);
    expect(block.stats.bytesRead).toBe(10 << 20);
  });

  it('with a clock, stops after maxBytesPerSlice and serves the rest from a timer', () => {
    const clock = new ManualClock();
    const { queue, block, ram, statuses, transport } = aliasedReads({ clock, maxBytesPerSlice: 4 << 20 });
    queue.kick();
    expect(queue.takeUsed()).toHaveLength(2); // the request that reaches the bound still completes
    expect(block.stats.bytesRead).toBe(4 << 20);
    expect(clock.pendingTimers).toBe(1);
    // The test clock fires timers armed at the current time in the same advance, slice after slice.
    clock.advance(0);
    expect(queue.takeUsed()).toHaveLength(3);
    expect(clock.pendingTimers).toBe(0);
    expect(statuses.map((at) => ram.bytes[at])).toEqual([S_OK, S_OK, S_OK, S_OK, S_OK]);
    expect(transport.errors.total).toBe(0);
  });

  it('drops the pending continuation when the driver resets the device', () => {
    const clock = new ManualClock();
    const { queue, transport } = aliasedReads({ clock, maxBytesPerSlice: 4 << 20 });
    queue.kick();
    expect(clock.pendingTimers).toBe(1);
    transport.mmioWrite(0x070, 4, 0);
    expect(clock.pendingTimers).toBe(0);
  });
});

