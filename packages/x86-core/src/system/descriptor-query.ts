import { throwFault } from '../fault.js';
import { FLAG_ZF, isProtected, isV86, type SystemCpu } from './cpu-view.js';
import { Descriptor, readDescriptor } from './descriptor.js';
import { UD } from './vectors.js';

const scratch = new Descriptor();

/** System types LAR reports (SDM Vol. 2 "LAR" table): TSSs, LDT, call and task gates. */
const LAR_SYSTEM_TYPES = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 9) | (1 << 11) | (1 << 12);
/** System types LSL reports: TSSs and LDT (segments with a limit). */
const LSL_SYSTEM_TYPES = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 9) | (1 << 11);

function setZf(cpu: SystemCpu, on: boolean): void {
  const eflags = cpu.getEflags();
  cpu.setEflags(on ? eflags | FLAG_ZF : eflags & ~FLAG_ZF);
}

/** #UD outside protected mode (real and virtual-8086 mode do not recognise these instructions). */
export function requireProtectedMode(cpu: SystemCpu): void {
  if (!isProtected(cpu) || isV86(cpu)) throwFault(UD);
}

/**
 * How LAR/LSL/VERR/VERW read a descriptor: `readDescriptor` (32-bit table bases), or 64-bit mode's
 * reader of tables anywhere in the 48-bit space (src/long/).
 */
export type DescriptorReader = (cpu: SystemCpu, selector: number, into: Descriptor) => boolean;

/**
 * Reads the descriptor for LAR/LSL/VERR/VERW: null when the selector is null, outside its table, of
 * a type `systemTypes` excludes, or not visible at CPL and RPL (conforming code is always visible).
 */
function visibleDescriptor(cpu: SystemCpu, selector: number, systemTypes: number, read: DescriptorReader): Descriptor | null {
  if ((selector & 0xfffc) === 0 || !read(cpu, selector, scratch)) return null;
  const d = scratch;
  if (!d.isCodeOrData && ((systemTypes >>> d.type) & 1) === 0) return null;
  if (!d.isConforming && (d.dpl < cpu.cpl || d.dpl < (selector & 3))) return null;
  return d;
}

/**
 * LAR: the access-rights dword and ZF=1, or -1 and ZF=0. The SDM masks descriptor bits 32-63 with
 * 00FxFF00H, bits 19:16 (the limit's top) undefined; they read as 0 here.
 */
export function loadAccessRights(cpu: SystemCpu, selector: number, read: DescriptorReader = readDescriptor): number {
  requireProtectedMode(cpu);
  const d = visibleDescriptor(cpu, selector & 0xffff, LAR_SYSTEM_TYPES, read);
  setZf(cpu, d !== null);
  return d === null ? -1 : (d.hi & 0x00f0ff00) >>> 0;
}

/** LSL: the byte-granular segment limit and ZF=1, or -1 and ZF=0. */
export function loadSegmentLimit(cpu: SystemCpu, selector: number, read: DescriptorReader = readDescriptor): number {
  requireProtectedMode(cpu);
  const d = visibleDescriptor(cpu, selector & 0xffff, LSL_SYSTEM_TYPES, read);
  setZf(cpu, d !== null);
  return d === null ? -1 : d.limit;
}

/** VERR: ZF=1 when the segment is readable at CPL and RPL. */
export function verifyRead(cpu: SystemCpu, selector: number, read: DescriptorReader = readDescriptor): void {
  requireProtectedMode(cpu);
  const d = visibleDescriptor(cpu, selector & 0xffff, 0, read);
  setZf(cpu, d !== null && d.isReadable);
}

/** VERW: ZF=1 when the segment is a writable data segment at CPL and RPL. */
export function verifyWrite(cpu: SystemCpu, selector: number, read: DescriptorReader = readDescriptor): void {
  requireProtectedMode(cpu);
  const d = visibleDescriptor(cpu, selector & 0xffff, 0, read);
  setZf(cpu, d !== null && d.isWritableData);
}

/**
 * ARPL: the destination selector with its RPL raised to the source's, or -1 when it needs no
 * change. The SDM's pseudo-code writes the destination only in the first case, so a memory operand
 * that needs no change is only read (no write check: no #GP on a read-only segment, no #PF on a
 * read-only page); the caller writes it, then sets ZF (`setArplFlag`), so a faulting write changes
 * no flag. The caller checks `requireProtectedMode` before it reads the destination, so #UD comes
 * before any fault of that read.
 */
export function adjustRpl(destination: number, source: number): number {
  return (destination & 3) < (source & 3) ? (destination & ~3) | (source & 3) : -1;
}

/** ZF after ARPL: set when the RPL was raised. */
export function setArplFlag(cpu: SystemCpu, raised: boolean): void {
  setZf(cpu, raised);
}
