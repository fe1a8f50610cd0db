import { describe, expect, it } from 'vitest';
import { DS } from '../src/cpu.js';
import { writeControlRegister } from '../src/system/index.js';
import { CODE, createMachine, type TestMachine } from './support/machine.js';

// ARPL writes its destination only when it raises the RPL (SDM pseudo-code): a memory operand in a
// read-only data segment or on a read-only page that needs no change is only read, no #GP or #PF;
// one that needs a change faults on the write with ZF and the selector untouched. In each tier.

type Tier = 'interpreter' | 'decoded' | 'blocks';
const TIERS: Tier[] = ['interpreter', 'decoded', 'blocks'];
const ZF = 0x40;
const SELECTOR = 0x2000;
const PAGE_DIRECTORY = 0x8000;
const PAGE_TABLE = 0x9000;
const READ_ONLY_PAGE = 0x20000;

function machine(tier: Tier): TestMachine {
  const m = createMachine('flat32', undefined, tier !== 'interpreter', tier === 'blocks');
  m.cpu.intercepts.exceptions = (1 << 13) | (1 << 14);
  return m;
}

/** arpl [addr], ax with AX = 0x0002 (RPL 2); ZF set beforehand so a cleared ZF shows ARPL ran. */
function runArpl(m: TestMachine, address: number, selector: number): string {
  m.memory.write16(address, selector);
  m.cpu.reg32[0] = 0x0002;
  m.load([0x63, 0x05, address & 0xff, (address >> 8) & 0xff, address >> 16, 0, 0xf4]); // arpl [address], ax
  m.cpu.setEflags(m.cpu.getEflags() | ZF);
  return m.cpu.run(10);
}

function readOnlyDataSegment(m: TestMachine): void {
  m.cpu.segAccess[DS] = 0xc091; // present, DPL 0, data, read-only (accessed)
}

/** Identity-maps the first 4 MiB with READ_ONLY_PAGE read-only, paging and CR0.WP on. */
function pagingWithReadOnlyPage(m: TestMachine): void {
  m.memory.write32(PAGE_DIRECTORY, PAGE_TABLE | 3);
  for (let i = 0; i < 1024; i++) {
    const page = i << 12;
    m.memory.write32(PAGE_TABLE + i * 4, page | (page === READ_ONLY_PAGE ? 1 : 3));
  }
  writeControlRegister(m.cpu, 3, PAGE_DIRECTORY);
  writeControlRegister(m.cpu, 0, (m.cpu.cr0 | 0x80010000) | 0);
}

describe('ARPL on a memory operand', () => {
  for (const tier of TIERS) {
    it(`${tier}: no #GP in a read-only data segment when the RPL needs no change`, () => {
      const m = machine(tier);
      readOnlyDataSegment(m);
      expect(runArpl(m, SELECTOR, 0x0013)).toBe('hlt');
      expect(m.cpu.getEflags() & ZF).toBe(0);
      expect(m.memory.read16(SELECTOR)).toBe(0x0013);
    });

    it(`${tier}: #GP(0) in a read-only data segment when the RPL is raised, ZF and memory untouched`, () => {
      const m = machine(tier);
      readOnlyDataSegment(m);
      expect(runArpl(m, SELECTOR, 0x0010)).toBe('exception');
      expect(m.cpu.stop.vector).toBe(13);
      expect(m.cpu.stop.errorCode).toBe(0);
      expect(m.cpu.eip).toBe(CODE);
      expect(m.cpu.getEflags() & ZF).toBe(ZF);
      expect(m.memory.read16(SELECTOR)).toBe(0x0010);
    });

    it(`${tier}: no #PF on a read-only page when the RPL needs no change; #PF with W=1 when it is raised`, () => {
      const m = machine(tier);
      pagingWithReadOnlyPage(m);
      expect(runArpl(m, READ_ONLY_PAGE + 0x10, 0x0003)).toBe('hlt');
      expect(m.cpu.getEflags() & ZF).toBe(0);
      expect(runArpl(m, READ_ONLY_PAGE + 0x10, 0x0001)).toBe('exception');
      expect(m.cpu.stop.vector).toBe(14);
      expect(m.cpu.stop.errorCode & 2).toBe(2);
      expect(m.memory.read16(READ_ONLY_PAGE + 0x10)).toBe(0x0001);
    });

    it(`${tier}: raises the RPL in writable memory and sets ZF`, () => {
      const m = machine(tier);
      expect(runArpl(m, SELECTOR, 0x0010)).toBe('hlt');
      expect(m.memory.read16(SELECTOR)).toBe(0x0012);
      expect(m.cpu.getEflags() & ZF).toBe(ZF);
    });
  }
});
