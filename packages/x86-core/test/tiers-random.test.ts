import { describe, expect, it } from 'vitest';
import { compareTiers, protectedBytes, protectedLoop, realBytes, realBytes286, type TierCounts, type TierProgram } from './support/tier-programs.js';
import { random } from './support/random.js';

// The three tiers — the plain interpreter, decoded records, compiled blocks (hot at once, then with
// their memory accesses inline) — must be indistinguishable. Here they run random programs under
// protection (see support/tier-programs.ts) in lockstep with the same random budgets, and must agree
// after every run on the stop, the registers, segments, control registers, counts and memory.

const CASES: [string, TierProgram, number, number][] = [
  ['random bytes in paged protected mode (page and segment rights, CPL 3, 16-bit code and stacks)', protectedBytes, 6, 6],
  ['random loops of read-modify-write, string and prefixed instructions over pages of random rights', protectedLoop, 7, 6],
  ['random bytes in real mode with string instructions, prefixes and segment loads', realBytes, 3, 6],
  ['random bytes in real mode on the 80286 model', realBytes286, 19, 6],
];

describe('the interpreter, decoded records and compiled blocks agree', () => {
  for (const [name, program, seed, programs] of CASES) {
    it(name, () => {
      const next = random(seed);
      const counts: TierCounts = { retired: 0, compiled: 0 };
      for (let n = 0; n < programs; n++) expect(compareTiers(program(next), next, counts), `program ${n}`).toBe('');
      // The programs ran, and not only from the interpreter.
      expect(counts.retired).toBeGreaterThan(100 * programs);
      expect(counts.compiled).toBeGreaterThan(programs);
    }, 30_000);
  }
});
