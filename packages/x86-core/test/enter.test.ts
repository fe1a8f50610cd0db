import { describe, expect, it } from 'vitest';
import { SS } from '../src/cpu.js';
import { CODE, createMachine, type TestMachine } from './support/machine.js';

// ENTER for every operand size × stack size (SS.B) and nesting levels 0, 1, 4 and 36 (4 mod 32),
// in each tier, against the SDM's pseudo-code written out below; and a faulting ENTER, which must
// leave ESP, EBP and EIP as they were. The program runs in 32-bit code; 0x66 gives the 16-bit
// operand size. A 16-bit stack sits at STACK_BASE with a 64 KiB limit, and its ESP and EBP carry
// garbage in their upper halves, which only a 32-bit frame pointer may take along.

type Tier = 'interpreter' | 'decoded' | 'blocks';
const TIERS: Tier[] = ['interpreter', 'decoded', 'blocks'];
const STACK_BASE = 0x40000;
const ALLOC = 0x0123;

function machine(tier: Tier, stack32: boolean, limit = 0xffff): TestMachine {
  const m = createMachine('flat32', undefined, tier !== 'interpreter', tier === 'blocks');
  // A recognisable pattern where the frame pointers are copied from.
  for (let a = 0; a < 0x10000; a += 4) m.memory.write32(STACK_BASE + a, (0xa0000000 + a * 0x10001) >>> 0);
  if (!stack32) {
    m.cpu.segBase[SS] = STACK_BASE;
    m.cpu.segLimit[SS] = limit;
    m.cpu.segAccess[SS] = 0x0093; // present, writable data, B = 0, byte granular
  }
  return m;
}

interface Expected { esp: number; ebp: number; stores: [number, number, number][] }

/** The SDM's ENTER pseudo-code: each store as [offset, size, value] and the final ESP/EBP. */
function reference(m: TestMachine, op32: boolean, stack32: boolean, level: number): Expected {
  const base = stack32 ? 0 : STACK_BASE;
  const mem = (off: number, size: number) => (size === 4 ? m.memory.read32(base + off) : m.memory.read16(base + off));
  let esp = m.cpu.reg32[4] >>> 0;
  let ebp = m.cpu.reg32[5] >>> 0;
  const size = op32 ? 4 : 2;
  const stores: [number, number, number][] = [];
  const push = (value: number) => {
    if (stack32) esp = (esp - size) >>> 0;
    else esp = ((esp & 0xffff0000) | ((esp - size) & 0xffff)) >>> 0;
    const off = stack32 ? esp : esp & 0xffff;
    stores.push([off, size, size === 4 ? value >>> 0 : value & 0xffff]);
  };
  push(op32 ? ebp : ebp & 0xffff);
  const frameTemp = op32 ? esp : esp & 0xffff;
  const nesting = level % 32;
  if (nesting > 0) {
    for (let i = 1; i < nesting; i++) {
      if (stack32) ebp = (ebp - size) >>> 0;
      else ebp = ((ebp & 0xffff0000) | ((ebp - size) & 0xffff)) >>> 0;
      push(mem(stack32 ? ebp : ebp & 0xffff, size));
    }
    push(frameTemp);
  }
  ebp = op32 ? frameTemp : ((m.cpu.reg32[5] & 0xffff0000) | frameTemp) >>> 0;
  if (stack32) esp = (esp - ALLOC) >>> 0;
  else esp = ((esp & 0xffff0000) | ((esp - ALLOC) & 0xffff)) >>> 0;
  return { esp, ebp, stores };
}

function enterBytes(op32: boolean, level: number): number[] {
  return [...(op32 ? [] : [0x66]), 0xc8, ALLOC & 0xff, ALLOC >> 8, level];
}

