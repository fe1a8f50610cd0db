import { throwFault } from '../fault.js';
import { LDTR, TR, isProtected, isV86, type SystemCpu } from './cpu-view.js';
import {
  Descriptor, TYPE_LDT, TYPE_TSS16_AVAILABLE, TYPE_TSS32_AVAILABLE, loadCache, loadNull, readDescriptor, setBusy,
} from './descriptor.js';
import { GP, NP, UD } from './vectors.js';

const scratch = new Descriptor();

function requireCpl0(cpu: SystemCpu): void {
  if (isProtected(cpu) && (cpu.cpl !== 0 || isV86(cpu))) throwFault(GP, 0);
}

/** LLDT, LTR, SLDT, STR exist only in protected mode: #UD in real and v86 mode. */
function requireProtectedMode(cpu: SystemCpu): void {
  if (!isProtected(cpu) || isV86(cpu)) throwFault(UD);
}

/** LGDT: limit and base as read from the 6-byte operand; a 16-bit operand size keeps 24 bits of base. */
export function loadGdtr(cpu: SystemCpu, limit: number, base: number, opSize32: boolean): void {
  requireCpl0(cpu);
  cpu.gdtrLimit = limit & 0xffff;
  cpu.gdtrBase = opSize32 ? base >>> 0 : base & 0xffffff;
}

/** LIDT, likewise. */
export function loadIdtr(cpu: SystemCpu, limit: number, base: number, opSize32: boolean): void {
  requireCpl0(cpu);
  cpu.idtrLimit = limit & 0xffff;
  cpu.idtrBase = opSize32 ? base >>> 0 : base & 0xffffff;
}

/**
 * LLDT (SDM Vol. 2 "LLDT"): a null selector leaves LDTR unusable; otherwise the selector must name
 * a present LDT descriptor in the GDT.
 */
export function loadLdtr(cpu: SystemCpu, selector: number): void {
  requireProtectedMode(cpu);
  requireCpl0(cpu);
  selector &= 0xffff;
  const error = selector & 0xfffc;
  if (error === 0) {
    loadNull(cpu, LDTR, selector);
    return;
  }
  if (selector & 4 || !readDescriptor(cpu, selector, scratch)) throwFault(GP, error);
  if (scratch.isCodeOrData || scratch.type !== TYPE_LDT) throwFault(GP, error);
  if (!scratch.present) throwFault(NP, error);
  loadCache(cpu, LDTR, selector, scratch);
}

/** LTR (SDM Vol. 2 "LTR"): the selector must name a present, available TSS in the GDT; it is marked busy. */
export function loadTr(cpu: SystemCpu, selector: number): void {
  requireProtectedMode(cpu);
  requireCpl0(cpu);
  selector &= 0xffff;
  const error = selector & 0xfffc;
  if (error === 0) throwFault(GP, 0);
  if (selector & 4 || !readDescriptor(cpu, selector, scratch)) throwFault(GP, error);
  const type = scratch.type;
  if (scratch.isCodeOrData || (type !== TYPE_TSS16_AVAILABLE && type !== TYPE_TSS32_AVAILABLE)) throwFault(GP, error);
  if (!scratch.present) throwFault(NP, error);
  setBusy(cpu, scratch, true);
  loadCache(cpu, TR, selector, scratch);
}

/** SLDT. */
export function storeLdtr(cpu: SystemCpu): number {
  requireProtectedMode(cpu);
  return cpu.seg[LDTR];
}

/** STR. */
export function storeTr(cpu: SystemCpu): number {
  requireProtectedMode(cpu);
  return cpu.seg[TR];
}
