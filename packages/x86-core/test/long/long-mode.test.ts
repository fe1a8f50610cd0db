import { describe, expect, it } from 'vitest';
import { CS, TR } from '../../src/cpu.js';
import { cpuid } from '../../src/cpuid.js';
import { readMsr, writeMsr } from '../../src/msr.js';
import { writeControlRegister } from '../../src/system/index.js';
import { createMachine, type Machine } from '../pm/machine.js';
import { CODE, LMA, LME, longMachine } from './machine.js';
import { random } from '../support/random.js';

const EFER = 0xc0000080;
const LSTAR = 0xc0000082;

/** Runs until the first stop; returns the exception vector and error code, or the reason. */
function firstStop(m: Machine, budget = 100): string {
  const reason = m.cpu.run(budget);
  return reason === 'exception' ? `#${m.cpu.stop.vector}(${m.cpu.stop.errorCode})` : reason;
}

/**
 * A GDT with a 64-bit ring-0 code segment (0x08), a TSS with RSP0, and an IDT whose 256 gates all
 * lead to a HLT: a fault then ends the run in 'hlt' instead of a triple fault.
 */
function saneTables(m: Machine): void {
  const { cpu, physical } = m;
  const gdt = 0x3a0000;
  const idt = 0x3a1000;
  const tss = 0x3a2000;
  const handler = 0x3a3000;
  physical.write32(gdt + 8, 0x0000ffff);
  physical.write32(gdt + 12, 0x00af9a00);
  physical.write32(handler, 0xfdebf4); // hlt; jmp $-1
  for (let v = 0; v < 256; v++) {
    physical.write32(idt + v * 16, (0x08 << 16) | (handler & 0xffff));
    physical.write32(idt + v * 16 + 4, (handler & 0xffff0000) | 0xee00);
    physical.write32(idt + v * 16 + 8, 0);
    physical.write32(idt + v * 16 + 12, 0);
  }
  physical.write32(tss + 4, 0x3b0000);
  cpu.gdtrBase = gdt;
  cpu.gdtrLimit = 0xf;
  cpu.idtrBase = idt;
  cpu.idtrLimit = 0xfff;
  cpu.segBase[TR] = tss;
  cpu.segLimit[TR] = 0x67;
  cpu.segAccess[TR] = 0x8b;
}

