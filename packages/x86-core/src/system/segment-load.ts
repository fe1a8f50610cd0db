import { throwFault } from '../fault.js';
import { CS, SS, isProtected, isV86, type SystemCpu } from './cpu-view.js';
import { Descriptor, loadCache, loadNull, loadRealModeSegment, markAccessed, readDescriptorOrGp } from './descriptor.js';
import { GP, NP, SS_FAULT, UD } from './vectors.js';

const scratch = new Descriptor();

/**
 * MOV/POP/LDS/LES/LFS/LGS/LSS to a data or stack segment register (SDM Vol. 2 "MOV", "POP": the
 * protected-mode checks). In real and virtual-8086 mode the selector is a paragraph number.
 */
export function loadSegment(cpu: SystemCpu, reg: number, selector: number): void {
  selector &= 0xffff;
  if (reg === CS) throwFault(UD);
  if (!isProtected(cpu)) {
    loadRealModeSegment(cpu, reg, selector, false);
    return;
  }
  if (isV86(cpu)) {
    loadRealModeSegment(cpu, reg, selector, true);
    return;
  }
  if (reg === SS) loadStackSegment(cpu, selector);
  else loadDataSegment(cpu, reg, selector);
}

function loadStackSegment(cpu: SystemCpu, selector: number): void {
  const error = selector & 0xfffc;
  if (error === 0) throwFault(GP, 0);
  const d = scratch;
  readDescriptorOrGp(cpu, selector, d, 0);
  if ((selector & 3) !== cpu.cpl || !d.isWritableData || d.dpl !== cpu.cpl) throwFault(GP, error);
  if (!d.present) throwFault(SS_FAULT, error);
  markAccessed(cpu, d);
  loadCache(cpu, SS, selector, d);
}

function loadDataSegment(cpu: SystemCpu, reg: number, selector: number): void {
  const error = selector & 0xfffc;
  if (error === 0) {
    loadNull(cpu, reg, selector);
    return;
  }
  const d = scratch;
  readDescriptorOrGp(cpu, selector, d, 0);
  if (!d.isCodeOrData || !d.isReadable) throwFault(GP, error);
  if (!d.isConforming && ((selector & 3) > d.dpl || cpu.cpl > d.dpl)) throwFault(GP, error);
  if (!d.present) throwFault(NP, error);
  markAccessed(cpu, d);
  loadCache(cpu, reg, selector, d);
}
