import type { AccessSize } from '@ringvisor/vmm-api';
import { describe, expect, it } from 'vitest';
import { ES, FS } from '../src/cpu.js';
import { CpuFault } from '../src/fault.js';
import { stringInstruction } from '../src/strings.js';
import { createMachine, type TestMachine } from './support/machine.js';
import { random } from './support/random.js';

// REP MOVS/STOS's block path (whole page chunks copied or filled at once) against the same
// instructions run element by element: registers, every RAM byte (page-table A/D bits included),
// CR2 and the fault, MMIO accesses and code-write notifications must come out identical.

const PD = 0x9000;
const PT = 0xa000;
const MMIO_PHYS = 0xe0000000;
const MMIO_PAGE = 0x80; // linear page mapped onto the MMIO window
const DF = 0x400;

interface Run {
  machine: TestMachine;
  mmio: string[];
}

function machine(): Run {
  const m = createMachine('flat32');
  const mmio: string[] = [];
  m.memory.addMmio(MMIO_PHYS, 0x1000, {
    mmioRead: (offset: number, size: AccessSize) => {
      mmio.push(`r${size}@${offset}`);
      return (offset * 7) & 0xff;
    },
    mmioWrite: (offset: number, size: AccessSize, value: number) => {
      mmio.push(`w${size}@${offset}=${value}`);
    },
  });
  return { machine: m, mmio };
}

/** Page tables for linear 0-1 MiB: mostly identity, some absent, read-only, supervisor-only, aliased, or MMIO. */
function pageTables(m: TestMachine, next: () => number): void {
  const w32 = (a: number, v: number) => m.memory.writeBytes(a, Uint8Array.of(v, v >>> 8, v >>> 16, v >>> 24));
  w32(PD, PT | 7);
  for (let page = 0; page < 256; page++) {
    let phys = page << 12;
    let flags = 7;
    if (page >= 0x10) {
      const r = next() % 32;
      if (r === 0) flags = 0; // not present
      else if (r === 1) flags = 5; // read-only
      else if (r === 2) flags = 3; // supervisor only
      else if (r === 3) phys = (0x10 + (next() % 0xf0)) << 12; // alias of another page
    }
    if (page === MMIO_PAGE) phys = MMIO_PHYS;
    w32(PT + 4 * page, phys | flags);
  }
}

interface Outcome {
  regs: number[];
  fault: string;
  cr2: number;
  calls: number;
}

function execute(run: Run, opcode: number, bulk: boolean): Outcome {
  const cpu = run.machine.cpu;
  let fault = 'none';
  let calls = 0;
  try {
    while (calls < 400) {
      calls++;
      cpu.eip = cpu.startEip = 0x1000;
      stringInstruction(cpu, opcode, bulk);
      if (cpu.eip !== cpu.startEip) break;
    }
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    fault = `${e.vector}:${e.errorCode}`;
  }
  return { regs: Array.from(cpu.reg32), fault, cr2: cpu.cr2, calls };
}

