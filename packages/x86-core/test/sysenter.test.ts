import { describe, expect, it } from 'vitest';
import { CS, DS, SS } from '../src/cpu.js';
import { cpuid } from '../src/cpuid.js';
import { readMsr, writeMsr } from '../src/msr.js';
import { CODE, createMachine, type TestMachine } from './support/machine.js';
import { enterIa32e } from './long/machine.js';
import { createMachine as createPmMachine } from './pm/machine.js';

// SYSENTER/SYSEXIT (SDM Vol. 2B) and IA32_SYSENTER_CS/ESP/EIP: every #GP condition, the exact state
// each instruction loads, and the same results whichever tier (interpreter, decoded records,
// compiled blocks) runs the surrounding code.

const SYSENTER_CS = 0x174;
const SYSENTER_ESP = 0x175;
const SYSENTER_EIP = 0x176;
const ECX = 1, EDX = 2, ESP = 4;
const IF = 1 << 9, RF = 1 << 16, VM = 1 << 17;
const SYSENTER = [0x0f, 0x34];
const SYSEXIT = [0x0f, 0x35];
const ENTRY = 0x4000;
const USER = 0x6000;

function machine(cs = 0x08, tiers = true): TestMachine {
  const m = createMachine('flat32', undefined, tiers, tiers);
  m.cpu.intercepts.exceptions = -1;
  writeMsr(m.cpu, SYSENTER_CS, 0, cs);
  writeMsr(m.cpu, SYSENTER_ESP, 0, 0x9000);
  writeMsr(m.cpu, SYSENTER_EIP, 0, ENTRY);
  m.memory.writeBytes(ENTRY, Uint8Array.from([0xf4]));
  m.memory.writeBytes(USER, Uint8Array.from([0xf4]));
  return m;
}

/** CPL 3 in flat ring-3 segments 0x1b/0x23 (SYSEXIT's with SYSENTER_CS 8), EFLAGS as given. */
function toRing3(m: TestMachine, eflags = 0x202): void {
  const cpu = m.cpu;
  cpu.cpl = 3;
  cpu.seg[CS] = 0x1b;
  cpu.segAccess[CS] = 0xc0fb;
  cpu.seg[SS] = 0x23;
  cpu.segAccess[SS] = 0xc0f3;
  cpu.setEflags(eflags);
  cpu.codeSizeChanged();
}

function firstStop(m: TestMachine, budget = 10): string {
  const reason = m.cpu.run(budget);
  return reason === 'exception' ? `#${m.cpu.stop.vector}(${m.cpu.stop.errorCode})` : reason;
}

function cache(m: TestMachine, s: number) {
  const c = m.cpu;
  return { selector: c.seg[s], base: c.segBase[s] >>> 0, limit: c.segLimit[s] >>> 0, access: c.segAccess[s].toString(16) };
}

describe('IA32_SYSENTER MSRs and CPUID', () => {
  it('CPUID.01H:EDX.SEP is set on the i686 and the x86-64 models', () => {
    for (const model of ['i686', 'x86-64'] as const) {
      const m = createMachine('flat32', undefined, true, true, model);
      m.cpu.reg32[0] = 1;
      cpuid(m.cpu);
      expect(m.cpu.reg32[EDX] & (1 << 11)).toBe(1 << 11);
    }
  });

  it('reset leaves all three at 0; CS keeps bits 31:0, the i686 ignores EDX for all three', () => {
    const { cpu } = createMachine('flat32');
    for (const msr of [SYSENTER_CS, SYSENTER_ESP, SYSENTER_EIP]) {
      readMsr(cpu, msr);
      expect([cpu.reg32[0], cpu.reg32[EDX]]).toEqual([0, 0]);
      writeMsr(cpu, msr, 0x12345678, 0xabcd0008 | 0);
      readMsr(cpu, msr);
      expect([cpu.reg32[0] >>> 0, cpu.reg32[EDX]]).toEqual([0xabcd0008, 0]);
    }
    cpu.reset();
    readMsr(cpu, SYSENTER_EIP);
    expect(cpu.reg32[0]).toBe(0);
  });

  it('x86-64: ESP and EIP hold 64-bit canonical addresses; a non-canonical write is #GP(0)', () => {
    const { cpu } = createMachine('flat32', undefined, true, true, 'x86-64');
    writeMsr(cpu, SYSENTER_EIP, 0xffff8000, 0x1000);
    readMsr(cpu, SYSENTER_EIP);
    expect([cpu.reg32[0], cpu.reg32[EDX] >>> 0]).toEqual([0x1000, 0xffff8000]);
    expect(() => writeMsr(cpu, SYSENTER_ESP, 0x00008000, 0)).toThrow();
    expect(() => writeMsr(cpu, SYSENTER_EIP, 0x10000, 0)).toThrow();
    writeMsr(cpu, SYSENTER_CS, 0xffffffff, 0x10);
    readMsr(cpu, SYSENTER_CS);
    expect([cpu.reg32[0], cpu.reg32[EDX]]).toEqual([0x10, 0]);
  });

  it('RDMSR and WRMSR of them at CPL 3 are #GP(0)', () => {
    const m = machine();
    toRing3(m);
    m.load([0xb9, 0x74, 0x01, 0x00, 0x00, 0x0f, 0x32]); // mov ecx, 0x174; rdmsr
    expect(firstStop(m)).toBe('#13(0)');
  });
});

