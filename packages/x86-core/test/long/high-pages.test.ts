import { describe, expect, it } from 'vitest';
import type { Machine } from '../pm/machine.js';
import { CODE, longMachine } from './machine.js';

// Pages above 4 GiB, where Linux's kernel runs: their translations are read inline from the paging
// unit's high cache (Cpu.translateCanonical) and 64-bit block entries keep the code page they last
// translated (long/blocks.ts). Both must drop what they hold at INVLPG of such an address and must
// still check the page's rights.

/** Linear 0xffffffff80000000 (PML4 511, PDPT 510, PD 0), as its dwords. */
const HIGH_LO = 0x80000000;
const HIGH_HI = -1;
const CODE_A = 0x260000;
const DATA = 0x261000;
const CODE_B = 0x262000;
const PT = 0x76000;

const le32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

/** A machine (compiling every entry at once, or interpreting only) with the high page table below. */
function highMachine(compiled: boolean): Machine {
  // invlpg [rbx]; hlt
  const m = longMachine([0x0f, 0x01, 0x3b, 0xf4]);
  const { physical, cpu } = m;
  physical.write32(0x70000 + 8 * 511, 0x74003);
  physical.write32(0x74000 + 8 * 510, 0x75003);
  physical.write32(0x75000, PT | 3);
  physical.write32(PT, CODE_A | 3); //       the code page
  physical.write32(PT + 8, DATA | 1); //     read-only data
  physical.writeBytes(CODE_A, Uint8Array.from([0xb8, ...le32(1), 0x48, 0x8b, 0x0d, ...le32(0x1000 - 12), 0xf4])); // mov eax, 1; mov rcx, [rip+data]; hlt
  physical.writeBytes(CODE_B, Uint8Array.from([0xb8, ...le32(2), 0xf4])); // mov eax, 2; hlt
  physical.write32(DATA, 0x5eed);
  if (compiled) {
    if (cpu.blockCache === null) throw new Error('no block cache');
    cpu.blockCache.hotRuns = 1;
  } else cpu.intercepts.anyOpcode = true;
  return m;
}

function runHigh(m: Machine): number {
  m.cpu.eip = HIGH_LO;
  m.cpu.ripHi = HIGH_HI;
  m.cpu.halted = false;
  expect(m.cpu.run(100)).toBe('hlt');
  return m.cpu.reg32[0];
}

function invlpgHigh(m: Machine): void {
  m.cpu.reg32[3] = HIGH_LO | 0;
  m.cpu.regHi[3] = HIGH_HI;
  m.cpu.eip = CODE;
  m.cpu.ripHi = 0;
  m.cpu.halted = false;
  expect(m.cpu.run(100)).toBe('hlt');
}

describe('pages above 4 GiB', () => {
  for (const compiled of [true, false]) {
    const tier = compiled ? 'compiled blocks' : 'the interpreter';
    it(`run the page's new code after its PTE changes and INVLPG drops it (${tier})`, () => {
      const m = highMachine(compiled);
      for (let i = 0; i < 3; i++) expect(runHigh(m)).toBe(1);
      expect(m.cpu.reg32[1]).toBe(0x5eed);
      m.physical.write32(PT, CODE_B | 3);
      invlpgHigh(m);
      expect(runHigh(m)).toBe(2);
      if (compiled) expect(m.cpu.longBlocks?.compiled).toBe(2);
    });

    it(`raise #PF (P|W, CR2 with its high dword) on a write to a read-only page a read cached (${tier})`, () => {
      const m = highMachine(compiled);
      // mov rcx, [rbx]; mov [rbx], rcx; hlt at CODE
      m.physical.writeBytes(CODE, Uint8Array.from([0x48, 0x8b, 0x0b, 0x48, 0x89, 0x0b, 0xf4]));
      m.cpu.reg32[3] = (HIGH_LO + 0x1000) | 0;
      m.cpu.regHi[3] = HIGH_HI;
      expect(m.cpu.run(100)).toBe('exception');
      expect([m.cpu.stop.vector, m.cpu.stop.errorCode]).toEqual([14, 3]);
      expect([m.cpu.cr2 >>> 0, m.cpu.cr2Hi]).toEqual([HIGH_LO + 0x1000, HIGH_HI]);
      expect(m.cpu.reg32[1]).toBe(0x5eed);
      expect(m.cpu.eip).toBe(CODE + 3);
    });
  }
});
