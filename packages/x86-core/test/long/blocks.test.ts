import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../src/cpu.js';
import { writeControlRegister } from '../../src/system/index.js';
import type { Machine } from '../pm/machine.js';
import { CODE, longMachine } from './machine.js';

// Compiled blocks of 64-bit mode (src/long/blocks.ts): what invalidates them, and the state a fault
// inside one leaves. Each case runs on a CPU that compiles every entry at once and on one that only
// interprets, and the two must end alike.

function machines(code: number[]): [Machine, Machine] {
  const compiled = longMachine(code);
  const blocks = compiled.cpu.blockCache;
  if (blocks === null) throw new Error('no block cache');
  blocks.hotRuns = 1;
  const interpreted = longMachine(code);
  // Interpreted only: opcode intercepts keep both tiers' caches out (and no opcode is intercepted).
  interpreted.cpu.intercepts.anyOpcode = true;
  return [compiled, interpreted];
}

function regs(cpu: Cpu): string {
  return `${Array.from(cpu.reg32).join(',')} ${Array.from(cpu.regHi).join(',')} ${cpu.ripHi}:${cpu.eip} ${cpu.getEflags()} ${cpu.retired}`;
}

const le32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

/** mov rax, 7; inc rax; hlt */
const SMALL = [0x48, 0xc7, 0xc0, ...le32(7), 0x48, 0xff, 0xc0, 0xf4];

/** Runs `check` on the compiling and the interpreting machine of `code`; they must end alike. */
function bothAlike(code: number[], check: (cpu: Cpu) => void): void {
  const ends = machines(code).map((m) => {
    check(m.cpu);
    return regs(m.cpu);
  });
  expect(ends[0]).toBe(ends[1]);
}

/** Runs from CODE to the HLT; returns RAX as [low, high]. */
function runFromCode(m: Machine): [number, number] {
  m.cpu.eip = CODE;
  m.cpu.halted = false;
  expect(m.cpu.run(100)).toBe('hlt');
  return [m.cpu.reg32[0], m.cpu.regHi[0]];
}

