import { describe, expect, it } from 'vitest';
import { CS, DS, ES, FS, SS, TR, type Cpu } from '../../src/cpu.js';
import { CpuFault } from '../../src/fault.js';
import {
  TripleFault, adjustRpl, checkIoPermission, clearTaskSwitched, deliverException, deliverInterrupt, eflagsForPush,
  farCall, farJump, farReturn, interruptReturn, loadAccessRights, loadGdtr, loadIdtr, loadLdtr, loadMachineStatusWord,
  loadSegment, loadSegmentLimit, loadTr, popEflags, readControlRegister, readDebugRegister, storeLdtr, storeTr,
  verifyRead, verifyWrite, writeControlRegister, writeDebugRegister,
} from '../../src/system/index.js';
import { type Machine, createMachine } from './machine.js';

const GDT = 0x10000;
const IDT = 0x11000;
const TSS = 0x12000;
const STACK0 = 0x30000;
const STACK3 = 0x38000;

const FLAT_CODE0 = [0x0000ffff, 0x00cf9a00];
const FLAT_DATA0 = [0x0000ffff, 0x00cf9200];
const FLAT_CODE3 = [0x0000ffff, 0x00cffa00];
const FLAT_DATA3 = [0x0000ffff, 0x00cff200];

function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (base & 0xff000000) | (flags << 20) | (limit & 0xf0000) | (access << 8) | ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

function gate(selector: number, offset: number, attr: number, params = 0): [number, number] {
  return [((selector << 16) | (offset & 0xffff)) >>> 0, ((offset & 0xffff0000) | (attr << 8) | params) >>> 0];
}

/** Ring 0, flat segments, TR loaded, an IDT of not-present gates: what a small kernel sets up. */
type ProtectedMachine = Machine & { setGdt(sel: number, d: number[]): void; setIdt(v: number, d: number[]): void };

function protectedMachine(): ProtectedMachine {
  return enterProtectedMode(createMachine());
}

function enterProtectedMode(m: Machine): ProtectedMachine {
  const { cpu, physical } = m;
  cpu.reset();
  const setGdt = (sel: number, d: number[]) => {
    physical.write32(GDT + (sel & ~7), d[0]);
    physical.write32(GDT + (sel & ~7) + 4, d[1]);
  };
  const setIdt = (v: number, d: number[]) => {
    physical.write32(IDT + v * 8, d[0]);
    physical.write32(IDT + v * 8 + 4, d[1]);
  };
  for (let v = 0; v < 256; v++) setIdt(v, gate(0x08, 0x7000, 0x0e)); // not present
  for (let i = 0; i < 0x100; i += 4) physical.write32(GDT + i, 0);
  for (let i = 0; i < 0x68; i += 4) physical.write32(TSS + i, 0);
  setGdt(0x08, FLAT_CODE0);
  setGdt(0x10, FLAT_DATA0);
  setGdt(0x18, FLAT_CODE3);
  setGdt(0x20, FLAT_DATA3);
  setGdt(0x28, descriptor(TSS, 0x67, 0x89, 0));
  physical.write32(TSS + 4, STACK0);
  physical.write32(TSS + 8, 0x10);
  cpu.gdtrBase = GDT;
  cpu.gdtrLimit = 0xff;
  cpu.idtrBase = IDT;
  cpu.idtrLimit = 0x7ff;
  cpu.cr0 |= 1;
  cpu.modeChanged();
  farJump(cpu, 0x08, 0x1000, true);
  for (const s of [SS, DS]) loadSegment(cpu, s, 0x10);
  loadTr(cpu, 0x28);
  cpu.reg32[4] = STACK0;
  return Object.assign(m, { setGdt, setIdt });
}

function faultOf(action: () => void): [number, number] | string {
  try {
    action();
  } catch (e) {
    if (e instanceof CpuFault) return [e.vector, e.errorCode];
    if (e instanceof TripleFault) return 'triple';
    throw e;
  }
  return 'none';
}

const stackDword = (m: Machine, offset: number) => m.physical.read32(((m.cpu.reg32[4] >>> 0) + offset) >>> 0);