describe('REP MOVS/STOS block path', () => {
  it('matches the element-by-element path on random strings, pages, faults, aliases and MMIO', () => {
    const next = random(0x5eed);
    const a = machine();
    const b = machine();
    const opcodes = [0xa4, 0xa5, 0xaa, 0xab];
    let faults = 0;
    let mmio = 0;
    for (let i = 0; i < 400; i++) {
      const ram = a.machine.memory.ram;
      for (let k = 0x10000; k < 0x100000; k += 4096) ram[k + (next() & 0xfff)] = next();
      const paging = next() % 4 !== 0;
      if (paging) pageTables(a.machine, next);
      b.machine.memory.ram.set(ram.subarray(0, 0x100000));
      const opcode = opcodes[next() % opcodes.length];
      const a32 = next() % 5 !== 0;
      const op32 = next() % 2 === 0;
      const down = next() % 3 === 0;
      const count = next() % 8 === 0 ? next() % 0x8000 : next() % 3000;
      const pick = () => (a32 ? 0x10000 + (next() % 0xf0000) : next() & 0xffff) & ~(next() % 2 ? 0 : 3);
      const codePage = 0x10 + (next() % 0xf0);
      const override = next() % 4 === 0 ? FS : -1;
      const limit = next() % 6 === 0 ? 0x10000 + (next() % 0xf0000) : -1;
      const cpl3 = next() % 6 === 0;
      for (const run of [a, b]) {
        const { cpu, memory } = run.machine;
        cpu.cr0 = paging ? 0x80010011 : 0x11; // PG, WP, PE
        cpu.cr3 = PD;
        cpu.modeChanged();
        cpu.cpl = cpl3 ? 3 : 0;
        cpu.segLimit[ES] = limit;
        cpu.segBase[FS] = 0x1000;
        memory.markCode(codePage);
        run.mmio.length = 0;
      }
      const regs = [next(), count, next(), next(), 0x80000, next(), pick(), pick()];
      if (next() % 8 === 0) regs[7] = (MMIO_PAGE << 12) + (next() & 0xfff); // destination on the MMIO page
      if (next() % 8 === 0) regs[7] = regs[6] + (next() % 16) - 8; // overlapping source and destination
      for (const run of [a, b]) {
        const cpu = run.machine.cpu;
        cpu.reg32.set(regs);
        cpu.flags = down ? cpu.flags | DF : cpu.flags & ~DF;
        cpu.rep = 0xf3;
        cpu.segOverride = override;
        cpu.opSize32 = op32;
        cpu.addrSize32 = a32;
        cpu.cr2 = 0;
      }
      const generation = a.machine.memory.codeWriteGeneration;
      const fast = execute(a, opcode, true);
      const slow = execute(b, opcode, false);
      const what = `case ${i}: opcode ${opcode.toString(16)} a32 ${a32} op32 ${op32} down ${down} regs ${regs.map((r) => (r >>> 0).toString(16))}`;
      expect(fast, what).toEqual(slow);
      expect(a.mmio, what).toEqual(b.mmio);
      expect(Buffer.compare(a.machine.memory.ram, b.machine.memory.ram), what).toBe(0);
      expect(a.machine.memory.codeWriteGeneration - generation, what).toBe(b.machine.memory.codeWriteGeneration - generation);
      if (fast.fault !== 'none') faults++;
      if (a.mmio.length > 0) mmio++;
    }
    // The generator reaches the interesting cases.
    expect(faults).toBeGreaterThan(20);
    expect(mmio).toBeGreaterThan(5);
  });

  it('MOVSB one byte up copies element by element: the first byte repeats', () => {
    const { machine: m } = machine();
    m.memory.writeBytes(0x20000, Uint8Array.of(0xab, 1, 2, 3, 4, 5, 6, 7, 8));
    m.cpu.reg32.set([0, 8, 0, 0, 0x80000, 0, 0x20000, 0x20001]);
    m.cpu.rep = 0xf3;
    m.cpu.segOverride = -1;
    m.cpu.opSize32 = m.cpu.addrSize32 = true;
    m.cpu.startEip = m.cpu.eip;
    stringInstruction(m.cpu, 0xa4);
    expect(Array.from(m.memory.ram.subarray(0x20000, 0x20009))).toEqual(Array(9).fill(0xab));
    expect(m.cpu.reg32[1]).toBe(0);
  });

  it('STOSD across a page into an absent page faults with ECX and EDI at the first element there', () => {
    const { machine: m } = machine();
    pageTables(m, () => 4); // all present, identity (the constant is never 0-3 mod 32)
    m.memory.writeBytes(PT + 4 * 0x21, Uint8Array.of(0, 0, 0, 0));
    m.cpu.cr0 = 0x80000011;
    m.cpu.cr3 = PD;
    m.cpu.modeChanged();
    m.cpu.reg32.set([0x11223344, 1000, 0, 0, 0x80000, 0, 0, 0x20ff0]);
    m.cpu.rep = 0xf3;
    m.cpu.segOverride = -1;
    m.cpu.opSize32 = m.cpu.addrSize32 = true;
    m.cpu.startEip = m.cpu.eip;
    expect(() => stringInstruction(m.cpu, 0xab)).toThrow(CpuFault);
    expect(m.cpu.reg32[1]).toBe(996);
    expect(m.cpu.reg32[7]).toBe(0x21000);
    expect(m.cpu.cr2).toBe(0x21000);
    expect(m.memory.read32(0x20ffc)).toBe(0x11223344);
    // The page table entry of the written page is accessed and dirty.
    expect(m.memory.read32(PT + 4 * 0x20) & 0x60).toBe(0x60);
  });

  it('a string written over decoded code drops the decoded records', () => {
    const { machine: m } = machine();
    m.load([0xf3, 0xaa, 0xf4]); // rep stosb; hlt   (at 0x1000)
    m.memory.markCode(0x30);
    m.cpu.reg32[0] = 0x90;
    m.cpu.reg32[1] = 0x2000;
    m.cpu.reg32[7] = 0x30000;
    const generation = m.memory.codeWriteGeneration;
    expect(m.cpu.run(100)).toBe('hlt');
    expect(m.memory.codeWriteGeneration).toBe(generation + 1);
    expect(m.memory.ram[0x31fff]).toBe(0x90);
    expect(m.cpu.reg32[1]).toBe(0);
  });
});