describe('SYSENTER', () => {
  it('#GP(0) when SYSENTER_CS[15:2] is 0, whatever bits 1:0 and 31:16 hold', () => {
    for (const cs of [0, 1, 2, 3, 0x10000, 0xffff0003 | 0]) {
      const m = machine(cs);
      toRing3(m);
      m.load(SYSENTER);
      expect(firstStop(m)).toBe('#13(0)');
      expect(m.cpu.cpl).toBe(3);
      expect(m.cpu.eip).toBe(CODE);
    }
  });

  it('#GP(0) in real mode', () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = -1;
    writeMsr(m.cpu, SYSENTER_CS, 0, 8);
    m.load(SYSENTER);
    expect(firstStop(m)).toBe('#13(0)');
  });

  it('#UD with LOCK', () => {
    const m = machine();
    m.load([0xf0, ...SYSENTER]);
    expect(firstStop(m)).toBe('#6(-1)');
  });

  it('from CPL 3: CS = SYSENTER_CS & FFFCH, SS = CS + 8, flat DPL-0 caches, ESP/EIP from the MSRs, IF and RF clear', () => {
    const m = machine(0x0b);
    toRing3(m, 0x8d7 | IF | RF);
    m.cpu.reg32[ECX] = 0x1234;
    m.load(SYSENTER);
    expect(m.cpu.run(1)).toBe('budget');
    expect(m.cpu.cpl).toBe(0);
    expect(cache(m, CS)).toEqual({ selector: 0x08, base: 0, limit: 0xffffffff, access: 'c09b' });
    expect(cache(m, SS)).toEqual({ selector: 0x10, base: 0, limit: 0xffffffff, access: 'c093' });
    expect(m.cpu.seg[DS]).toBe(0x10); // data segments are the kernel's business
    expect(m.cpu.reg32[ESP]).toBe(0x9000);
    expect(m.cpu.eip).toBe(ENTRY);
    expect(m.cpu.getEflags()).toBe(0x8d7);
    expect(m.cpu.reg32[ECX]).toBe(0x1234);
    expect(firstStop(m)).toBe('hlt');
  });

  it('selector arithmetic wraps at 16 bits: SYSENTER_CS FFF8H gives SS 0000H', () => {
    const m = machine(0xfff8);
    m.load(SYSENTER);
    m.cpu.run(1);
    expect([m.cpu.seg[CS], m.cpu.seg[SS]]).toEqual([0xfff8, 0]);
    expect(m.cpu.segAccess[SS]).toBe(0xc093);
  });

  it('from virtual-8086 mode: VM cleared, CPL 0 in 32-bit code', () => {
    const m = machine();
    const cpu = m.cpu;
    cpu.setEflags(VM | IF | 2);
    cpu.cpl = 3;
    cpu.loadRealSegment(CS, 0);
    cpu.codeSizeChanged();
    m.load(SYSENTER);
    expect(cpu.run(1)).toBe('budget');
    expect(cpu.getEflags() & (VM | IF)).toBe(0);
    expect([cpu.cpl, cpu.seg[CS], cpu.code32, cpu.eip]).toEqual([0, 8, true, ENTRY]);
  });
});