describe('interrupt and exception delivery', () => {
  it('an external interrupt through a not-present gate delivers #NP with IDT and EXT set', () => {
    const m = protectedMachine();
    m.setIdt(11, gate(0x08, 0x2000, 0x8e));
    m.cpu.eip = 0x1234;
    deliverInterrupt(m.cpu, 0x20, 'external');
    expect(m.cpu.eip).toBe(0x2000);
    expect(stackDword(m, 0)).toBe(0x20 * 8 + 2 + 1);
    expect(stackDword(m, 4)).toBe(0x1234);
  });

  it('INT n through a not-present gate is the instruction\'s own #NP, without EXT', () => {
    const m = protectedMachine();
    expect(faultOf(() => deliverInterrupt(m.cpu, 0x51, 'software'))).toEqual([11, 0x51 * 8 + 2]);
    expect(m.cpu.reg32[4]).toBe(STACK0);
  });

  it('a 16-bit interrupt gate pushes a 16-bit frame', () => {
    const m = protectedMachine();
    m.setIdt(0x30, gate(0x08, 0x3000, 0x86));
    m.cpu.eip = 0x4321;
    deliverInterrupt(m.cpu, 0x30, 'software');
    expect(m.cpu.reg32[4]).toBe(STACK0 - 6);
    expect(m.physical.read16(STACK0 - 6)).toBe(0x4321);
    expect(m.physical.read16(STACK0 - 4)).toBe(0x08);
  });

  it('a benign exception whose delivery faults is followed by the contributory one (serially)', () => {
    const m = protectedMachine();
    m.setIdt(11, gate(0x08, 0x2000, 0x8e));
    deliverException(m.cpu, 1);
    expect(m.cpu.eip).toBe(0x2000);
    expect(stackDword(m, 0)).toBe(1 * 8 + 2 + 1);
  });

  it('#PF whose delivery faults becomes #DF with error code 0', () => {
    const m = protectedMachine();
    m.setIdt(8, gate(0x08, 0x8000, 0x8e));
    deliverException(m.cpu, 14, 2);
    expect(m.cpu.eip).toBe(0x8000);
    expect(stackDword(m, 0)).toBe(0);
  });

  it('a contributory exception while delivering #DF is a triple fault', () => {
    const m = protectedMachine();
    m.cpu.idtrLimit = 0;
    expect(faultOf(() => deliverException(m.cpu, 13, 0))).toBe('triple');
  });

  it('in real mode an IVT limit of 0 ends in a triple fault too', () => {
    const m = createMachine();
    m.cpu.idtrLimit = 0;
    expect(faultOf(() => deliverException(m.cpu, 0))).toBe('triple');
  });

  it('a ring-3 interrupt whose TSS stack is unusable raises #TS(SS0 selector) with EXT', () => {
    const m = protectedMachine();
    m.setGdt(0x38, [0x0000ffff, 0x00cfba00]); // ring-1 code
    m.setIdt(0x20, gate(0x38, 0x2000, 0x8e));
    m.setIdt(10, gate(0x08, 0x2100, 0x8e));
    m.physical.write32(TSS + 12, 0x28000); // ESP1
    m.physical.write32(TSS + 16, 0x13); // SS1: RPL 3, not 1
    interruptReturnToRing3(m, 0x6000);
    deliverInterrupt(m.cpu, 0x20, 'external');
    expect(m.cpu.eip).toBe(0x2100);
    expect(m.cpu.cpl).toBe(0);
    expect(stackDword(m, 0)).toBe(0x10 | 1);
    expect(stackDword(m, 4)).toBe(0x6000);
  });
});

