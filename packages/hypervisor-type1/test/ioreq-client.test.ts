import { describe, expect, it } from 'vitest';
import { IoreqClient } from '../src/pcpu/ioreq-client.js';
import { CTRL_REQUEST, CTRL_WORDS, LINE_INTR, LINE_WORDS } from '../src/pcpu/protocol.js';

describe('IoreqClient', () => {
  it('answers accesses no device claims on the pCPU, as an undriven bus, without a request', () => {
    const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
    const lines = new Int32Array(new SharedArrayBuffer(LINE_WORDS * 4));
    const claimed = new Uint8Array(0x10000);
    claimed[0x3f8] = 1;
    const client = new IoreqClient(ctrl, 1, lines, claimed, [{ base: 0xd0000000, end: 0xd0001000 }]);
    expect(client.ports.read(0x80, 1)).toBe(0xff);
    expect(client.ports.read(0x3f9, 2)).toBe(0xffff);
    client.ports.write(0xcf8, 4, 0x80000000);
    expect(client.mmio.read(0xf0000, 4)).toBe(0xffffffff);
    client.mmio.write(0xfee00000, 4, 1);
    expect(Atomics.load(ctrl, CTRL_REQUEST)).toBe(0);
    expect(client.pending()).toBe(false);
    Atomics.store(lines, LINE_INTR, 1);
    expect(client.pending()).toBe(true);
  });
});
