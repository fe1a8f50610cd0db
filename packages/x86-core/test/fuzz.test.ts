import { describe, expect, it } from 'vitest';
import { CS, DS, ES, SS } from '../src/cpu.js';
import type { CpuModel } from '../src/model.js';
import { createMachine } from './support/machine.js';
import { random } from './support/random.js';

// Hostile guest code: random bytes executed in real mode (on the i686 and the 80286 model) and in
// 32-bit protected mode (with random descriptor-table registers, so faults and their delivery go
// through garbage too). run() must always return one of its reasons within its budget: never throw,
// never hang.

const REASONS = new Set(['budget', 'hlt', 'shutdown', 'exception', 'irq-window']);


describe('random code never escapes run()', () => {
  const runs: ['real' | 'flat32' | 'paged', CpuModel, number][] = [
    ['real', 'i686', 7], ['flat32', 'i686', 11], ['paged', 'i686', 13], ['real', '80286', 17],
  ];
  for (const [mode, model, seed] of runs) {
    it(`${mode} mode on the ${model}: 150 programs of random bytes`, () => {
      const next = random(seed);
      const counts = new Map<string, number>();
      let retired = 0;
      for (let program = 0; program < 150; program++) {
        const m = createMachine(mode === 'real' ? 'real' : 'flat32', undefined, true, true, model);
        const cpu = m.cpu;
        // Random RAM below 64 KiB: code, stack, IVT/IDT and GDT contents.
        const junk = new Uint8Array(0x10000);
        for (let i = 0; i < junk.length; i += 4) {
          const v = next();
          junk[i] = v; junk[i + 1] = v >>> 8; junk[i + 2] = v >>> 16; junk[i + 3] = v >>> 24;
        }
        m.memory.writeBytes(0, junk);
        for (let r = 0; r < 8; r++) cpu.reg32[r] = next();
        if (mode === 'real') {
          for (const s of [DS, ES, SS]) cpu.loadRealSegment(s, next() & 0xffff);
          cpu.eip = next() & 0xffff;
        } else {
          cpu.gdtrBase = next() & 0xffff;
          cpu.gdtrLimit = next() & 0xffff;
          cpu.idtrBase = next() & 0xffff;
          cpu.idtrLimit = next() & 0x7ff;
          cpu.eip = next() & 0xffff;
          if (mode === 'paged') {
            // Paging through a page directory of random entries, except that PDE 0 identity-maps the
            // first 4 MiB (PSE) so the random code runs at all.
            cpu.reg32[4] = 0x80000;
            cpu.cr3 = 0xf000;
            cpu.cr4 = 0x10;
            m.memory.write32(0xf000, 0x87);
            cpu.cr0 |= 0x80000000;
            cpu.modeChanged();
          }
        }
        cpu.setEflags(next() & 0xcd5);
        let reason = '';
        expect(() => {
          reason = cpu.run(2000);
        }).not.toThrow();
        if (reason === 'internal-error') throw new Error(`internal error: ${cpu.stop.detail} (program ${program}, CS ${cpu.seg[CS]})`);
        expect(REASONS.has(reason), reason).toBe(true);
        counts.set(reason, (counts.get(reason) ?? 0) + 1);
        retired += cpu.retired;
      }
      // The programs did run (with random page tables most die in a triple fault within a few instructions).
      expect(retired, JSON.stringify([...counts])).toBeGreaterThan(150);
    }, 60_000);
  }
});
