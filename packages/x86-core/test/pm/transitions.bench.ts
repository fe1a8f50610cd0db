import { bench, describe, expect } from 'vitest';
import { createMachine, runGuestOn } from './machine.js';

// `npx vitest bench --run test/pm`: one iteration is 20000 INT 0x80 / IRET round trips between ring 3
// and ring 0 (guests/bench-syscalls.S) on a machine built once, so round trips per second are
// 20000 × the reported hz.
const machine = createMachine();

describe('privilege transitions', () => {
  bench('20000 INT/IRET round trips, ring 3 <-> ring 0', () => {
    expect(runGuestOn(machine, 'bench-syscalls', 1_000_000).done).toBe(true);
  });
});
