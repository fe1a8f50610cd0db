import { throwFault } from '../fault.js';
import { CS, LDTR, type SystemCpu } from './cpu-view.js';
import { GP } from './vectors.js';

/** Access-rights bit in `segAccess` marking a null-loaded (unusable) segment register. */
export const UNUSABLE = 1 << 16;
/**
 * The segment test of the CPU's fast limit check for a read (`Cpu.linear`): no `segAccess` bit of
 * this mask set (usable expand-up data); compiled blocks test it at entry for their inline accesses.
 */
export const FAST_READ_MASK = UNUSABLE | 0xc;
/** The same for a write (`Cpu.linearWrite`): of this mask only bit 1 set (usable writable expand-up data). */
export const FAST_WRITE_MASK = UNUSABLE | 0xe;

// System descriptor types (S = 0), SDM Vol. 3A Table 3-2.
export const TYPE_TSS16_AVAILABLE = 1;
export const TYPE_LDT = 2;
export const TYPE_TSS16_BUSY = 3;
export const TYPE_CALL_GATE16 = 4;
export const TYPE_TASK_GATE = 5;
export const TYPE_INTERRUPT_GATE16 = 6;
export const TYPE_TRAP_GATE16 = 7;
export const TYPE_TSS32_AVAILABLE = 9;
export const TYPE_TSS32_BUSY = 11;
export const TYPE_CALL_GATE32 = 12;
export const TYPE_INTERRUPT_GATE32 = 14;
export const TYPE_TRAP_GATE32 = 15;

/** One 8-byte descriptor as read from a table, with the field extractors of SDM 3.4.5 and 5.8. */
export class Descriptor {
  lo = 0;
  hi = 0;
  /** Linear address the descriptor was read from (to set its accessed or busy bit). */
  address = 0;

  get type(): number {
    return (this.hi >>> 8) & 0xf;
  }
  /** S bit: code/data (true) or system (false). */
  get isCodeOrData(): boolean {
    return (this.hi & 0x1000) !== 0;
  }
  get dpl(): number {
    return (this.hi >>> 13) & 3;
  }
  get present(): boolean {
    return (this.hi & 0x8000) !== 0;
  }
  get base(): number {
    return ((this.lo >>> 16) | ((this.hi & 0xff) << 16) | (this.hi & 0xff000000)) >>> 0;
  }
  /** Byte limit, scaled by G. */
  get limit(): number {
    const raw = (this.lo & 0xffff) | (this.hi & 0xf0000);
    return this.hi & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
  }
  /** VMX-style access rights: the descriptor's bits 40-55 with the limit nibble cleared. */
  get accessRights(): number {
    return (this.hi >>> 8) & 0xf0ff;
  }
  get isCode(): boolean {
    return this.isCodeOrData && (this.hi & 0x800) !== 0;
  }
  get isData(): boolean {
    return this.isCodeOrData && (this.hi & 0x800) === 0;
  }
  get isConforming(): boolean {
    return this.isCode && (this.hi & 0x400) !== 0;
  }
  get isReadable(): boolean {
    return this.isData || (this.hi & 0x200) !== 0;
  }
  get isWritableData(): boolean {
    return this.isData && (this.hi & 0x200) !== 0;
  }
  /** Gate fields (SDM 5.8.3, 6.11). */
  get gateSelector(): number {
    return this.lo >>> 16;
  }
  get gateOffset(): number {
    return ((this.lo & 0xffff) | (this.hi & 0xffff0000)) >>> 0;
  }
  get gateParamCount(): number {
    return this.hi & 0x1f;
  }
  copyFrom(other: Descriptor): void {
    this.lo = other.lo;
    this.hi = other.hi;
    this.address = other.address;
  }
}

/**
 * Reads the descriptor `selector` names from the GDT or the LDT into `into`. False when the index lies
 * beyond the table limit or names the LDT while LDTR is null: the caller raises its own fault.
 * Descriptor tables are read as supervisor accesses whatever the CPL (SDM 4.6.1 "implicit").
 */
export function readDescriptor(cpu: SystemCpu, selector: number, into: Descriptor): boolean {
  let base: number;
  let limit: number;
  if (selector & 4) {
    if (cpu.segAccess[LDTR] & UNUSABLE || (cpu.seg[LDTR] & 0xfffc) === 0) return false;
    base = cpu.segBase[LDTR] >>> 0;
    limit = cpu.segLimit[LDTR] >>> 0;
  } else {
    base = cpu.gdtrBase >>> 0;
    limit = cpu.gdtrLimit >>> 0;
  }
  const offset = selector & 0xfff8;
  if (offset + 7 > limit) return false;
  const address = (base + offset) >>> 0;
  into.address = address;
  into.lo = cpu.readLinear32(address, false);
  into.hi = cpu.readLinear32((address + 4) >>> 0, false);
  return true;
}

/** Reads a descriptor or raises #GP(selector) when it lies outside its table. */
export function readDescriptorOrGp(cpu: SystemCpu, selector: number, into: Descriptor, ext: number): void {
  if (!readDescriptor(cpu, selector, into)) throwFault(GP, (selector & 0xfffc) | ext);
}

/** Sets the accessed bit (type bit 0) of a code/data descriptor in memory, as the CPU does on load. */
export function markAccessed(cpu: SystemCpu, d: Descriptor): void {
  if ((d.hi & 0x100) === 0) {
    d.hi |= 0x100;
    cpu.writeLinear8((d.address + 5) >>> 0, (d.hi >>> 8) & 0xff, false);
  }
}

/** Sets or clears a TSS descriptor's busy bit (type bit 1) in memory. */
export function setBusy(cpu: SystemCpu, d: Descriptor, busy: boolean): void {
  d.hi = busy ? d.hi | 0x200 : d.hi & ~0x200;
  cpu.writeLinear8((d.address + 5) >>> 0, (d.hi >>> 8) & 0xff, false);
}

/** Loads a segment register's selector and hidden cache from a checked descriptor. */
export function loadCache(cpu: SystemCpu, reg: number, selector: number, d: Descriptor): void {
  cpu.seg[reg] = selector;
  cpu.segBase[reg] = d.base | 0;
  cpu.long.segBaseHi[reg] = 0;
  cpu.segLimit[reg] = d.limit | 0;
  cpu.segAccess[reg] = d.accessRights;
  if (reg === CS) cpu.codeSizeChanged();
}

/** Loads a null selector: the register becomes unusable (SDM 3.4.2). */
export function loadNull(cpu: SystemCpu, reg: number, selector: number): void {
  cpu.seg[reg] = selector;
  cpu.segBase[reg] = 0;
  cpu.long.segBaseHi[reg] = 0;
  cpu.segLimit[reg] = 0;
  cpu.segAccess[reg] = UNUSABLE;
}

/** Real-mode / virtual-8086 load: base = selector × 16, a 64 KiB writable data segment at DPL 3 in v86. */
export function loadRealModeSegment(cpu: SystemCpu, reg: number, selector: number, v86: boolean): void {
  cpu.seg[reg] = selector;
  cpu.segBase[reg] = selector << 4;
  cpu.long.segBaseHi[reg] = 0;
  if (v86) {
    cpu.segLimit[reg] = 0xffff;
    // Type 3 (read/write, accessed), S, DPL 3, P; CS likewise is a 16-bit segment in v86 mode.
    cpu.segAccess[reg] = 0xf3;
  }
  if (reg === CS) cpu.codeSizeChanged();
}