describe('IA-32e mode', () => {
  it('activates with CR0.PG when EFER.LME and CR4.PAE are set; refuses PG without PAE and LME changes under paging', () => {
    const { cpu } = createMachine({ model: 'x86-64' });
    cpu.cr0 = 0x11;
    cpu.modeChanged();
    writeMsr(cpu, EFER, 0, LME);
    expect(() => writeControlRegister(cpu, 0, 0x80000011 | 0)).toThrow();
    expect(cpu.efer & LMA).toBe(0);
    writeControlRegister(cpu, 4, 0x20);
    writeControlRegister(cpu, 0, 0x80000011 | 0);
    expect(cpu.efer & LMA).toBe(LMA);
    expect(cpu.mode64).toBe(false); // compatibility mode until CS.L
    expect(() => writeMsr(cpu, EFER, 0, 0)).toThrow();
    expect(() => writeControlRegister(cpu, 4, 0)).toThrow();
    readMsr(cpu, EFER);
    expect(cpu.reg32[0]).toBe(LME | LMA);
    writeControlRegister(cpu, 0, 0x11);
    expect(cpu.efer & LMA).toBe(0);
  });

  it('leaves the i686 model as it was: no EFER, no extended CPUID leaves', () => {
    const { cpu } = createMachine();
    expect(() => writeMsr(cpu, EFER, 0, LME)).toThrow();
    cpu.reg32[0] = 0x80000000 | 0;
    cpuid(cpu);
    expect(cpu.reg32[0]).toBe(0x0619);
    const long = createMachine({ model: 'x86-64' }).cpu;
    long.reg32[0] = 0x80000001 | 0;
    cpuid(long);
    expect(long.reg32[2] & (1 << 29)).not.toBe(0); // EDX (reg32 is EAX, ECX, EDX, EBX): LM
    expect(long.reg32[3]).toBe(0);
  });

  it('reports CMPXCHG16B (leaf 1 ECX bit 13) on the x86-64 model only, which executes it', () => {
    const { cpu } = createMachine();
    cpu.reg32[0] = 1;
    cpuid(cpu);
    expect(cpu.reg32[1]).toBe(0);
    const long = createMachine({ model: 'x86-64' }).cpu;
    long.reg32[0] = 1;
    cpuid(long);
    expect(long.reg32[1]).toBe(1 << 13);
  });

  it('executes LOCK CMPXCHG16B: swaps on equal, loads RDX:RAX on unequal, #GP(0) misaligned, #UD on a register', () => {
    const cmpxchg16b = [0xf0, 0x48, 0x0f, 0xc7, 0x0e, 0xf4]; // lock cmpxchg16b [rsi]; hlt
    const at = 0x200000;
    const setUp = (rax: [number, number], rsi = at): Machine => {
      const m = longMachine(cmpxchg16b);
      const { cpu, physical } = m;
      physical.write32(at, 0x22222222);
      physical.write32(at + 4, 0x11111111);
      physical.write32(at + 8, 0x44444444);
      physical.write32(at + 12, 0x33333333);
      cpu.reg32[0] = rax[0];
      cpu.regHi[0] = rax[1];
      cpu.reg32[2] = 0x44444444;
      cpu.regHi[2] = 0x33333333;
      cpu.reg32[3] = 0x66666666; // RCX:RBX, the new value
      cpu.regHi[3] = 0x55555555;
      cpu.reg32[1] = 0x88888888 | 0;
      cpu.regHi[1] = 0x77777777;
      cpu.reg32[6] = rsi;
      return m;
    };
    const zf = (m: Machine): number => (m.cpu.materializeFlags(), m.cpu.flags & 0x40);
    let m = setUp([0x22222222, 0x11111111]);
    expect(firstStop(m)).toBe('hlt');
    expect(zf(m)).toBe(0x40);
    expect([0, 4, 8, 12].map((o) => m.physical.read32(at + o) >>> 0)).toEqual([0x66666666, 0x55555555, 0x88888888, 0x77777777]);
    m = setUp([0x22222223, 0x11111111]);
    expect(firstStop(m)).toBe('hlt');
    expect(zf(m)).toBe(0);
    expect([m.cpu.reg32[0], m.cpu.regHi[0], m.cpu.reg32[2], m.cpu.regHi[2]]).toEqual([0x22222222, 0x11111111, 0x44444444, 0x33333333]);
    expect(m.physical.read32(at)).toBe(0x22222222);
    expect(firstStop(setUp([0, 0], at + 8))).toBe('#13(0)');
    expect(firstStop(longMachine([0x48, 0x0f, 0xc7, 0xc8]))).toBe('#6(-1)'); // no error code
  });

  it('raises #SS(0) for a non-canonical stack address and #GP(0) for a non-canonical data address or LSTAR', () => {
    // push rax with RSP = 0x0000800000000008
    let m = longMachine([0x50]);
    m.cpu.reg32[4] = 8;
    m.cpu.regHi[4] = 0x8000;
    expect(firstStop(m)).toBe('#12(0)');
    expect(m.cpu.eip).toBe(CODE);
    // mov rax, [rbx] with RBX = 0xfff0000000000000
    m = longMachine([0x48, 0x8b, 0x03]);
    m.cpu.regHi[3] = 0xfff00000 | 0;
    expect(firstStop(m)).toBe('#13(0)');
    // mov rax, [rbp] (SS-relative) with RBP non-canonical: #SS(0)
    m = longMachine([0x48, 0x8b, 0x45, 0x00]);
    m.cpu.regHi[5] = 0x10000;
    expect(firstStop(m)).toBe('#12(0)');
    // wrmsr LSTAR = 0x0000800000000000 (QEMU accepts it; the SDM makes it #GP(0))
    m = longMachine([0x0f, 0x30]);
    m.cpu.reg32[1] = LSTAR | 0;
    m.cpu.reg32[2] = 0x8000;
    expect(firstStop(m)).toBe('#13(0)');
  });

  it('raises #UD for the opcodes 64-bit mode removed and for SYSCALL without EFER.SCE; #GP past 15 bytes', () => {
    for (const op of [0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x62, 0x82, 0x9a, 0xc4, 0xc5, 0xce, 0xd4, 0xd5, 0xd6, 0xea]) {
      expect(firstStop(longMachine([op, 0, 0, 0, 0, 0, 0, 0])), `opcode ${op.toString(16)}`).toBe('#6(-1)');
    }
    expect(firstStop(longMachine([0x0f, 0x05], LME | LMA))).toBe('#6(-1)');
    expect(firstStop(longMachine(new Array(15).fill(0x66).concat([0x90])))).toBe('#13(0)');
    expect(firstStop(longMachine([0x66, 0x66, 0x90, 0xf4]))).toBe('hlt');
    // LOCK: only before a lockable read-modify-write of memory.
    expect(firstStop(longMachine([0xf0, 0x90]))).toBe('#6(-1)');
    expect(firstStop(longMachine([0xf0, 0x4d, 0x01, 0xc8]))).toBe('#6(-1)'); // lock add r8, r9
    expect(firstStop(longMachine([0xf0, 0x48, 0x8b, 0x03]))).toBe('#6(-1)'); // lock mov rax, [rbx]
    const locked = longMachine([0xf0, 0x4c, 0x01, 0x0b, 0xf0, 0x48, 0x0f, 0xc1, 0x03, 0xf4]); // lock add [rbx], r9; lock xadd [rbx], rax
    locked.cpu.reg32[3] = 0x2000;
    locked.cpu.reg32[9] = 5;
    locked.cpu.reg32[0] = 7;
    expect(firstStop(locked)).toBe('hlt');
    expect(locked.physical.read32(0x2000)).toBe(12);
    expect(locked.cpu.reg32[0]).toBe(5);
  });

  it('counts the imm8 of SHLD/SHRD in a RIP-relative address (QEMU 7.2 does not: its guest uses CL there)', () => {
    // shrd qword [rip + 0x20], r9, 4; shld qword [rip + 0x17], r9, 60; hlt: both at CODE + 41
    const m = longMachine([0x4c, 0x0f, 0xac, 0x0d, 0x20, 0, 0, 0, 0x04, 0x4c, 0x0f, 0xa4, 0x0d, 0x17, 0, 0, 0, 0x3c, 0xf4]);
    const target = CODE + 41;
    m.physical.write32(target, 0x89abcdef | 0);
    m.physical.write32(target + 4, 0x01234567);
    m.cpu.reg32[9] = 0x76543210;
    m.cpu.regHi[9] = 0xfedcba98 | 0;
    expect(firstStop(m, 1)).toBe('budget');
    // 0123456789abcdef >> 4 with r9's low nibble 0 coming in at the top
    expect(m.physical.read32(target) >>> 0).toBe(0x789abcde);
    expect(m.physical.read32(target + 4) >>> 0).toBe(0x00123456);
    // << 60 with r9's top 60 bits coming in: efedcba987654321
    expect(firstStop(m)).toBe('hlt');
    expect(m.physical.read32(target) >>> 0).toBe(0x87654321);
    expect(m.physical.read32(target + 4) >>> 0).toBe(0xefedcba9);
  });

  it('runs the x87 in 64-bit mode with RIP-relative and REX operands, checking the whole operand first', () => {
    // fninit; fld1; fstp tword [rip + 0x100]; fldt [r9]; fistp dword [r9 + 16]; hlt
    const m = longMachine([0xdb, 0xe3, 0xd9, 0xe8, 0xdb, 0x3d, 0x00, 0x01, 0, 0, 0x41, 0xdb, 0x29, 0x41, 0xdb, 0x59, 0x10, 0xf4]);
    m.cpu.reg32[9] = CODE + 10 + 0x100;
    expect(firstStop(m)).toBe('hlt');
    expect(m.physical.read32(CODE + 0x10a + 4) >>> 0).toBe(0x80000000);
    expect(m.physical.read32(CODE + 0x10a + 8) & 0xffff).toBe(0x3fff);
    expect(m.physical.read32(CODE + 0x11a)).toBe(1);
    // fld tword [rax] with its last byte past 2^47: #GP(0) before anything loads; through RBP: #SS(0)
    const gp = longMachine([0xdb, 0x28]);
    gp.cpu.reg32[0] = 0xfffffffa | 0;
    gp.cpu.regHi[0] = 0x7fff;
    expect(firstStop(gp)).toBe('#13(0)');
    expect(gp.cpu.fpu.top).toBe(0);
    const ss = longMachine([0xdb, 0x6d, 0x00]);
    ss.cpu.regHi[5] = 0x8000;
    expect(firstStop(ss)).toBe('#12(0)');
  });

  it('reads descriptors for VERW/VERR/LAR/LSL through a GDT base above 4 GiB (Linux\'s PTI entry area)', () => {
    // verw [rip + 0x39]; lar eax, [rip + 0x31]; hlt; the selector 0x10 at CODE + 0x40
    const m = longMachine([0x0f, 0x00, 0x2d, 0x39, 0, 0, 0, 0x0f, 0x02, 0x05, 0x32, 0, 0, 0, 0xf4]);
    m.physical.write32(CODE + 0x40, 0x10);
    m.physical.write32(0x71000 + 4 * 8, 0x73007); // 4-5 GiB: a directory whose second 2 MiB page is frame 0
    m.physical.write32(0x73000 + 8, 0x87);
    m.physical.write32(0x1010, 0x0000ffff); // GDT at linear 1_00201000 = frame 0x1000: 0x10 writable data
    m.physical.write32(0x1014, 0x00cf9300);
    m.cpu.gdtrBase = 0x201000;
    m.cpu.long.gdtrBaseHi = 1;
    m.cpu.gdtrLimit = 0xff;
    expect(firstStop(m, 1)).toBe('budget');
    expect(m.cpu.getZF()).toBe(true);
    expect(firstStop(m)).toBe('hlt');
    expect(m.cpu.reg32[0]).toBe(0x00c09300); // LAR masks the limit's top bits
  });

  it('refuses to leave paging from 64-bit code and keeps CR2 64 bits wide', () => {
    // mov rax, cr0; btr eax, 31; mov cr0, rax
    const m = longMachine([0x0f, 0x20, 0xc0, 0x0f, 0xba, 0xf0, 0x1f, 0x0f, 0x22, 0xc0]);
    expect(firstStop(m)).toBe('#13(0)');
    // mov rax, [0x00007f0000000000] (movabs): #PF with the full address in CR2
    const pf = longMachine([0x48, 0xa1, 0, 0, 0, 0, 0, 0x7f, 0, 0]);
    expect(firstStop(pf)).toBe('#14(0)');
    expect(pf.cpu.cr2).toBe(0);
    expect(pf.cpu.cr2Hi).toBe(0x7f00);
  });

  it('never lets random bytes escape run(): 300 programs at CPL 0 and 3, with garbage or sane IDTs', { timeout: 60_000 }, () => {
    const next = random(64);
    const counts = new Map<string, number>();
    for (let program = 0; program < 300; program++) {
      const m = longMachine();
      const { cpu, physical } = m;
      const junk = new Uint8Array(0x10000);
      for (let i = 0; i < junk.length; i += 4) {
        const v = next();
        junk[i] = v; junk[i + 1] = v >>> 8; junk[i + 2] = v >>> 16; junk[i + 3] = v >>> 24;
      }
      physical.writeBytes(CODE, junk);
      physical.writeBytes(0x300000, junk);
      cpu.intercepts.exceptions = 0;
      for (let r = 0; r < 16; r++) {
        cpu.reg32[r] = next();
        cpu.regHi[r] = next() & 1 ? 0 : next() & 1 ? -1 : next();
      }
      if (program % 4 < 2) {
        cpu.gdtrBase = 0x300000 + (next() & 0xfff0);
        cpu.gdtrLimit = next() & 0xffff;
        cpu.idtrBase = 0x300000 + (next() & 0xfff0);
        cpu.idtrLimit = next() & 0xfff;
      } else saneTables(m);
      if (program % 2 === 1) {
        cpu.cpl = 3;
        cpu.segAccess[CS] = 0xa0fb;
        physical.write32(0x72000, 0x87 | 4);
        physical.write32(0x70000, 0x71007);
      }
      cpu.eip = CODE + (next() & 0xfff0);
      cpu.setEflags(next() & 0xcd5);
      cpu.codeSizeChanged();
      let reason = '';
      expect(() => {
        reason = cpu.run(2000);
      }).not.toThrow();
      if (reason === 'internal-error') throw new Error(`internal error: ${cpu.stop.detail} (program ${program})`);
      expect(['budget', 'hlt', 'shutdown']).toContain(reason);
      counts.set(reason, (counts.get(reason) ?? 0) + 1);
    }
    // The programs do reach every ending: a guest that always triple-faults would prove little.
    expect(counts.get('hlt') ?? 0).toBeGreaterThan(0);
    expect(counts.get('shutdown') ?? 0).toBeGreaterThan(0);
  });
});
