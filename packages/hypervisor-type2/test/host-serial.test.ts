import { describe, expect, it } from 'vitest';
import type { SerialHostPort } from '@ringvisor/devices';
import { HostSerial } from '../src/host-serial.js';
import { SerialBuffer } from '../src/serial-buffer.js';

/** A UART input queue of `size` bytes that the test drains like a guest reading RBR. */
function uart(size: number) {
  const queue: number[] = [];
  const port: SerialHostPort = {
    input: (bytes) => {
      const n = Math.min(bytes.length, size - queue.length);
      queue.push(...bytes.subarray(0, n));
      return n;
    },
    writable: () => {},
  };
  return { port, queue };
}

describe('HostSerial', () => {
  it('passes guest output to the buffer the session posts', () => {
    const out = new SerialBuffer();
    const serial = new HostSerial(out);
    expect(serial.write(Buffer.from('hi\r\n'))).toBe(4);
    expect(Buffer.from(out.take()!).toString()).toBe('hi\r\n');
    expect(out.take()).toBeNull();
  });

  it('holds a paste the UART cannot take yet and offers it again in order', () => {
    const serial = new HostSerial(new SerialBuffer());
    const { port, queue } = uart(16);
    serial.connect(port);
    serial.input(Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'));
    expect(queue.length).toBe(16);
    const read = queue.splice(0);
    serial.inputRoom();
    read.push(...queue.splice(0));
    serial.inputRoom();
    read.push(...queue.splice(0));
    expect(Buffer.from(read).toString()).toBe('0123456789abcdefghijklmnopqrstuvwxyz');
    expect(serial.dropped).toBe(0);
  });

  it('drops a flood beyond its bound instead of growing without end', () => {
    const serial = new HostSerial(new SerialBuffer());
    const { port } = uart(16);
    serial.connect(port);
    for (let i = 0; i < 100; i++) serial.input(new Uint8Array(4096));
    expect(serial.dropped).toBe(100 * 4096 - 16 - 64 * 1024);
  });
});
