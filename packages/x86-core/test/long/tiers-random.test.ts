import { describe, expect, it } from 'vitest';
import { random } from '../support/random.js';
import { compareTiers64, longBytes, longLoop, type Counts64, type Program64 } from './tier-programs.js';

// 64-bit mode's two tiers — the interpreter (step64) and compiled blocks — must be indistinguishable.
// Here they run random 64-bit programs (see tier-programs.ts: 4-level paging with pages of random
// rights, CPL 0 and 3, addresses high, low and not canonical) in lockstep with the same random
// budgets, and must agree after every run on the stop, the registers, RIP, RFLAGS, segments, control
// registers, retired count and memory.

const CASES: [string, (next: () => number) => Program64, number, number][] = [
  ['random 64-bit instructions (REX, SIB, RIP-relative, branches, stack) over pages of random rights', longBytes, 5, 12],
  ['random loops of 64-bit moves, ALU and read-modify-writes over data pages, self-modifying now and then', longLoop, 9, 12],
];

describe('64-bit mode: the interpreter and compiled blocks agree', () => {
  for (const [name, program, seed, programs] of CASES) {
    it(name, () => {
      const next = random(seed);
      const counts: Counts64 = { retired: 0, compiled: 0, inlined: 0 };
      for (let n = 0; n < programs; n++) expect(compareTiers64(program(next), next, counts), `program ${n}`).toBe('');
      // The programs ran, and much of it from compiled blocks.
      expect(counts.retired).toBeGreaterThan(300 * programs);
      expect(counts.compiled).toBeGreaterThan(counts.retired / 10);
      // Hot blocks were compiled again with their memory operands inline (after 1-3 runs here).
      expect(counts.inlined).toBeGreaterThan(programs);
    }, 60_000);
  }
});
