import { PhysicalMemory } from '@ringvisor/mmu';
import { describe, expect, it } from 'vitest';
import { Cpu } from '../src/cpu.js';
import type { CpuModel } from '../src/model.js';
import { CODE, createMachine } from './support/machine.js';

// `model: '80286'` beyond the difference proofs (sst286-differences.test.ts): the default stays the
// i686, hostile code gets the 286's answer through every tier (decoded records, compiled blocks),
// the real-mode rules stay in real mode, and string instructions without faults match the i686.

const machine = (model: CpuModel, decodeCache = true, compileBlocks = true): ReturnType<typeof createMachine> =>
  createMachine('real', undefined, decodeCache, compileBlocks, model);

function ram(memory: PhysicalMemory, address: number, length: number): number[] {
  const bytes = new Uint8Array(length);
  memory.readBytes(address, bytes);
  return Array.from(bytes);
}

const TIERS: [string, boolean, boolean][] = [['interpreter', false, false], ['records', true, false], ['blocks', true, true]];

describe('CPU model option', () => {
  it('defaults to the i686 and rejects a model it does not know', () => {
    const memory = new PhysicalMemory({ regions: [{ base: 0, size: 1 << 20 }] });
    const io = { read: () => 0xff, write: () => undefined };
    expect(new Cpu({ memory, io }).model).toBe('i686');
    expect(new Cpu({ memory, io, model: '80286' }).model).toBe('80286');
    expect(() => new Cpu({ memory, io, model: '8086' as CpuModel })).toThrow(/unknown CPU model '8086'/);
  });

  for (const [tier, decodeCache, compileBlocks] of TIERS) {
    it(`80286 (${tier}): 64 KiB of prefixes raise #GP(0) at the first one, without reading on`, () => {
      const m = machine('80286', decodeCache, compileBlocks);
      m.cpu.intercepts.exceptions = -1;
      m.memory.writeBytes(0, new Uint8Array(0x10000).fill(0x2e)); // cs cs cs ... wrapping IP
      m.cpu.eip = 0x1234;
      expect(m.cpu.run(10)).toBe('exception');
      expect([m.cpu.stop.vector, m.cpu.eip]).toEqual([13, 0x1234]);
    });

    it(`80286 (${tier}): an 11-byte instruction in a hot loop raises #GP(0) on its first pass`, () => {
      const m = machine('80286', decodeCache, compileBlocks);
      m.cpu.intercepts.exceptions = -1;
      // loop: inc bx; cmp bx, 600; jne loop; then ds es ss ds es add word [bx], 1234h (11 bytes).
      m.load([0x43, 0x81, 0xfb, 0x58, 0x02, 0x75, 0xf9, 0x3e, 0x26, 0x36, 0x3e, 0x26, 0x81, 0x87, 0, 0, 0x34, 0x12]);
      expect(m.cpu.run(10_000)).toBe('exception');
      expect([m.cpu.stop.vector, m.cpu.eip, m.cpu.reg16[6]]).toEqual([13, CODE + 7, 600]);
      // The same loop with a 10-byte instruction (one prefix fewer) runs it.
      const ok = machine('80286', decodeCache, compileBlocks);
      ok.load([0x43, 0x81, 0xfb, 0x58, 0x02, 0x75, 0xf9, 0x3e, 0x26, 0x36, 0x3e, 0x81, 0x87, 0, 0, 0x34, 0x12, 0xf4]);
      ok.memory.write16(0x258, 1);
      expect(ok.cpu.run(10_000)).toBe('hlt');
      expect(ok.memory.read16(0x258)).toBe(0x1235);
    });

    it(`i686 (${tier}): a 16-byte instruction raises #GP(0), a 15-byte one runs, in a hot loop`, () => {
      // loop: inc ebx; <prefixes> add dword [esp+300h], 1 (11 bytes unprefixed); cmp ebx, 600; jne loop; hlt.
      const program = (prefixes: number[]): number[] => [
        0x43, ...prefixes, 0x81, 0x84, 0x24, 0x00, 0x03, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x81, 0xfb, 0x58, 0x02, 0x00, 0x00, 0x75, (-(20 + prefixes.length)) & 0xff, 0xf4,
      ];
      const ok = createMachine('flat32', undefined, decodeCache, compileBlocks);
      ok.load(program([0x3e, 0x26, 0x3e, 0x26]));
      expect(ok.cpu.run(100_000)).toBe('hlt');
      expect(ok.memory.read32(0x80300)).toBe(600);
      const long = createMachine('flat32', undefined, decodeCache, compileBlocks);
      long.cpu.intercepts.exceptions = -1;
      long.load(program([0x3e, 0x26, 0x3e, 0x26, 0x3e]));
      expect(long.cpu.run(100_000)).toBe('exception');
      expect([long.cpu.stop.vector, long.cpu.stop.errorCode, long.cpu.eip, long.memory.read32(0x80300)]).toEqual([13, 0, CODE + 1, 0]);
    });

    it(`80286 (${tier}): a stack overrun inside a hot loop raises interrupt 13, not #SS`, () => {
      const m = machine('80286', decodeCache, compileBlocks);
      m.cpu.intercepts.exceptions = -1;
      // loop: pop ax; dec sp; dec sp; dec sp; jmp loop: SP walks down one byte a lap until POP reads SS:FFFF.
      m.load([0x58, 0x4c, 0x4c, 0x4c, 0xeb, 0xfa]);
      m.cpu.reg16[8] = 0x200;
      expect(m.cpu.run(100_000)).toBe('exception');
      expect([m.cpu.stop.vector, m.cpu.eip, m.cpu.reg16[8]]).toEqual([13, CODE, 0xffff]);
    });
  }

  it('80286: an invalid opcode longer than 10 bytes raises #UD, as the vectors show', () => {
    const m = machine('80286');
    m.cpu.intercepts.exceptions = -1;
    m.load([0x3e, 0x26, 0x3e, 0x36, 0x2e, 0x62, 0xc6, 0x28, 0x91, 0xef, 0xf5]); // bound ax, si (a register)
    expect(m.cpu.run(10)).toBe('exception');
    expect([m.cpu.stop.vector, m.cpu.eip]).toEqual([6, CODE]);
  });

  it('80286: protected mode keeps the i686 rules (POPF loads IOPL at CPL 0, a stack fault is #SS)', () => {
    const m = createMachine('flat32', undefined, true, true, '80286');
    m.load([0x68, 0x02, 0x30, 0x00, 0x00, 0x9d, 0xf4]); // push dword 0x3002; popf; hlt
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.getEflags() & 0x3000).toBe(0x3000);
    const s = createMachine('flat32', undefined, true, true, '80286');
    s.cpu.intercepts.exceptions = -1;
    s.cpu.segLimit[2] = 0xffff;
    s.cpu.reg32[4] = 0xffff;
    s.load([0x58]); // pop eax
    expect(s.cpu.run(10)).toBe('exception');
    expect(s.cpu.stop.vector).toBe(12);
  });

  it('80286: string instructions that do not fault end as on the i686, past the interruptible chunk too', () => {
    const programs: [string, number[]][] = [
      ['rep movsb', [0xf3, 0xa4, 0xf4]],
      ['rep movsw backwards', [0xfd, 0xf3, 0xa5, 0xf4]],
      ['rep stosw', [0xf3, 0xab, 0xf4]],
      ['rep lodsb', [0xf3, 0xac, 0xf4]],
      ['repe cmpsb', [0xf3, 0xa6, 0xf4]],
      ['repne scasw', [0xf2, 0xaf, 0xf4]],
      ['rep insw', [0xf3, 0x6d, 0xf4]],
      ['rep outsb', [0xf3, 0x6e, 0xf4]],
    ];
    for (const [name, bytes] of programs) {
      const states = (['i686', '80286'] as CpuModel[]).map((model) => {
        const m = machine(model);
        // DS:SI and ES:DI see the same words (period 0x8000) but for one byte 2500 in, where CMPS
        // stops; SCAS for AX = 0x99c4 finds none.
        for (let a = 0x20000; a < 0x40000; a += 2) m.memory.write16(a, a & 0x7fff);
        m.memory.write8(0x20100 + 2500, 0x99);
        m.cpu.loadRealSegment(3, 0x2000);
        m.cpu.loadRealSegment(0, 0x2800);
        m.cpu.reg16[12] = 0x100;
        m.cpu.reg16[14] = 0x100;
        m.cpu.reg16[2] = 3000;
        m.cpu.reg16[0] = 0x99c4;
        m.load(bytes);
        expect(m.cpu.run(1000), `${model} ${name}`).toBe('hlt');
        return [
          Array.from(m.cpu.reg16.subarray(0, 16)), m.cpu.getEflags(), m.ports.length,
          ram(m.memory, 0x20000, 0x20000),
        ];
      });
      expect(states[1], name).toEqual(states[0]);
    }
  });
});
