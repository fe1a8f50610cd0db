import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../src/cpu.js';
import { createMachine, loadGuest, type Machine } from './pm/machine.js';
import { random } from './support/random.js';

// The protected-mode guest programs of test/pm (gates, task switches, paging faults, v86, the fuzzers)
// run on a CPU with blocks compiled and on one without, in runs of the same random budgets: after every
// run both must agree on the stop, the registers, the instruction count and memory. The CPU gets mmu's
// PhysicalMemory itself (`direct`), which reports writes to code, so decoded records and blocks are used.

function boot(name: string, compileBlocks: boolean, hotRuns: number): Machine {
  const machine = createMachine({ direct: true, compileBlocks, hotRuns });
  loadGuest(machine, name);
  return machine;
}

function state(cpu: Cpu): string {
  return `regs=${Array.from(cpu.reg32).join(',')} eip=${cpu.eip} fl=${cpu.getEflags()} seg=${Array.from(cpu.seg).join(',')} ` +
    `cr0=${cpu.cr0} cr2=${cpu.cr2} cr3=${cpu.cr3} cpl=${cpu.cpl} retired=${cpu.retired} halted=${cpu.halted}`;
}

const GUESTS = readdirSync(new URL('./pm/guests/', import.meta.url))
  .filter((f) => f.endsWith('.bin') && !f.startsWith('bench-'))
  .map((f) => f.slice(0, -4));

describe('block compiler on the protected-mode guests', () => {
  for (const hotRuns of [1, 40]) {
    it(`every guest runs the same with and without compiled blocks (hot after ${hotRuns})`, () => {
      let compiled = 0;
      for (const name of GUESTS) {
        const jit = boot(name, true, hotRuns);
        const plain = boot(name, false, hotRuns);
        const next = random(name.length * 131 + hotRuns);
        let total = 0;
        for (let run = 0; total < 1_000_000; run++) {
          const budget = 1 + (next() % 10_000);
          total += budget;
          const a = jit.cpu.run(budget);
          const b = plain.cpu.run(budget);
          expect(a, `${name} run ${run}`).toBe(b);
          expect(state(jit.cpu), `${name} run ${run}`).toBe(state(plain.cpu));
          expect(jit.reports, `${name} run ${run}`).toEqual(plain.reports);
          if (a !== 'budget' || jit.done()) break;
        }
        expect(jit.done(), name).toBe(plain.done());
        expect(Buffer.from(jit.physical.ram).equals(Buffer.from(plain.physical.ram)), `${name}: memory`).toBe(true);
        compiled += jit.cpu.blockCache?.compiled ?? 0;
      }
      expect(GUESTS.length).toBeGreaterThan(15);
      expect(compiled).toBeGreaterThan(100);
    }, 120_000);
  }
});
