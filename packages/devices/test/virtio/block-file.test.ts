// virtio-blk on a real host file: what the guest writes lands in the image, flush reaches fsync(2).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileBlockBackend, VirtioBlock, VirtioMmioTransport } from '../../src/virtio/index.js';
import { IrqRecorder } from '../support/irq.js';
import { BASIC_FEATURES, type DriverQueue, TestDriver } from './support/driver.js';
import { expectBytes } from './support/bytes.js';
import { TestGuestRam } from './support/guest-ram.js';

const T_IN = 0;
const T_OUT = 1;
const T_FLUSH = 4;
const T_DISCARD = 11;
const F_RO = 1n << 5n;

function header(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  new DataView(h.buffer).setUint32(0, type, true);
  new DataView(h.buffer).setBigUint64(8, BigInt(sector), true);
  return h;
}

function status(queue: DriverQueue, readable: Uint8Array[], writable: number[]): { status: number; data: Uint8Array } {
  const sub = queue.submit(readable, writable);
  queue.kick();
  expect(queue.takeUsed()).toHaveLength(1);
  const last = queue.readWritable(sub, writable.length - 1);
  return { status: last[last.length - 1], data: writable.length > 1 ? queue.readWritable(sub, 0) : new Uint8Array(0) };
}

let dir: string;
let image: string;
let backend: FileBlockBackend | null = null;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-virtio-blk-'));
  image = path.join(dir, 'disk.img');
});

afterEach(() => {
  backend?.close();
  backend = null;
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

function attach(options: { readOnly?: boolean } = {}) {
  backend = new FileBlockBackend(image, options);
  const ram = new TestGuestRam(1 << 20);
  const block = new VirtioBlock({ backend, queueSize: 16 });
  const transport = new VirtioMmioTransport(block, { memory: ram, irq: new IrqRecorder() });
  const driver = new TestDriver(transport, ram);
  const [queue] = driver.init(1, { accept: driver.deviceFeatures() & (BASIC_FEATURES | F_RO) });
  return { block, queue, driver };
}

describe('FileBlockBackend under virtio-blk', () => {
  it('sizes the disk from the file and reads what the host put there', () => {
    const contents = Buffer.alloc(8 * 512);
    contents.write('hello from the host', 3 * 512);
    fs.writeFileSync(image, contents);
    const { block, driver, queue } = attach();
    expect(block.capacity).toBe(8);
    expect(driver.readConfig(0, 4)).toBe(8);
    const r = status(queue, [header(T_IN, 3)], [512, 1]);
    expect(r.status).toBe(0);
    expect(Buffer.from(r.data).toString('latin1', 0, 19)).toBe('hello from the host');
  });

  it('writes the guest image into the host file', () => {
    fs.writeFileSync(image, Buffer.alloc(16 * 512));
    const { queue } = attach();
    const data = Uint8Array.from({ length: 2048 }, (_, i) => (i * 13) & 0xff);
    expect(status(queue, [header(T_OUT, 4), data], [1]).status).toBe(0);
    const onDisk = fs.readFileSync(image);
    expectBytes(onDisk.subarray(4 * 512, 8 * 512), data);
    expect(onDisk.subarray(0, 4 * 512).every((b) => b === 0)).toBe(true);
    expect(onDisk.length).toBe(16 * 512);
  });

  it('carries a flush to fsync(2) on the image', () => {
    fs.writeFileSync(image, Buffer.alloc(4 * 512));
    const { queue } = attach();
    const fsync = vi.spyOn(fs, 'fsyncSync');
    expect(status(queue, [header(T_FLUSH, 0)], [1]).status).toBe(0);
    expect(fsync).toHaveBeenCalledTimes(1);
    const fd = fsync.mock.calls[0][0];
    expect(fs.fstatSync(fd).ino).toBe(fs.statSync(image).ino);
  });

  it('zeroes discarded sectors in the file', () => {
    fs.writeFileSync(image, Buffer.alloc(8 * 512, 0xee));
    const { queue } = attach();
    const segment = new Uint8Array(16);
    new DataView(segment.buffer).setBigUint64(0, 2n, true);
    new DataView(segment.buffer).setUint32(8, 3, true);
    expect(status(queue, [header(T_DISCARD, 0), segment], [1]).status).toBe(0);
    const onDisk = fs.readFileSync(image);
    expect(onDisk.subarray(2 * 512, 5 * 512).every((b) => b === 0)).toBe(true);
    expect(onDisk[512]).toBe(0xee);
    expect(onDisk[5 * 512]).toBe(0xee);
  });

  it('answers IOERR beyond the end of the file without growing it', () => {
    fs.writeFileSync(image, Buffer.alloc(4 * 512));
    const { queue } = attach();
    expect(status(queue, [header(T_OUT, 4), new Uint8Array(512)], [1]).status).toBe(1);
    expect(status(queue, [header(T_IN, 3)], [1024, 1]).status).toBe(1);
    expect(fs.statSync(image).size).toBe(4 * 512);
  });

  it('opens read-only images read-only, offers VIRTIO_BLK_F_RO and refuses writes', () => {
    fs.writeFileSync(image, Buffer.alloc(4 * 512, 0x11));
    fs.chmodSync(image, 0o444);
    const { queue, driver } = attach({ readOnly: true });
    expect(driver.deviceFeatures() & F_RO).toBe(F_RO);
    expect(status(queue, [header(T_OUT, 0), new Uint8Array(512)], [1]).status).toBe(1);
    expect(status(queue, [header(T_IN, 0)], [512, 1]).data[0]).toBe(0x11);
    expect(fs.readFileSync(image)[0]).toBe(0x11);
  });

  it('answers IOERR once the backend is closed', () => {
    fs.writeFileSync(image, Buffer.alloc(4 * 512));
    const { queue } = attach();
    backend?.close();
    expect(status(queue, [header(T_IN, 0)], [512, 1]).status).toBe(1);
    expect(status(queue, [header(T_FLUSH, 0)], [1]).status).toBe(1);
  });

  it('picks up a host-side resize with refreshSize and refreshCapacity', () => {
    fs.writeFileSync(image, Buffer.alloc(4 * 512));
    const { block, driver } = attach();
    fs.truncateSync(image, 10 * 512);
    backend?.refreshSize();
    block.refreshCapacity();
    expect(driver.readConfig(0, 4)).toBe(10);
  });

  it('throws from the constructor when the image does not exist (a host configuration error)', () => {
    expect(() => new FileBlockBackend(path.join(dir, 'missing.img'))).toThrow();
  });
});
