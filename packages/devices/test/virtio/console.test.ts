// virtio-console driven as Linux's virtio_console.c drives a single-port console (hvc0): receive
// buffers kept posted on queue 0, output chains on queue 1. The backend is the UART's.
import { describe, expect, it } from 'vitest';
import { BufferSerialBackend, type SerialBackend } from '../../src/index.js';
import { VIRTIO_STATUS_NEEDS_RESET, VirtioConsole, VirtioMmioTransport } from '../../src/virtio/index.js';
import { IrqRecorder } from '../support/irq.js';
import { BASIC_FEATURES, TestDriver, VIRTQ_DESC_F_NEXT } from './support/driver.js';
import { TestGuestRam } from './support/guest-ram.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

function setup(backend: SerialBackend = new BufferSerialBackend(), options: { inputLimit?: number } = {}) {
  const ram = new TestGuestRam(1 << 20);
  const irq = new IrqRecorder();
  const console = new VirtioConsole({ backend, queueSize: 8, inputLimit: options.inputLimit });
  const transport = new VirtioMmioTransport(console, { memory: ram, irq });
  const driver = new TestDriver(transport, ram);
  return { ram, irq, console, transport, driver, backend };
}

describe('virtio-console', () => {
  it('is device 3 with receiveq and transmitq and offers EMERG_WRITE', () => {
    const { driver } = setup();
    expect(driver.read(0x008)).toBe(3);
    driver.write(0x030, 1);
    expect(driver.read(0x034)).toBe(8);
    driver.write(0x030, 2);
    expect(driver.read(0x034)).toBe(0);
    expect(driver.deviceFeatures() & (1n << 2n)).toBe(1n << 2n);
  });

  it('sends transmit chains to the backend in order and returns them used', () => {
    const { driver, backend, irq } = setup();
    const [, tx] = driver.init(2, { accept: BASIC_FEATURES });
    tx.submit([text('hello, ')], []);
    tx.submit([text('wor'), text('ld\n')], [], { indirect: true });
    tx.kick();
    expect((backend as BufferSerialBackend).text()).toBe('hello, world\n');
    expect(tx.takeUsed().map((u) => u.len)).toEqual([0, 0]);
    expect(irq.level).toBe(true);
  });

  it('holds host input until the guest posts receive buffers, then fills them', () => {
    const { driver, console, backend } = setup();
    const [rx] = driver.init(2, { accept: BASIC_FEATURES });
    expect((backend as BufferSerialBackend).type('ls -l\n')).toBe(6);
    expect(console.pendingInput).toBe(6);
    const a = rx.submit([], [4]);
    const b = rx.submit([], [4]);
    rx.kick();
    expect(rx.takeUsed()).toEqual([{ id: a.head, len: 4 }, { id: b.head, len: 2 }]);
    expect(decode(rx.readWritable(a, 0))).toBe('ls -');
    expect(decode(rx.readWritable(b, 0).subarray(0, 2))).toBe('l\n');
    expect(console.pendingInput).toBe(0);
  });

  it('delivers input at once into buffers already posted', () => {
    const { driver, console, irq } = setup();
    const [rx] = driver.init(2, { accept: BASIC_FEATURES });
    const sub = rx.submit([], [64]);
    rx.kick();
    expect(rx.takeUsed()).toHaveLength(0);
    console.input(text('x'));
    expect(rx.takeUsed()).toEqual([{ id: sub.head, len: 1 }]);
    expect(irq.level).toBe(true);
  });

  it('keeps input typed before DRIVER_OK for the driver', () => {
    const { driver, console } = setup();
    console.input(text('early'));
    const [rx] = driver.init(2, { accept: BASIC_FEATURES });
    const sub = rx.submit([], [16]);
    rx.kick();
    expect(rx.takeUsed()).toEqual([{ id: sub.head, len: 5 }]);
    expect(decode(rx.readWritable(sub, 0).subarray(0, 5))).toBe('early');
  });

  it('bounds queued input, refuses the excess and asks for more once the guest drains half', () => {
    let roomCalls = 0;
    const backend: SerialBackend = { write: (b) => b.length, inputRoom: () => roomCalls++ };
    const { driver, console } = setup(backend, { inputLimit: 8 });
    const [rx] = driver.init(2, { accept: BASIC_FEATURES });
    expect(console.input(text('0123456789'))).toBe(8);
    expect(console.input(text('z'))).toBe(0);
    rx.submit([], [2]);
    rx.kick();
    expect(roomCalls).toBe(0); // 6 left, more than half of 8
    rx.submit([], [2]);
    rx.kick();
    expect(roomCalls).toBe(1);
  });

  it('holds the transmit queue while the backend is full and resumes on writable()', () => {
    let capacity = 5;
    const out: number[] = [];
    let host: { writable(): void } | undefined;
    const backend: SerialBackend = {
      write: (bytes) => {
        const n = Math.min(capacity, bytes.length);
        out.push(...bytes.subarray(0, n));
        capacity -= n;
        return n;
      },
      connect: (port) => {
        host = port;
      },
    };
    const { driver } = setup(backend);
    const [, tx] = driver.init(2, { accept: BASIC_FEATURES });
    tx.submit([text('abcdefgh')], []);
    tx.submit([text('ij')], []);
    tx.kick();
    expect(decode(Uint8Array.from(out))).toBe('abcde');
    expect(tx.takeUsed()).toHaveLength(0);
    capacity = 100;
    host?.writable();
    expect(decode(Uint8Array.from(out))).toBe('abcdefghij');
    expect(tx.takeUsed()).toHaveLength(2);
  });

  it('writes an emergency character from config space', () => {
    const { driver, backend } = setup();
    driver.transport.mmioWrite(0x100 + 8, 4, 0x41);
    expect((backend as BufferSerialBackend).text()).toBe('A');
    expect(driver.readConfig(8, 4)).toBe(0);
  });

  it('puts the device in NEEDS_RESET for a hostile receive chain and keeps the input', () => {
    const { driver, console, transport } = setup();
    const [rx] = driver.init(2, { accept: BASIC_FEATURES });
    rx.writeDesc(0, (1 << 20) - 2, 16, 2, 0);
    rx.publish(0);
    console.input(text('secret'));
    expect(transport.errors.count('buffer-out-of-range')).toBe(1);
    expect(console.pendingInput).toBe(6);
  });

  it('refuses a transmit chain that aliases all of guest RAM many times over, sending none of it', () => {
    // Eight descriptors, each the whole 1 MiB of RAM: one notify would otherwise hand the backend
    // 8 MiB (and a guest with more RAM and a longer queue, gigabytes) inside a single exit.
    const { driver, backend, transport } = setup();
    const [, tx] = driver.init(2, { accept: BASIC_FEATURES });
    for (let i = 0; i < 8; i++) tx.writeDesc(i, 0, 1 << 20, i < 7 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
    tx.publish(0);
    expect(() => tx.kick()).not.toThrow();
    expect((backend as BufferSerialBackend).peek()).toHaveLength(0);
    expect(transport.errors.count('malformed-request')).toBe(1);
    expect(driver.status & VIRTIO_STATUS_NEEDS_RESET).toBe(VIRTIO_STATUS_NEEDS_RESET);
    expect(tx.takeUsed()).toHaveLength(0);
  });

  it('still sends a buffer of exactly the per-buffer limit', () => {
    const backend = new BufferSerialBackend();
    const ram = new TestGuestRam(1 << 20);
    const device = new VirtioConsole({ backend, queueSize: 8, maxBufferBytes: 4096 });
    const transport = new VirtioMmioTransport(device, { memory: ram, irq: new IrqRecorder() });
    const driver = new TestDriver(transport, ram);
    const [, tx] = driver.init(2, { accept: BASIC_FEATURES });
    tx.submit([new Uint8Array(2048).fill(0x61), new Uint8Array(2048).fill(0x62)], []);
    tx.kick();
    expect(backend.peek()).toHaveLength(4096);
    tx.submit([new Uint8Array(4097)], []);
    tx.kick();
    expect(backend.peek()).toHaveLength(4096);
    expect(transport.errors.count('malformed-request')).toBe(1);
  });
});