describe('TSS formats and stacks', () => {
  it('a 16-bit TSS supplies SP0/SS0 for a ring-3 interrupt and denies I/O above IOPL outright', () => {
    const m = protectedMachine();
    const tss16 = 0x13000;
    m.physical.write16(tss16 + 2, 0x7000); // SP0
    m.physical.write16(tss16 + 4, 0x10); // SS0
    m.setGdt(0x30, descriptor(tss16, 0x2b, 0x81, 0));
    m.cpu.seg[TR] = 0; // leave the 32-bit TSS behind without a task switch
    loadTr(m.cpu, 0x30);
    m.setIdt(0x20, gate(0x08, 0x2000, 0x8e));
    interruptReturnToRing3(m, 0x6000);
    expect(faultOf(() => checkIoPermission(m.cpu, 0x80, 1))).toEqual([13, 0]);
    deliverInterrupt(m.cpu, 0x20, 'external');
    expect(m.cpu.reg32[4] >>> 0).toBe(0x7000 - 20);
    expect(stackDword(m, 12)).toBe(STACK3);
  });

  it('an expand-down stack accepts pushes above its limit and faults #SS below it', () => {
    const m = protectedMachine();
    m.setGdt(0x30, descriptor(0, 0x2fff, 0x96, 0x4)); // expand-down, B=1: offsets 0x3000..0xffffffff
    loadSegment(m.cpu, SS, 0x30);
    m.setIdt(0x30, gate(0x08, 0x3000, 0x8e));
    m.cpu.reg32[4] = 0x3010;
    deliverInterrupt(m.cpu, 0x30, 'software');
    expect(m.cpu.reg32[4] >>> 0).toBe(0x3004);
    m.cpu.reg32[4] = 0x3008;
    expect(faultOf(() => deliverInterrupt(m.cpu, 0x30, 'software'))).toEqual([12, 0]);
  });

  it('a task gate whose TSS selector points into the LDT is #GP(selector)', () => {
    const m = protectedMachine();
    m.setGdt(0x38, gate(0x34, 0, 0xe5));
    expect(faultOf(() => farJump(m.cpu, 0x38, 0, true))).toEqual([13, 0x34]);
  });
});

describe('privilege checks on far transfers', () => {
  it('a direct far JMP to a more privileged non-conforming segment is #GP(selector)', () => {
    const m = protectedMachine();
    m.cpu.cpl = 3;
    expect(faultOf(() => farJump(m.cpu, 0x08, 0, true))).toEqual([13, 0x08]);
  });

  it('a 16-bit call gate copies word parameters to the inner stack', () => {
    const m = protectedMachine();
    m.setGdt(0x30, gate(0x08, 0x5000, 0xe4, 1));
    const { cpu } = m;
    interruptReturnToRing3(m, 0x6000);
    cpu.reg32[4] = STACK3 - 2;
    m.physical.write16(STACK3 - 2, 0xbeef);
    farCall(cpu, 0x33, 0, false);
    expect(cpu.cpl).toBe(0);
    expect(cpu.eip).toBe(0x5000);
    const sp = cpu.reg32[4] >>> 0;
    expect([0, 2, 4, 6, 8].map((o) => m.physical.read16(sp + o))).toEqual([0x6000, 0x1b, 0xbeef, (STACK3 - 2) & 0xffff, 0x23]);
    farReturn(cpu, false, 2);
    expect(cpu.cpl).toBe(3);
    // A 16-bit RET pops a 16-bit ESP: the upper half of the 32-bit stack pointer is lost.
    expect(cpu.reg32[4] >>> 0).toBe(STACK3 & 0xffff);
    expect(cpu.seg[CS]).toBe(0x1b);
  });

  it('a call gate to conforming ring-0 code keeps CPL 3 and the caller\'s stack', () => {
    const m = protectedMachine();
    m.setGdt(0x38, [0x0000ffff, 0x00cf9e00]); // conforming code, DPL 0
    m.setGdt(0x30, gate(0x38, 0x5000, 0xec, 2));
    interruptReturnToRing3(m, 0x6000);
    farCall(m.cpu, 0x33, 0, true);
    expect(m.cpu.cpl).toBe(3);
    expect(m.cpu.seg[CS]).toBe(0x3b);
    expect(m.cpu.reg32[4] >>> 0).toBe(STACK3 - 8); // CS:EIP only: no stack switch, no parameters
  });

  it('RET far to an inner ring is #GP(selector)', () => {
    const m = protectedMachine();
    interruptReturnToRing3(m, 0x6000);
    m.cpu.reg32[4] = STACK3 - 8;
    m.physical.write32(STACK3 - 8, 0x1000);
    m.physical.write32(STACK3 - 4, 0x08);
    expect(faultOf(() => farReturn(m.cpu, true, 0))).toEqual([13, 0x08]);
  });
});

/** IRET from ring 0 to ring 3 at `eip` on the ring-3 stack. */
function interruptReturnToRing3(m: Machine, eip: number): void {
  const frame = [eip, 0x1b, 0x2, STACK3, 0x23];
  const top = STACK0 - frame.length * 4;
  frame.forEach((v, i) => m.physical.write32(top + i * 4, v));
  m.cpu.reg32[4] = top;
  interruptReturn(m.cpu, true);
  expect(m.cpu.cpl).toBe(3);
}

