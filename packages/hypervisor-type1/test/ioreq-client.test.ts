import { describe, expect, it } from 'vitest';
import { IoreqClient } from '../src/pcpu/ioreq-client.js';
import { CTRL_REQUEST, CTRL_WORDS, DOORBELL_WORDS, LINE_INTR, LINE_POST, LINE_WORDS } from '../src/pcpu/protocol.js';

function client(epochMs = performance.timeOrigin + performance.now()) {
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
  const doorbell = new Int32Array(new SharedArrayBuffer(DOORBELL_WORDS * 4));
  const lines = new Int32Array(new SharedArrayBuffer(LINE_WORDS * 4));
  lines[LINE_POST] = -1;
  const claimed = new Uint8Array(0x10000);
  claimed[0x3f8] = 1;
  for (let port = 0x600; port < 0x60c; port++) claimed[port] = 1;
  claimed[0x80] = 1;
  const c = new IoreqClient(ctrl, doorbell, 1, lines, claimed, [{ base: 0xd0000000, end: 0xd0001000 }], epochMs);
  /** Nothing went to the device-model thread: no request posted, no doorbell rung. */
  const noRequests = () => {
    expect(Atomics.load(ctrl, CTRL_REQUEST)).toBe(0);
    expect(Atomics.load(doorbell, 0)).toBe(0);
  };
  return { c, lines, noRequests };
}

describe('IoreqClient', () => {
  it('answers accesses no device claims on the pCPU, as an undriven bus, without a request', () => {
    const { c, lines, noRequests } = client();
    expect(c.ports.read(0x81, 1)).toBe(0xff);
    expect(c.ports.read(0x3f9, 2)).toBe(0xffff);
    c.ports.write(0xcf8, 4, 0x80000000);
    expect(c.mmio.read(0xf0000, 4)).toBe(0xffffffff);
    c.mmio.write(0xfee00000, 4, 1);
    noRequests();
    expect(c.pending()).toBe(false);
    Atomics.store(lines, LINE_INTR, 1);
    expect(c.pending()).toBe(true);
  });

  it('keeps the POST card latch of port 0x80 in the line block: 0xff before any write, then the last byte', () => {
    const { c, lines, noRequests } = client();
    expect(c.ports.read(0x80, 1)).toBe(0xff);
    c.ports.write(0x80, 1, 0x1234);
    expect(c.ports.read(0x80, 1)).toBe(0x34);
    expect(lines[LINE_POST]).toBe(0x34);
    c.ports.write(0x80, 1, 0);
    expect(c.ports.read(0x80, 1)).toBe(0);
    noRequests();
  });

  it('reads the ACPI PM timer from the domain clock: 3.579545 MHz, 24 bits, the top byte 0', () => {
    // A domain started 2 s ago: about 7.16 M ticks.
    const { c, noRequests } = client(performance.timeOrigin + performance.now() - 2000);
    const first = c.ports.read(0x608, 4);
    expect(first).toBeGreaterThanOrEqual(Math.floor(2 * 3_579_545));
    expect(first).toBeLessThan(Math.floor(2.5 * 3_579_545));
    const second = c.ports.read(0x608, 4);
    expect(second).toBeGreaterThanOrEqual(first);
    expect(c.ports.read(0x60b, 1)).toBe(0);
    const low = c.ports.read(0x608, 2);
    expect(low).toBeLessThanOrEqual(0xffff);
    // After 2^24 ticks (4.69 s) the count wraps.
    const { c: later } = client(performance.timeOrigin + performance.now() - 6000);
    expect(later.ports.read(0x608, 4)).toBeLessThan(2 ** 24);
    expect(later.ports.read(0x608, 4)).toBeGreaterThan(6 * 3_579_545 - 2 ** 24 - 1);
    noRequests();
  });
});
