// Byte-array comparison for DMA tests: vitest's deep equality walks typed arrays element by element
// (slow for the large buffers these tests move); this compares natively and names the first
// differing offset when they differ.
import { expect } from 'vitest';

export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  expect.fail(`bytes differ at offset ${i} (lengths ${a.length} and ${b.length}): got ${a[i]}, expected ${b[i]}`);
}