describe('flags, control registers and descriptor queries', () => {
  it('POPF at CPL 3 changes neither IOPL nor IF (IOPL 0); at CPL 0 both', () => {
    const m = protectedMachine();
    interruptReturnToRing3(m, 0x6000);
    popEflags(m.cpu, 0x3202 | 1, true);
    expect(m.cpu.getEflags() & 0x3201).toBe(1);
    const k = protectedMachine();
    popEflags(k.cpu, 0x3202, true);
    expect(k.cpu.getEflags() & 0x3200).toBe(0x3200);
  });

  it('MOV CR faults: reserved CR4 bits, CR1, CPL 3; LMSW cannot clear PE; CLTS', () => {
    const m = protectedMachine();
    expect(faultOf(() => writeControlRegister(m.cpu, 4, 1 << 13))).toEqual([13, 0]);
    expect(faultOf(() => readControlRegister(m.cpu, 1))).toEqual([6, 0]);
    loadMachineStatusWord(m.cpu, 0x8);
    expect(m.cpu.cr0 & 0xf).toBe(0x9);
    clearTaskSwitched(m.cpu);
    expect(m.cpu.cr0 & 0x8).toBe(0);
    m.cpu.cpl = 3;
    expect(faultOf(() => writeControlRegister(m.cpu, 0, m.cpu.cr0))).toEqual([13, 0]);
  });

  it('CR4 accepts the paging extensions only when the paging unit reports them, OSFXSR (FXSR), no SSE bits', () => {
    const m = protectedMachine();
    writeControlRegister(m.cpu, 4, 0xb4); // PGE PAE PSE TSD
    expect(m.cpu.cr4).toBe(0xb4);
    writeControlRegister(m.cpu, 4, 0xb4 | (1 << 9)); // OSFXSR
    expect(m.cpu.cr4).toBe(0x2b4);
    expect(faultOf(() => writeControlRegister(m.cpu, 4, 1 << 10))).toEqual([13, 0]); // OSXMMEXCPT: no SSE
    expect(faultOf(() => writeControlRegister(m.cpu, 4, 1 << 0))).toEqual([13, 0]); // VME
    m.cpu.pagingFeatures = 0;
    expect(faultOf(() => writeControlRegister(m.cpu, 4, 1 << 5))).toEqual([13, 0]);
  });

  it('LAR sees call gates, LSL does not; VERR/VERW; ARPL', () => {
    const m = protectedMachine();
    m.setGdt(0x30, gate(0x08, 0x5000, 0xec, 2));
    expect(loadAccessRights(m.cpu, 0x30) >>> 0).toBe(0xec02 & 0xff00);
    expect(m.cpu.getEflags() & 0x40).toBe(0x40);
    expect(loadSegmentLimit(m.cpu, 0x30)).toBe(-1);
    expect(m.cpu.getEflags() & 0x40).toBe(0);
    verifyRead(m.cpu, 0x10);
    expect(m.cpu.getEflags() & 0x40).toBe(0x40);
    verifyWrite(m.cpu, 0x08);
    expect(m.cpu.getEflags() & 0x40).toBe(0);
    expect(adjustRpl(0x10, 3)).toBe(0x13);
    expect(adjustRpl(0x13, 1)).toBe(-1);
  });
});

