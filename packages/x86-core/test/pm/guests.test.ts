import { describe, expect, it } from 'vitest';
import { hex, runGuest } from './machine.js';

describe('protected-mode guests', () => {
  it('segments: entering protected mode, descriptor queries, LDT, expand-down, limits, accessed bits', () => {
    const run = runGuest('segments');
    expect(hex(run.reports)).toEqual(hex([
      0x60000011, 0x28, 0, 0xff,
      0x00cf9b00, 1, 0x00008b00, 1, 0, 0xffffffff, 0x2068,
      1, 0, 1, 1, 0x13,
      0x30, 0x12345678,
      0xabcd, 13, 0,
      0x92, 0x93, 13, 0,
    ]));
    expect(run.done).toBe(true);
  });
});
