import { describe, expect, it } from 'vitest';
import { CS, DS, ES, SS } from '../src/cpu.js';
import { DecodeCache } from '../src/decoded-cache.js';
import { CODE, createMachine, type TestMachine } from './support/machine.js';
import { random } from './support/random.js';

// The decoded-instruction cache must be invisible: the same programs give the same state with and
// without it, and code changed by the CPU itself, by DMA or by a loader runs as changed.


function le32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

function state(m: TestMachine): string {
  const c = m.cpu;
  return `${Array.from(c.reg32).join(',')} eip=${c.eip} fl=${c.getEflags()} seg=${Array.from(c.seg).join(',')}`;
}

/** Opcodes the cache runs, over-represented in the random programs. */
const BIASED = [
  0x01, 0x03, 0x29, 0x31, 0x39, 0x89, 0x8b, 0x8d, 0x83, 0x40, 0x50, 0x58, 0x74, 0x75, 0xc1, 0x66,
  0xf7, 0xf6, 0xff, 0xfe, 0x87, 0x86, 0x93, 0x98, 0x99, 0x0f, 0x0f, 0x0f, 0x69, 0x6b, 0xd3, 0xe8,
];

describe('decoded-instruction cache', () => {
  for (const mode of ['real', 'flat32'] as const) {
    it(`random code runs identically with and without the cache (${mode})`, () => {
      const next = random(mode === 'real' ? 21 : 23);
      for (let program = 0; program < 60; program++) {
        const cached = createMachine(mode, undefined, true);
        const plain = createMachine(mode, undefined, false);
        // Bytes biased toward the instructions the cache runs (ALU, MOV, INC/DEC, PUSH/POP, Jcc...).
        const code = new Uint8Array(0x10000);
        for (let i = 0; i < code.length; i++) {
          const r = next();
          code[i] = (r & 3) === 0 ? BIASED[(r >>> 4) & 31] : (r >>> 8) & 0xff;
        }
        const regs = Array.from({ length: 8 }, () => next());
        const eip = next() & 0xfff0;
        for (const m of [cached, plain]) {
          m.memory.writeBytes(0, code);
          regs.forEach((v, r) => (m.cpu.reg32[r] = v));
          m.cpu.reg32[4] = mode === 'real' ? 0x8000 : 0x80000;
          if (mode === 'real') for (const s of [DS, ES, SS]) m.cpu.loadRealSegment(s, 0);
          m.cpu.eip = eip;
          m.cpu.intercepts.exceptions = -1;
        }
        for (let stepNo = 0; stepNo < 300; stepNo++) {
          const a = cached.cpu.run(1);
          const b = plain.cpu.run(1);
          expect(a, `program ${program} step ${stepNo}`).toBe(b);
          expect(state(cached), `program ${program} step ${stepNo}`).toBe(state(plain));
          if (a !== 'budget') break;
        }
        expect(Buffer.from(cached.memory.ram).equals(Buffer.from(plain.memory.ram))).toBe(true);
      }
    }, 60_000);
  }

  it('two-byte forms it runs (IMUL Gv,Ev, MOVZX, SETcc, CMOVcc) give the same state as the full decoder', () => {
    // A 16x16-limb multiply step as Linux's generic mpi code compiles it, in 32- and 16-bit operand size.
    const program = [
      0x0f, 0xb7, 0xca, //             movzx ecx, dx
      0xc1, 0xea, 0x10, //             shr edx, 16
      0x0f, 0xaf, 0xc1, //             imul eax, ecx
      0x0f, 0xaf, 0xda, //             imul ebx, edx
      0x0f, 0xaf, 0x3d, ...le32(0x2000), // imul edi, [0x2000]
      0x66, 0x0f, 0xaf, 0xf0, //       imul si, ax
      0x66, 0x0f, 0xaf, 0x2d, ...le32(0x2004), // imul bp, [0x2004]
      0x0f, 0x92, 0xc3, //             setb bl
      0x0f, 0x43, 0x15, ...le32(0x2008), // cmovae edx, [0x2008]
      0xf4,
    ];
    const next = random(31);
    for (let round = 0; round < 60; round++) {
      const regs = Array.from({ length: 8 }, () => next());
      const words = [next(), next(), next()];
      const states = [true, false].map((cache) => {
        const m = createMachine('flat32', undefined, cache);
        m.load(program);
        words.forEach((w, i) => m.memory.writeBytes(0x2000 + 4 * i, Uint8Array.from(le32(w))));
        regs.forEach((v, r) => (m.cpu.reg32[r] = v));
        m.cpu.reg32[4] = 0x80000;
        expect(m.cpu.run(100)).toBe('hlt');
        return state(m);
      });
      expect(states[0], `round ${round}`).toBe(states[1]);
    }
  });

  it('IMUL Gv,Ev from the cache truncates and flags the overflow (SDM "IMUL")', () => {
    const m = createMachine('flat32');
    m.load([
      0xb8, ...le32(0x10000), //  mov eax, 0x10000
      0xb9, ...le32(0x8000), //   mov ecx, 0x8000
      0x0f, 0xaf, 0xc1, //        imul eax, ecx   (2^31: does not fit, CF=OF=1)
      0x9c, //                    pushf
      0xbb, ...le32(-3), //       mov ebx, -3
      0x0f, 0xaf, 0xd9, //        imul ebx, ecx   (-0x18000: fits, CF=OF=0)
      0xf4,
    ]);
    expect(m.cpu.run(100)).toBe('hlt');
    expect(m.cpu.reg32[0] >>> 0).toBe(0x80000000);
    expect(m.cpu.readLinear32(0x80000 - 4) & 0x801).toBe(0x801);
    expect(m.cpu.reg32[3]).toBe(-0x18000);
    expect(m.cpu.getEflags() & 0x801).toBe(0);
  });

  it('a jump into another page runs from a decoded record when paging is off or the TLB holds the page', () => {
    for (const paging of [false, true]) {
      const m = createMachine('flat32');
      if (paging) {
        m.memory.writeBytes(0x9000, Uint8Array.from(le32(0x83))); // PDE 0: 4 MiB identity page, present, writable
        m.cpu.cr3 = 0x9000;
        m.cpu.cr4 = 0x10; // PSE
        m.cpu.cr0 |= 0x80000000;
        m.cpu.modeChanged();
      }
      // Page 1: dec ecx; jz done; jmp 0x3000. Page 3: jmp back to page 1 (its only instruction).
      m.load([0x49, 0x74, 0x05, 0xe9, ...le32(0x3000 - 0x1008), 0xf4]);
      m.memory.writeBytes(0x3000, Uint8Array.from([0xe9, ...le32(0x1000 - 0x3005)]));
      m.cpu.reg32[1] = 50;
      expect(m.cpu.run(1000)).toBe('hlt');
      expect(m.cpu.reg32[1]).toBe(0);
      expect(m.cpu.decoded?.page(3, true)[0], paging ? 'paging' : 'no paging').not.toBe(0);
    }
  });

  it('a loop that rewrites an instruction on its own page sees every new version', () => {
    const m = createMachine('flat32');
    // inc byte [CODE+12]  (the immediate of the ADD below); add eax, imm8; loop back ECX times
    m.load([
      0xfe, 0x05, 0x0c, 0x10, 0x00, 0x00, // inc byte [0x100c]
      0x90, 0x90, 0x90, 0x90, //             nops
      0x83, 0xc0, 0x00, //                   add eax, 0  (immediate at 0x100c)
      0xe2, 0xf1, //                         loop to CODE
      0xf4,
    ]);
    m.cpu.reg32[0] = 0;
    m.cpu.reg32[1] = 5;
    expect(m.cpu.run(100)).toBe('hlt');
    expect(m.cpu.reg32[0]).toBe(1 + 2 + 3 + 4 + 5);
  });

  it('code replaced by DMA (writeBytes) after it ran is decoded again', () => {
    const m = createMachine('flat32');
    m.load([0xb0, 0x01, 0xf4]); // mov al, 1; hlt
    m.cpu.run(10);
    expect(m.cpu.reg8[0]).toBe(1);
    m.memory.writeBytes(CODE + 1, Uint8Array.from([0x07]));
    m.cpu.eip = CODE;
    m.cpu.halted = false;
    m.cpu.run(10);
    expect(m.cpu.reg8[0]).toBe(7);
  });

  it('code spread over many pages and rewritten between runs always runs as written', () => {
    // 200 pages, each: mov al, <page + round>; jmp to the next page. The last one halts.
    const m = createMachine('flat32');
    const pages = 200;
    for (let round = 0; round < 6; round++) {
      for (let p = 0; p < pages; p++) {
        const at = 0x10000 + p * 0x1000;
        const next = p === pages - 1 ? -1 : at + 0x1000;
        const code = next < 0 ? [0xb0, (p + round) & 0xff, 0xf4] : [0xb0, (p + round) & 0xff, 0xe9, ...le32(next - (at + 7))];
        m.memory.writeBytes(at, Uint8Array.from(code));
      }
      m.cpu.eip = 0x10000;
      m.cpu.halted = false;
      expect(m.cpu.run(10_000)).toBe('hlt');
      expect(m.cpu.reg8[0]).toBe((pages - 1 + round) & 0xff);
    }
  });

  it('keeps a bounded number of record tables whatever code the guest runs', () => {
    const cache = new DecodeCache();
    for (let page = 0; page < 5000; page++) cache.page(page, (page & 1) === 1);
    expect(cache.pageCount).toBeLessThanOrEqual(1024);
  });

  it('the same bytes decode differently in 16- and 32-bit code', () => {
    const m = createMachine('real');
    m.load([0xb8, 0x34, 0x12, 0xf4, 0xf4, 0xf4]); // 16-bit: mov ax, 0x1234; hlt
    m.cpu.run(10);
    expect(m.cpu.reg16[0]).toBe(0x1234);
    m.cpu.segAccess[CS] = 0xc09b;
    m.cpu.cr0 |= 1;
    m.cpu.modeChanged();
    m.cpu.reg32[0] = 0;
    m.load([0xb8, 0x34, 0x12, 0xf4, 0xf4, 0xf4]); // 32-bit: mov eax, 0xf4f41234
    m.cpu.run(10);
    expect(m.cpu.reg32[0] >>> 0).toBe(0xf4f41234);
  });
});