describe('debug registers and descriptor-table registers', () => {
  it('DR4/DR5 alias DR6/DR7 unless CR4.DE makes them #UD; DR6/DR7 keep their fixed bits', () => {
    const m = protectedMachine();
    writeDebugRegister(m.cpu, 5, 0);
    expect(readDebugRegister(m.cpu, 7)).toBe(0x400);
    writeDebugRegister(m.cpu, 4, 0);
    expect(readDebugRegister(m.cpu, 6)).toBe(0xffff0ff0);
    writeControlRegister(m.cpu, 4, 1 << 3);
    expect(faultOf(() => readDebugRegister(m.cpu, 4))).toEqual([6, 0]);
    m.cpu.cpl = 3;
    expect(faultOf(() => readDebugRegister(m.cpu, 0))).toEqual([13, 0]);
  });

  it('DR7.GD makes the next MOV DRn fault #DB with DR6.BD set and GD cleared', () => {
    const m = protectedMachine();
    writeDebugRegister(m.cpu, 7, 0x2000);
    expect(faultOf(() => readDebugRegister(m.cpu, 0))).toEqual([1, 0]);
    expect(readDebugRegister(m.cpu, 6) & 0x2000).toBe(0x2000);
    expect(readDebugRegister(m.cpu, 7) & 0x2000).toBe(0);
  });

  it('LGDT with a 16-bit operand keeps 24 bits of base; SLDT/STR are #UD in real mode', () => {
    const m = createMachine();
    loadGdtr(m.cpu, 0x1234ffff, 0xaabbccdd, false);
    expect([m.cpu.gdtrLimit, m.cpu.gdtrBase]).toEqual([0xffff, 0xbbccdd]);
    loadIdtr(m.cpu, 0x7ff, 0xaabbccdd, true);
    expect(m.cpu.idtrBase >>> 0).toBe(0xaabbccdd);
    expect(faultOf(() => storeTr(m.cpu))).toEqual([6, 0]);
    expect(faultOf(() => storeLdtr(m.cpu))).toEqual([6, 0]);
  });

  it('PUSHF in v86 mode with IOPL < 3 is #GP(0); with IOPL 3 it hides VM and RF', () => {
    const m = protectedMachine();
    m.cpu.setEflags(0x20002 | 0x10000);
    m.cpu.cpl = 3;
    expect(faultOf(() => eflagsForPush(m.cpu))).toEqual([13, 0]);
    m.cpu.setEflags(0x23002 | 0x10000);
    expect(eflagsForPush(m.cpu)).toBe(0x3002);
  });
});

describe('hostile descriptor tables', () => {
  it('tables outside RAM, limits of 0 and wrapping bases give architectural faults only', () => {
    const m = protectedMachine();
    const { cpu } = m;
    cpu.gdtrBase = 0xfffffff8; // wraps past 4 GiB
    cpu.gdtrLimit = 0xffff;
    const outcome = faultOf(() => loadSegment(cpu, DS, 0x10));
    expect(outcome === 'none' || Array.isArray(outcome)).toBe(true);
    cpu.gdtrLimit = 0;
    expect(faultOf(() => loadSegment(cpu, DS, 0x08))).toEqual([13, 0x08]);
    expect(faultOf(() => loadTr(cpu, 0x28))).toEqual([13, 0x28]);
    expect(faultOf(() => loadLdtr(cpu, 0x30))).toEqual([13, 0x30]);
    cpu.idtrBase = 0xfff00000; // unbacked: reads all ones, which is not a valid gate type
    expect(faultOf(() => deliverInterrupt(cpu, 0x40, 'software'))).toEqual([13, 0x40 * 8 + 2]);
    expect(faultOf(() => deliverException(cpu, 13, 0))).toBe('triple');
  });

  it('random tables and selectors only ever raise CpuFault or TripleFault', { timeout: 30_000 }, () => {
    let seed = 0x2545f491;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const entryPoints: Array<(cpu: Cpu, a: number, b: number) => void> = [
      (cpu, a) => loadSegment(cpu, a % 6 === CS ? DS : a % 6, a >>> 8),
      (cpu, a, b) => farJump(cpu, a & 0xffff, b, (a & 0x10000) !== 0),
      (cpu, a, b) => farCall(cpu, a & 0xffff, b, (a & 0x10000) !== 0),
      (cpu, a) => farReturn(cpu, (a & 1) !== 0, (a >>> 1) & 0xff),
      (cpu, a) => interruptReturn(cpu, (a & 1) !== 0),
      (cpu, a) => deliverInterrupt(cpu, a & 0xff, (['external', 'software', 'exception'] as const)[a % 3], a >>> 16),
      (cpu, a) => loadTr(cpu, a & 0xffff),
      (cpu, a) => loadLdtr(cpu, a & 0xffff),
      (cpu, a) => loadAccessRights(cpu, a & 0xffff),
    ];
    const machine = createMachine();
    for (let round = 0; round < 200; round++) {
      const m = enterProtectedMode(machine);
      for (let i = 8; i < 0x100; i += 4) m.physical.write32(GDT + i, random());
      for (let i = 0; i < 0x800; i += 4) m.physical.write32(IDT + i, random());
      for (let i = 0; i < 0x68; i += 4) m.physical.write32(TSS + i, random());
      for (let i = 0; i < 64; i += 4) m.physical.write32(STACK0 - 64 + i, random());
      m.cpu.reg32[4] = STACK0 - 32;
      for (let call = 0; call < 20; call++) {
        const f = entryPoints[random() % entryPoints.length];
        const outcome = faultOf(() => f(m.cpu, random(), random()));
        expect(outcome === 'none' || outcome === 'triple' || Array.isArray(outcome)).toBe(true);
        expect(m.cpu.cpl).toBeGreaterThanOrEqual(0);
        expect(m.cpu.cpl).toBeLessThanOrEqual(3);
      }
    }
  });
});

