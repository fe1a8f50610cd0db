// The SYSCALL opcode intercept in 64-bit mode (what vmm-para's 64-bit PV ABI takes hypercalls by):
// the CPU stops before SYSCALL changes anything, RIP at it, with its length (prefixes included);
// without the intercept SYSCALL runs as before.
import { describe, expect, it } from 'vitest';
import { CS } from '../../src/cpu.js';
import { decode64 } from '../../src/long/block-decode.js';
import { CODE, longMachine } from './machine.js';

/** At CPL 3: `loop: dec %ecx; jnz loop; syscall; hlt` with ECX = 100,000 (hot enough to compile). */
function userLoopBeforeSyscall() {
  const { cpu } = longMachine([0xff, 0xc9, 0x75, 0xfc, 0x0f, 0x05, 0xf4]);
  cpu.segAccess[CS] = 0xa0fb;
  cpu.cpl = 3;
  cpu.codeSizeChanged();
  cpu.reg32[1] = 100_000;
  return cpu;
}

describe('SYSCALL intercept in 64-bit mode', () => {
  it('stops before SYSCALL at CPL 3 with RCX, R11, RIP and CPL untouched', () => {
    // mov $7,%eax; rex.W syscall (a prefixed one, 3 bytes); hlt
    const m = longMachine([0xb8, 7, 0, 0, 0, 0x48, 0x0f, 0x05, 0xf4]);
    const { cpu } = m;
    cpu.segAccess[CS] = 0xa0fb;
    cpu.cpl = 3;
    cpu.codeSizeChanged();
    cpu.reg32[1] = 0x1111;
    cpu.reg32[11] = 0x2222;
    cpu.intercepts.interceptOpcode(0x105);
    expect(cpu.run(100)).toBe('opcode');
    expect(cpu.stop.opcode).toBe(0x105);
    expect(cpu.stop.length).toBe(3);
    expect(cpu.eip).toBe(CODE + 5);
    expect([cpu.reg32[0], cpu.reg32[1], cpu.reg32[11], cpu.cpl]).toEqual([7, 0x1111, 0x2222, 3]);
    // Stopping again at the same instruction until the VMM moves RIP.
    expect(cpu.run(100)).toBe('opcode');
    cpu.eip += cpu.stop.length;
    // The HLT after it, at CPL 3: #GP(0).
    expect(cpu.run(100)).toBe('exception');
    expect([cpu.stop.vector, cpu.eip]).toEqual([13, CODE + 8]);
  });

  it('stops at a SYSCALL after a loop hot enough to be compiled, the intercept set after the blocks were made', () => {
    const cpu = userLoopBeforeSyscall();
    // Without the intercept the loop runs hot and compiled (the budget ends inside it).
    expect(cpu.run(50_000)).toBe('budget');
    expect(cpu.longBlocks?.compiled ?? 0).toBeGreaterThan(0);
    cpu.intercepts.interceptOpcode(0x105);
    expect(cpu.run(1_000_000)).toBe('opcode');
    expect(cpu.stop.opcode).toBe(0x105);
    expect([cpu.eip, cpu.reg32[1], cpu.cpl]).toEqual([CODE + 4, 0, 3]);
  });

  it('leaves SYSCALL to the CPU without the intercept', () => {
    const m = longMachine([0x0f, 0x05]);
    const { cpu } = m;
    cpu.long.lstarLo = 0x200000;
    cpu.long.starHi = 0x0008;
    m.physical.write8(0x200000, 0xf4);
    expect(cpu.run(10)).toBe('hlt');
    expect(cpu.reg32[1]).toBe(CODE + 2);
  });

  it('keeps compiled blocks on under the intercept: a hot loop compiles, and SYSCALL, never compiled, still stops', () => {
    for (const bytes of [[0x0f, 0x05], [0x48, 0x0f, 0x05], [0x66, 0x0f, 0x05]]) expect(decode64(Uint8Array.from(bytes), 0, bytes.length)).toBeNull();
    const cpu = userLoopBeforeSyscall();
    cpu.intercepts.interceptOpcode(0x105);
    expect(cpu.run(1_000_000)).toBe('opcode');
    expect(cpu.longBlocks?.compiled ?? 0).toBeGreaterThan(0);
    expect([cpu.stop.opcode, cpu.eip, cpu.reg32[1], cpu.cpl]).toEqual([0x105, CODE + 4, 0, 3]);
  });
});