describe('SYSEXIT', () => {
  it('#GP(0) at CPL 3, with SYSENTER_CS[15:2] 0, and in real mode', () => {
    const user = machine();
    toRing3(user);
    user.load(SYSEXIT);
    expect(firstStop(user)).toBe('#13(0)');
    for (const cs of [0, 3]) {
      const m = machine(cs);
      m.load(SYSEXIT);
      expect(firstStop(m)).toBe('#13(0)');
      expect(m.cpu.cpl).toBe(0);
    }
    const real = createMachine('real');
    real.cpu.intercepts.exceptions = -1;
    writeMsr(real.cpu, SYSENTER_CS, 0, 8);
    real.load(SYSEXIT);
    expect(firstStop(real)).toBe('#13(0)');
  });

  it('#GP(0) at CPL 1 and 2 too', () => {
    for (const cpl of [1, 2]) {
      const m = machine();
      m.cpu.cpl = cpl;
      m.load(SYSEXIT);
      expect(firstStop(m)).toBe('#13(0)');
    }
  });

  it('loads CS = SYSENTER_CS + 16 | 3, SS = + 24 | 3, ESP = ECX, EIP = EDX; flags unchanged', () => {
    const m = machine(0x0a);
    m.cpu.setEflags(0x8d7 | IF);
    m.cpu.reg32[ECX] = 0x7000;
    m.cpu.reg32[EDX] = USER;
    m.load([0x66, ...SYSEXIT]); // an operand-size prefix changes nothing outside 64-bit mode
    expect(m.cpu.run(1)).toBe('budget');
    expect(m.cpu.cpl).toBe(3);
    expect(cache(m, CS)).toEqual({ selector: 0x1b, base: 0, limit: 0xffffffff, access: 'c0fb' });
    expect(cache(m, SS)).toEqual({ selector: 0x23, base: 0, limit: 0xffffffff, access: 'c0f3' });
    expect([m.cpu.reg32[ESP], m.cpu.eip, m.cpu.getEflags()]).toEqual([0x7000, USER, 0x8d7 | IF]);
    expect(firstStop(m)).toBe('#13(0)'); // HLT at CPL 3
  });
});

/**
 * A ring-3 loop of N SYSENTER round trips whose ring-0 entry counts in EBX and returns with SYSEXIT,
 * then HLT (#GP(0) at CPL 3, intercepted) ends the run.
 */
function roundTrips(tiers: boolean) {
  const m = machine(0x08, tiers);
  // entry: inc ebx; add esi, esp; sysexit
  m.memory.writeBytes(ENTRY, Uint8Array.from([0x43, 0x01, 0xe6, ...SYSEXIT]));
  toRing3(m);
  m.load([
    0xbf, 0xe8, 0x03, 0x00, 0x00, //       mov edi, 1000
    0x89, 0xe1, //                   loop: mov ecx, esp
    0xba, 0x13, 0x10, 0x00, 0x00, //       mov edx, back (CODE + 0x13)
    0x0f, 0x34, //                         sysenter
    0xcc, 0xcc, 0xcc, 0xcc, 0xcc, //       (never run)
    0x4f, //                         back: dec edi
    0x75, 0xee, //                         jnz loop
    0xf4, //                               hlt (#GP at CPL 3)
  ]);
  const reason = firstStop(m, 100_000);
  return { reason, ebx: m.cpu.reg32[3], esi: m.cpu.reg32[6], cpl: m.cpu.cpl, esp: m.cpu.reg32[ESP], eip: m.cpu.eip };
}

describe('round trips', () => {
  it('the interpreter alone and the record/block tiers agree', () => {
    const plain = roundTrips(false);
    const tiers = roundTrips(true);
    expect(plain).toEqual({ reason: '#13(0)', ebx: 1000, esi: 1000 * 0x9000, cpl: 3, esp: 0x80000, eip: CODE + 0x16 });
    expect(tiers).toEqual(plain);
  });
});