describe('tables and segments at the edges of the address space', () => {
  it('IDT limit: a gate whose last byte is the limit is used, one byte short is #GP(vector)', () => {
    const m = protectedMachine();
    m.setIdt(0x40, gate(0x08, 0x4000, 0x8e));
    m.cpu.idtrLimit = 0x40 * 8 + 6;
    expect(faultOf(() => deliverInterrupt(m.cpu, 0x40, 'software'))).toEqual([13, 0x40 * 8 + 2]);
    expect(m.cpu.reg32[4]).toBe(STACK0);
    m.cpu.idtrLimit = 0x40 * 8 + 7;
    deliverInterrupt(m.cpu, 0x40, 'software');
    expect(m.cpu.eip).toBe(0x4000);
    // IDTR limit 0xffff (LIDT allows it) with vector 0xff: inside the limit, gate read from the table.
    m.cpu.idtrLimit = 0xffff;
    expect(faultOf(() => deliverInterrupt(m.cpu, 0xff, 'software'))).toEqual([11, 0xff * 8 + 2]);
  });

  it('an IDT based just below 4 GiB wraps its linear addresses to the bottom of memory', () => {
    const m = protectedMachine();
    m.cpu.idtrBase = 0xfffffff8;
    m.physical.write32(0, gate(0x08, 0x4400, 0x8e)[0]); // vector 1 lands at linear 0
    m.physical.write32(4, gate(0x08, 0x4400, 0x8e)[1]);
    expect(faultOf(() => deliverInterrupt(m.cpu, 0, 'software'))).toEqual([13, 2]); // unbacked: all ones
    deliverInterrupt(m.cpu, 1, 'software');
    expect(m.cpu.eip).toBe(0x4400);
  });

  it('a TSS at the top of 4 GiB: unbacked SS0 is #TS, a wrapped one supplies the ring-0 stack', () => {
    const m = protectedMachine();
    m.setIdt(0x20, gate(0x08, 0x2000, 0xee));
    interruptReturnToRing3(m, 0x6000);
    m.cpu.segBase[TR] = 0xfffffff0; // ESP0 at 0xfffffff4, SS0 at 0xfffffff8: nothing there
    const outcome = faultOf(() => deliverInterrupt(m.cpu, 0x20, 'software'));
    expect(outcome).toEqual([10, 0xfffc]);
    expect(m.cpu.cpl).toBe(3);
    m.cpu.segBase[TR] = 0xfffffffc; // ESP0 at linear 0, SS0 at 4
    m.physical.write32(0, STACK0 - 0x100);
    m.physical.write32(4, 0x10);
    deliverInterrupt(m.cpu, 0x20, 'software');
    expect([m.cpu.cpl, m.cpu.eip, m.cpu.reg32[4]]).toEqual([0, 0x2000, STACK0 - 0x100 - 20]);
  });

  it('I/O bitmap at offset 0xffff of a 4 GiB TSS: read where it wraps or lies, never a host error', () => {
    const m = protectedMachine();
    interruptReturnToRing3(m, 0x6000);
    m.cpu.segLimit[TR] = -1;
    m.physical.write16(TSS + 0x66, 0xffff);
    for (const base of [TSS, 0xffff0000, 0xfffffff0]) {
      m.cpu.segBase[TR] = base;
      for (const port of [0, 0x80, 0xffff]) {
        const outcome = faultOf(() => checkIoPermission(m.cpu, port, 4));
        expect(outcome === 'none' || (Array.isArray(outcome) && outcome[0] === 13 && outcome[1] === 0)).toBe(true);
      }
    }
    // Base 0xffff0000: the offset word reads as ones (unbacked), so port 0x80's bitmap byte is at
    // 0xffff0000 + 0xffff + 0x10, which wraps to linear 0xf.
    m.cpu.segBase[TR] = 0xffff0000;
    m.physical.write8(0xf, 0x01);
    expect(faultOf(() => checkIoPermission(m.cpu, 0x80, 1))).toEqual([13, 0]);
    m.physical.write8(0xf, 0xfe);
    expect(faultOf(() => checkIoPermission(m.cpu, 0x80, 1))).toBe('none');
  });

  it('a data segment with a 4 GiB limit and a high base wraps linear addresses; the last offsets fault only past the limit', () => {
    const m = protectedMachine();
    m.setGdt(0x30, descriptor(0xfffff000, 0xfffff, 0x92, 0xc));
    loadSegment(m.cpu, DS, 0x30);
    expect(m.cpu.segLimit[DS] >>> 0).toBe(0xffffffff);
    m.physical.write32(0x1000, 0xfeedface);
    expect(m.cpu.read32(DS, 0x2000) >>> 0).toBe(0xfeedface);
    expect(m.cpu.read8(DS, 0xffffffff)).toBe(0xff); // linear 0xffffefff: nothing there
    expect(faultOf(() => m.cpu.read32(DS, 0xfffffffe))).toEqual([13, 0]);
    // A far JMP to offset 0xffffffff of a 4 GiB code segment is inside the limit.
    expect(faultOf(() => farJump(m.cpu, 0x08, 0xffffffff, true))).toBe('none');
    expect(m.cpu.eip >>> 0).toBe(0xffffffff);
  });

  it('GDT and LDT with bases near 4 GiB wrap to the bottom of memory; limits are checked to the last byte', () => {
    const m = protectedMachine();
    m.setGdt(0x38, descriptor(0xfffffff8, 0xffff, 0x82, 0)); // an LDT at 0xfffffff8
    loadLdtr(m.cpu, 0x38);
    m.physical.write32(0, FLAT_DATA0[0]); // entry 1 (selector 0x0c) wraps to linear 0
    m.physical.write32(4, FLAT_DATA0[1]);
    expect(faultOf(() => loadSegment(m.cpu, ES, 0x0c))).toBe('none');
    expect([m.cpu.segLimit[ES] >>> 0, m.cpu.segAccess[ES] & 0xff]).toEqual([0xffffffff, 0x93]);
    // Entry 0 is unbacked and reads as all ones: present, DPL 3, conforming readable code, which a
    // data segment register may hold.
    expect(faultOf(() => loadSegment(m.cpu, ES, 0x04))).toBe('none');
    expect(m.cpu.segAccess[ES] & 0xff).toBe(0xff);
    // A GDT at 0xffff0008 with limit 0xffff: selector 0xfff8 wraps to linear 0 (the data descriptor
    // written there); 0x08 is unbacked (all ones, as above); RPL 3 on the DPL-0 data segment is #GP.
    m.cpu.gdtrBase = 0xffff0008;
    m.cpu.gdtrLimit = 0xffff;
    expect(faultOf(() => loadSegment(m.cpu, FS, 0xfff8))).toBe('none');
    expect(m.cpu.segAccess[FS] & 0xff).toBe(0x93);
    expect(faultOf(() => loadSegment(m.cpu, FS, 0x08))).toBe('none');
    expect(faultOf(() => loadSegment(m.cpu, FS, 0xfffb))).toEqual([13, 0xfff8]);
    m.cpu.gdtrLimit = 0xfff6;
    expect(faultOf(() => loadSegment(m.cpu, FS, 0xfff0))).toEqual([13, 0xfff0]); // last byte past the limit
  });

  it('task switches to TSSs at the top of 4 GiB (unbacked, or wrapping into RAM) end architecturally', () => {
    for (const base of [0xfffff000, 0xffffffc0, 0xfffffff8]) {
      for (const via of ['jmp', 'call', 'int'] as const) {
        const m = protectedMachine();
        m.setIdt(0x50, [0x00300000, 0x0000e500]); // task gate to 0x30, DPL 3
        m.setGdt(0x30, descriptor(base, 0x67, 0x89, 0));
        for (let i = 0; i < 0x68; i += 4) m.physical.write32(i, 0x00000010); // the part that wraps to 0
        const outcome = faultOf(() => {
          if (via === 'jmp') farJump(m.cpu, 0x30, 0, true);
          else if (via === 'call') farCall(m.cpu, 0x30, 0, true);
          else deliverInterrupt(m.cpu, 0x50, 'software');
        });
        expect(outcome === 'none' || outcome === 'triple' || Array.isArray(outcome)).toBe(true);
        expect(m.cpu.cpl).toBeGreaterThanOrEqual(0);
        expect(m.cpu.cpl).toBeLessThanOrEqual(3);
      }
    }
  });
});