describe('ENTER for each operand size, stack size and nesting level', () => {
  for (const tier of TIERS) {
    for (const stack32 of [true, false]) {
      for (const op32 of [true, false]) {
        for (const level of [0, 1, 4, 36]) {
          const name = `${tier}: o${op32 ? 32 : 16} enter 0x${ALLOC.toString(16)}, ${level} on a ${stack32 ? 32 : 16}-bit stack`;
          it(name, () => {
            const m = machine(tier, stack32);
            m.cpu.reg32[4] = stack32 ? 0x48000 : (0x7bcd8000 | 0);
            m.cpu.reg32[5] = stack32 ? 0x48100 : (0x3c5a8100 | 0);
            const expected = reference(m, op32, stack32, level);
            m.load(enterBytes(op32, level).concat(0xf4));
            expect(m.cpu.run(10)).toBe('hlt');
            expect((m.cpu.reg32[4] >>> 0).toString(16)).toBe(expected.esp.toString(16));
            expect((m.cpu.reg32[5] >>> 0).toString(16)).toBe(expected.ebp.toString(16));
            const base = stack32 ? 0 : STACK_BASE;
            for (const [off, size, value] of expected.stores) {
              const got = size === 4 ? m.memory.read32(base + off) : m.memory.read16(base + off);
              expect(got.toString(16), `store at ${off.toString(16)}`).toBe(value.toString(16));
            }
          });
        }
      }
    }
  }

  it('o32 enter on a 16-bit stack keeps the upper half of ESP and takes all of ESP as EBP', () => {
    const m = machine('interpreter', false);
    m.cpu.reg32[4] = 0x12340100;
    m.cpu.reg32[5] = 0x5678abcd;
    m.load([0xc8, 0x10, 0x00, 0x00, 0xf4]); // enter 16, 0
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.reg32[4] >>> 0).toBe(0x123400ec);
    expect(m.cpu.reg32[5] >>> 0).toBe(0x123400fc);
    expect(m.memory.read32(STACK_BASE + 0xfc)).toBe(0x5678abcd);
  });

  it('o16 enter on a 32-bit stack moves all of ESP and only BP', () => {
    const m = machine('interpreter', true);
    m.cpu.reg32[4] = 0x00050000;
    m.cpu.reg32[5] = 0x77770000;
    m.load([0x66, 0xc8, 0x10, 0x00, 0x01, 0xf4]); // o16 enter 16, 1
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.reg32[4] >>> 0).toBe(0x0004ffec);
    expect(m.cpu.reg32[5] >>> 0).toBe(0x7777fffe);
    expect(m.memory.read16(0x4fffe)).toBe(0x0000);
    expect(m.memory.read16(0x4fffc)).toBe(0xfffe);
  });
});

describe('a faulting ENTER changes nothing', () => {
  const cases: { name: string; sp: number; bp: number; level: number; limit: number }[] = [
    { name: 'a copied frame pointer store wraps past the limit', sp: 0x0006, bp: 0x0800, level: 4, limit: 0x0fff },
    { name: 'a frame pointer is read beyond the limit', sp: 0x0800, bp: 0x1004, level: 3, limit: 0x0fff },
    { name: 'the allocation takes SP below 0 (past the limit)', sp: 0x0100, bp: 0x0080, level: 0, limit: 0x0fff },
  ];
  for (const tier of TIERS) {
    for (const c of cases) {
      it(`${tier}: #SS when ${c.name}`, () => {
        const m = machine(tier, false, c.limit);
        m.cpu.intercepts.exceptions = 1 << 12;
        m.cpu.reg32[4] = (0x11110000 | c.sp) | 0;
        m.cpu.reg32[5] = (0x22220000 | c.bp) | 0;
        m.load([0x66, 0xc8, 0x00, 0x02, c.level, 0xf4]); // o16 enter 0x200, level
        expect(m.cpu.run(10)).toBe('exception');
        expect(m.cpu.stop.vector).toBe(12);
        expect(m.cpu.eip).toBe(CODE);
        expect(m.cpu.reg32[4] >>> 0).toBe(0x11110000 | c.sp);
        expect(m.cpu.reg32[5] >>> 0).toBe(0x22220000 | c.bp);
      });
    }
  }
});
