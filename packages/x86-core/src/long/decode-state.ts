// Per-instruction decode state of the 64-bit interpreter and the instruction fetch (SDM Vol. 2, 2.2).
// Module variables rather than Cpu fields: only 64-bit code reads them, so the i686 core's object
// layout stays as it was.
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { checkCanonical } from './memory.js';

const FOUR_GIB = 0x1_0000_0000;

export const d = {
  /** The REX byte (0x40-0x4f), 0 without one. */
  rex: 0,
  /** Operand size: 1 word, 2 dword, 3 qword (byte forms pass 0 themselves). */
  size: 2,
  /** 0x67: 32-bit addressing. */
  addr32: false,
  /** FS or GS override (4, 5), else -1: the other overrides do nothing in 64-bit mode. */
  seg: -1,
  /** 0, 0xf3 or 0xf2. */
  rep: 0,
  /** An operand-size prefix was seen (SSE's mandatory 66, whatever REX.W says). */
  p66: false,
  lock: false,
  /** Linear address of the next byte to fetch (CS's base is 0 in 64-bit mode). */
  rip: 0,
  /** RIP of the instruction. */
  start: 0,
};

// The page of `d.rip` as last translated for a fetch; forgotten at every instruction start.
let fetchPage = NaN;
let fetchPhys = 0;

/** Bytes of the current instruction fetched so far (an intercepted instruction's length). */
export function longFetchedLength(): number {
  return d.rip - d.start;
}

export function beginFetch(rip: number): void {
  d.rip = rip;
  d.start = rip;
  fetchPage = NaN;
}

/** The next instruction byte: #GP(0) past 15 bytes or at a non-canonical RIP, #PF as the page says. */
export function fetch8(cpu: Cpu): number {
  const rip = d.rip;
  if (rip - d.start >= 15) throwFault(13, 0);
  // NaN (no page yet) fails the range test as an offset outside the page does.
  let offset = rip - fetchPage;
  if (!(offset >= 0 && offset < 4096)) {
    const page = Math.floor(rip / 4096) * 4096;
    checkCanonical(rip, false);
    fetchPhys = cpu.translateCanonical(page, 16 | cpu.userAccess());
    fetchPage = page;
    offset = rip - page;
  }
  d.rip = rip + 1;
  const phys = fetchPhys + offset;
  if (phys < FOUR_GIB && cpu.kind[phys >>> 12] <= 1) return cpu.ram[phys];
  return cpu.readSlow(phys, 1);
}

export function fetch16(cpu: Cpu): number {
  const lo = fetch8(cpu);
  return lo | (fetch8(cpu) << 8);
}

export function fetch32(cpu: Cpu): number {
  const lo = fetch16(cpu);
  return lo | (fetch16(cpu) << 16);
}
