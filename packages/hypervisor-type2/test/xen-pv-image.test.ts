import { describe, expect, it } from 'vitest';
import { readGuestImage } from '@ringvisor/guests';
import { hasXenNotes } from '../src/index.js';

describe('Xen PV kernel detection', () => {
  it('recognises the PV build of the minikernel and nothing else bundled', () => {
    expect(hasXenNotes(readGuestImage('minikernel-pv'))).toBe(true);
    for (const name of ['minikernel', 'hello', 'demo'] as const) expect(hasXenNotes(readGuestImage(name))).toBe(false);
  });

  it('survives truncated and garbled headers', () => {
    const image = readGuestImage('minikernel-pv');
    for (const length of [0, 4, 51, 52, 100, 200]) expect(hasXenNotes(image.subarray(0, length))).toBe(false);
    const garbled = image.slice();
    new DataView(garbled.buffer).setUint32(28, 0xfffffff0, true);
    expect(hasXenNotes(garbled)).toBe(false);
  });
});
