// Segment-register loads in 64-bit mode (SDM Vol. 2 "MOV", "POP"; Vol. 3A 3.4.4): the protected-mode
// checks, through the 64-bit GDT base; a null selector may go to DS, ES, FS, GS, and to SS below
// CPL 3 (with RPL = CPL). FS and GS take the descriptor's 32-bit base (the MSRs set wider ones).
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { GP, NP, SS_FAULT } from '../system/vectors.js';
import { desc, loadFromDesc, loadNullSs, markAccessed, readDescriptor64 } from './interrupt.js';

const SS = 2;
const UNUSABLE = 1 << 16;

export function loadSegment64(cpu: Cpu, s: number, selector: number): void {
  selector &= 0xffff;
  const error = selector & 0xfffc;
  if (error === 0) {
    if (s === SS) {
      if (cpu.cpl === 3 || (selector & 3) !== cpu.cpl) throwFault(GP, 0);
      loadNullSs(cpu, cpu.cpl);
      return;
    }
    cpu.seg[s] = selector;
    cpu.segBase[s] = 0;
    cpu.segLimit[s] = 0;
    cpu.segAccess[s] = UNUSABLE;
    cpu.long.segBaseHi[s] = 0;
    return;
  }
  if (!readDescriptor64(cpu, selector)) throwFault(GP, error);
  const h = desc.hi;
  const dpl = (h >>> 13) & 3;
  const rpl = selector & 3;
  if (s === SS) {
    if (rpl !== cpu.cpl || (h & 0x1a00) !== 0x1200 || dpl !== cpu.cpl) throwFault(GP, error);
    if ((h & 0x8000) === 0) throwFault(SS_FAULT, error);
  } else {
    const code = (h & 0x1800) === 0x1800;
    if ((h & 0x1000) === 0 || (code && (h & 0x200) === 0)) throwFault(GP, error);
    const conforming = code && (h & 0x400) !== 0;
    if (!conforming && (rpl > dpl || cpu.cpl > dpl)) throwFault(GP, error);
    if ((h & 0x8000) === 0) throwFault(NP, error);
  }
  markAccessed(cpu);
  loadFromDesc(cpu, s, selector);
}