describe('IA-32e mode (x86-64 model)', () => {
  /** Compatibility mode at CPL 3 over 0-4 MiB identity-mapped by 2 MiB pages; every exception intercepted. */
  function compat() {
    const m = createPmMachine({ model: 'x86-64', direct: true });
    const { cpu } = m;
    enterIa32e(m, 0x500); // LME and LMA: IA-32e mode active
    cpu.cpl = 3;
    for (const s of [0, CS, SS, DS]) {
      cpu.seg[s] = s === CS ? 0x1b : 0x23;
      cpu.segBase[s] = 0;
      cpu.segLimit[s] = -1;
      cpu.segAccess[s] = s === CS ? 0xc0fb : 0xc0f3;
    }
    cpu.modeChanged();
    cpu.intercepts.exceptions = -1;
    writeMsr(cpu, SYSENTER_CS, 0, 0x10);
    writeMsr(cpu, SYSENTER_ESP, 0xffffffff, 0xffff9000 | 0);
    writeMsr(cpu, SYSENTER_EIP, 0, 0x200000);
    return m;
  }

  it('SYSENTER from compatibility mode enters 64-bit mode with the full MSRs', () => {
    const m = compat();
    const { cpu, physical } = m;
    physical.writeBytes(0x1000, Uint8Array.from(SYSENTER));
    physical.writeBytes(0x200000, Uint8Array.from([0xf4]));
    cpu.eip = 0x1000;
    expect(cpu.run(1), `#${cpu.stop.vector}(${cpu.stop.errorCode}) at ${cpu.eip.toString(16)}`).toBe('budget');
    expect([cpu.mode64, cpu.cpl, cpu.seg[CS], cpu.seg[SS], cpu.segAccess[CS], cpu.segAccess[SS]]).toEqual([true, 0, 0x10, 0x18, 0xa09b, 0xc093]);
    expect([cpu.reg32[ESP] >>> 0, cpu.regHi[ESP]]).toEqual([0xffff9000, -1]);
    expect([cpu.eip, cpu.ripHi]).toEqual([0x200000, 0]);
  });

  it('SYSEXIT with REX.W returns to 64-bit mode (CS + 32, SS + 40); without it to compatibility mode; RCX/RDX must be canonical', () => {
    const m = compat();
    const { cpu, physical } = m;
    physical.writeBytes(0x1000, Uint8Array.from(SYSENTER));
    // entry: mov rcx, rsp (48 89 e1); mov edx, 0x3000; rex.w sysexit (48 0f 35)
    physical.writeBytes(0x200000, Uint8Array.from([0x48, 0x89, 0xe1, 0xba, 0x00, 0x30, 0x00, 0x00, 0x48, ...SYSEXIT]));
    cpu.eip = 0x1000;
    expect(cpu.run(4)).toBe('budget');
    expect([cpu.mode64, cpu.cpl, cpu.seg[CS], cpu.seg[SS], cpu.segAccess[CS], cpu.segAccess[SS]]).toEqual([true, 3, 0x33, 0x3b, 0xa0fb, 0xc0f3]);
    expect([cpu.reg32[ESP] >>> 0, cpu.regHi[ESP], cpu.eip, cpu.ripHi]).toEqual([0xffff9000, -1, 0x3000, 0]);

    const back = compat();
    back.physical.writeBytes(0x1000, Uint8Array.from(SYSENTER));
    // entry: mov ecx, 0x7000; mov edx, 0x3000; sysexit (32-bit: compatibility mode, RSP zero-extended)
    back.physical.writeBytes(0x200000, Uint8Array.from([0xb9, 0x00, 0x70, 0x00, 0x00, 0xba, 0x00, 0x30, 0x00, 0x00, ...SYSEXIT]));
    back.cpu.eip = 0x1000;
    expect(back.cpu.run(4)).toBe('budget');
    expect([back.cpu.mode64, back.cpu.code32, back.cpu.seg[CS], back.cpu.seg[SS], back.cpu.regHi[ESP], back.cpu.eip]).toEqual([false, true, 0x23, 0x2b, 0, 0x3000]);

    const bad = compat();
    bad.physical.writeBytes(0x1000, Uint8Array.from(SYSENTER));
    // entry: mov rcx, 0x0000800000000000 (48 b9 imm64); rex.w sysexit
    bad.physical.writeBytes(0x200000, Uint8Array.from([0x48, 0xb9, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x48, ...SYSEXIT]));
    bad.cpu.eip = 0x1000;
    bad.cpu.run(2);
    const reason = bad.cpu.run(10);
    expect(reason === 'exception' ? `#${bad.cpu.stop.vector}(${bad.cpu.stop.errorCode})` : reason).toBe('#13(0)');
    expect(bad.cpu.cpl).toBe(0);
  });
});