describe('64-bit compiled blocks', () => {
  it('see a store into their own code: the block ends after it and the new code runs', () => {
    const code = [
      0x88, 0x0d, ...le32(1), //  top: mov [rip+1], cl   (the immediate of the next instruction)
      0xb8, 0, 0, 0, 0, //             mov eax, 0          (patched: CL)
      0x48, 0x01, 0xc2, //             add rdx, rax
      0xff, 0xc9, //                   dec ecx
      0x75, 0x100 - 18, //             jnz top
      0xf4, //                         hlt
    ];
    for (const m of machines(code)) {
      m.cpu.reg32[1] = 10;
      m.cpu.reg32[2] = 0;
      expect(m.cpu.run(1000)).toBe('hlt');
      expect(m.cpu.reg32[2]).toBe(55);
    }
    const [compiled] = machines(code);
    compiled.cpu.reg32[1] = 10;
    compiled.cpu.run(1000);
    expect(compiled.cpu.longBlocks?.entered).toBeGreaterThan(5);
  });

  it('see code rewritten behind the CPU (DMA, a loader)', () => {
    const [compiled, interpreted] = machines(SMALL);
    for (const m of [compiled, interpreted]) {
      expect(runFromCode(m)).toEqual([8, 0]);
      m.physical.writeBytes(CODE + 3, Uint8Array.from(le32(-2)));
      expect(runFromCode(m)).toEqual([-1, -1]);
    }
    expect(regs(compiled.cpu)).toBe(regs(interpreted.cpu));
    expect(compiled.cpu.longBlocks?.compiled).toBe(2);
  });

  it('see their linear address mapped to another physical page', () => {
    const [compiled, interpreted] = machines(SMALL);
    for (const m of [compiled, interpreted]) {
      expect(runFromCode(m)).toEqual([8, 0]);
      // A 4 KiB table for the low 2 MiB, mapping the code's page to another one with other code.
      const other = 0x250000;
      m.physical.writeBytes(other, Uint8Array.from([0xb8, ...le32(42), 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4])); // mov eax, 42; hlt
      m.physical.write32(0x72000, 0x73007);
      m.physical.write32(0x72004, 0);
      for (let p = 0; p < 512; p++) m.physical.write32(0x73000 + 8 * p, ((p << 12) | 7) >>> 0);
      m.physical.write32(0x73000 + 8 * (CODE >>> 12), other | 7);
      writeControlRegister(m.cpu, 3, 0x70000);
      expect(runFromCode(m)).toEqual([42, 0]);
    }
    expect(regs(compiled.cpu)).toBe(regs(interpreted.cpu));
    expect(compiled.cpu.longBlocks?.compiled).toBe(2);
  });

  it('go round a loop back to their entry inside one call, stopping where the budget ends as the interpreter does', () => {
    const code = [
      0x48, 0x01, 0xc8, //  top: add rax, rcx
      0xff, 0xc9, //             dec ecx
      0x75, 0x100 - 7, //        jnz top
      0xf4, //                   hlt
    ];
    const [compiled, interpreted] = machines(code);
    for (const m of [compiled, interpreted]) m.cpu.reg32[1] = 1000;
    for (let run = 0; run < 40; run++) {
      const budget = 1 + ((run * 37) % 101);
      const stops = [compiled, interpreted].map((m) => m.cpu.run(budget));
      expect(stops[0]).toBe(stops[1]);
      expect(regs(compiled.cpu)).toBe(regs(interpreted.cpu));
    }
    for (const m of [compiled, interpreted]) expect(m.cpu.run(5000)).toBe('hlt');
    expect(compiled.cpu.reg32[0]).toBe(500500);
    expect(regs(compiled.cpu)).toBe(regs(interpreted.cpu));
    // 3,000 instructions in a few hundred calls (the budget ends a pass as often as every run).
    expect(compiled.cpu.longBlocks?.entered).toBeLessThan(300);
  });

  it('go round when a CALL targets their own entry (a recursion), pushing each return address', () => {
    const code = [
      0xff, 0xc9, //                     top: dec ecx
      0x74, 0x05, //                          jz out
      0xe8, ...le32(-9), //                   call top
      0xf4, //                           out: hlt
    ];
    bothAlike(code, (cpu) => {
      cpu.reg32[1] = 5;
      expect(cpu.run(100)).toBe('hlt');
      expect(cpu.reg32[4]).toBe(0x80000 - 4 * 8);
      expect(cpu.retired).toBe(15); // four passes of three, DEC, JZ and the HLT
    });
  });

  it('leave the interpreter\'s state when a load faults on a later pass of a loop', () => {
    const code = [
      0x48, 0x8b, 0x03, //                   top: mov rax, [rbx]
      0x48, 0x01, 0xc2, //                        add rdx, rax
      0x48, 0x81, 0xc3, ...le32(0x100000), //     add rbx, 1 MiB   (4 MiB is not mapped: #PF)
      0xff, 0xc9, //                              dec ecx
      0x75, 0x100 - 17, //                        jnz top
      0xf4,
    ];
    bothAlike(code, (cpu) => {
      cpu.reg32[1] = 10;
      cpu.reg32[3] = 0x100000;
      expect(cpu.run(1000)).toBe('exception');
      expect([cpu.stop.vector, cpu.stop.errorCode, cpu.cr2]).toEqual([14, 0, 0x400000]);
      expect(cpu.eip).toBe(CODE);
      expect(cpu.reg32[1]).toBe(7);
      // Three passes of 5, and the fault counts as one more (Cpu.run).
      expect(cpu.retired).toBe(16);
    });
  });

  it('leave the interpreter\'s state when an instruction inside faults: RIP, RSP, registers, retired count', () => {
    const code = [
      0x48, 0xc7, 0xc0, 1, 0, 0, 0, //   mov rax, 1
      0x53, //                           push rbx
      0x48, 0x8b, 0x0a, //               mov rcx, [rdx]    (not canonical: #GP)
      0xbe, 5, 0, 0, 0, //               mov esi, 5
      0xf4,
    ];
    bothAlike(code, (cpu) => {
      cpu.reg32[3] = 0x1234;
      cpu.reg32[2] = 0;
      cpu.regHi[2] = 0x12345678;
      expect(cpu.run(100)).toBe('exception');
      expect([cpu.stop.vector, cpu.stop.errorCode]).toEqual([13, 0]);
      expect(cpu.eip).toBe(CODE + 8);
      expect(cpu.reg32[4]).toBe(0x80000 - 8);
      expect(cpu.reg32[0]).toBe(1);
      // Two retired, and the fault counts against the budget as one more (Cpu.run).
      expect(cpu.retired).toBe(3);
    });
  });

  it('restore RSP when RET pops a target that is not canonical (#GP after the pop)', () => {
    const code = [
      0x48, 0xb8, ...le32(0), ...le32(0x00800000), // mov rax, 0x0080000000000000
      0x50, //                                        push rax
      0x48, 0xff, 0xc3, //                            inc rbx
      0xc3, //                                        ret
    ];
    bothAlike(code, (cpu) => {
      expect(cpu.run(100)).toBe('exception');
      expect([cpu.stop.vector, cpu.stop.errorCode]).toEqual([13, 0]);
      expect(cpu.eip).toBe(CODE + 14);
      expect(cpu.reg32[4]).toBe(0x80000 - 8);
      expect(cpu.reg32[3]).toBe(1);
    });
    const [compiled] = machines(code);
    compiled.cpu.run(100);
    expect(compiled.cpu.longBlocks?.entered).toBe(1);
  });
  it('raise #GP at a JMP to an address that is not canonical, with its RIP and count, after an access', () => {
    // Linear 0x7ffffffff000 (PML4 255, PDPT 511, PD 511, PT 511): the last page below the hole.
    const page = 0x264000;
    const code = [
      0x48, 0x8b, 0x03, //          mov rax, [rbx]
      0xe9, ...le32(0x10), //       jmp 0x800000000008
      0xf4,
    ];
    const ends = machines([]).map(({ cpu, physical }) => {
      physical.write32(0x70000 + 8 * 255, 0x60003);
      physical.write32(0x60000 + 8 * 511, 0x61003);
      physical.write32(0x61000 + 8 * 511, 0x62003);
      physical.write32(0x62000 + 8 * 511, page | 3);
      physical.writeBytes(page + 0xff0, Uint8Array.from(code));
      cpu.eip = 0xfffffff0;
      cpu.ripHi = 0x7fff;
      cpu.reg32[3] = CODE;
      expect(cpu.run(100)).toBe('exception');
      expect([cpu.stop.vector, cpu.stop.errorCode]).toEqual([13, 0]);
      expect([cpu.ripHi, cpu.eip]).toEqual([0x7fff, 0xfffffff3]);
      expect(cpu.retired).toBe(2);
      return regs(cpu);
    });
    expect(ends[0]).toBe(ends[1]);
  });
});
