// What `FullVcpu.importState` accepts: a vmm-api VcpuState an i686 could hold. The VMM derives the
// hardware's state from it (truncated segments, ring 1 or 3, shadow tables), and that derivation
// relies on a few architectural facts, such as a data segment register never holding a system
// descriptor; a state breaking one is refused here with a RangeError naming the field.
import type { SegmentState, VcpuState } from '@ringvisor/vmm-api';
import { IA32_SYSENTER_CS, IA32_SYSENTER_EIP, IA32_SYSENTER_ESP, IA32_TIME_STAMP_COUNTER } from '@ringvisor/x86-core';

/** The debug registers a VcpuState lists, in its order: DR0–DR3, DR6, DR7. */
export const DEBUG_REGISTERS = [0, 1, 2, 3, 6, 7] as const;

const UNUSABLE = 1 << 16;
/** Access-rights bits a segment cache can hold (type, S, DPL, P, AVL, L, D/B, G, unusable). */
const ACCESS_BITS = 0x1f0ff;
const ACCESS_S = 0x10;
const ACCESS_P = 0x80;
const TYPE_CODE = 0x8;
/** EFLAGS bits that read as 0 on every IA-32 CPU (3, 5, 15, 22–31). */
const EFLAGS_RESERVED = 0xffc08028;
const EFLAGS_VM = 0x20000;
/** CR0 bits of the i686: PE MP EM TS ET NE, WP, AM, NW, CD, PG. */
const CR0_BITS = 0xe005003f;
const CR0_PE = 1;
const CR0_NW = 0x20000000;
const CR0_CD = 0x40000000;
const CR0_PG = 0x80000000;
/** CR4 bits of the i686 model: VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT. */
const CR4_BITS = 0x7ff;

function u32(value: unknown, what: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${what}: ${String(value)} is not a 32-bit unsigned value`);
  }
}

function bounded(value: unknown, max: number, what: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what}: ${String(value)} is not an integer from 0 to 0x${max.toString(16)}`);
  }
}

/** A field that must be an object (structured data from another thread may be anything). */
function object(value: unknown, what: string): void {
  if (typeof value !== 'object' || value === null) throw new RangeError(`${what}: missing or not an object`);
}

function segment(s: SegmentState, name: string): void {
  object(s, name);
  bounded(s.selector, 0xffff, `${name}.selector`);
  u32(s.base, `${name}.base`);
  u32(s.limit, `${name}.limit`);
  bounded(s.access, ACCESS_BITS, `${name}.access`);
  if ((s.access & ~ACCESS_BITS) !== 0 || (s.access & 0xf00) !== 0) throw new RangeError(`${name}.access: 0x${s.access.toString(16)} has bits no segment cache holds`);
}

const usable = (s: SegmentState) => (s.access & UNUSABLE) === 0;
const present = (s: SegmentState) => (s.access & (ACCESS_S | ACCESS_P)) === (ACCESS_S | ACCESS_P);

/** Throws a RangeError unless `state` is one an i686 under this strategy can be in. */
export function checkState(state: VcpuState): void {
  object(state, 'state');
  const { regs, sregs } = state;
  object(regs, 'regs');
  object(sregs, 'sregs');
  object(sregs.gdt, 'gdt');
  object(sregs.idt, 'idt');
  if (!Array.isArray(state.debug) || !Array.isArray(state.msrs)) throw new RangeError('debug and msrs are arrays');
  for (const msr of state.msrs) object(msr, 'msrs[]');
  for (const name of ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags'] as const) u32(regs[name], name);
  if ((regs.eflags & EFLAGS_RESERVED) !== 0 || (regs.eflags & 2) === 0) {
    throw new RangeError(`eflags: 0x${regs.eflags.toString(16)} has reserved bits wrong (bit 1 reads 1; 3, 5, 15, 22–31 read 0)`);
  }
  for (const name of ['cs', 'ss', 'ds', 'es', 'fs', 'gs', 'tr', 'ldt'] as const) segment(sregs[name], name);
  u32(sregs.gdt.base, 'gdt.base');
  bounded(sregs.gdt.limit, 0xffff, 'gdt.limit');
  u32(sregs.idt.base, 'idt.base');
  bounded(sregs.idt.limit, 0xffff, 'idt.limit');
  for (const name of ['cr0', 'cr2', 'cr3', 'cr4', 'efer'] as const) u32(sregs[name], name);
  const { cr0, cr4 } = sregs;
  if ((cr0 & ~CR0_BITS) !== 0) throw new RangeError(`cr0: 0x${cr0.toString(16)} sets bits the i686 does not have`);
  if ((cr0 & CR0_PG) !== 0 && (cr0 & CR0_PE) === 0) throw new RangeError('cr0: paging without protection (PG without PE)');
  if ((cr0 & CR0_NW) !== 0 && (cr0 & CR0_CD) === 0) throw new RangeError('cr0: NW without CD');
  if ((cr4 & ~CR4_BITS) !== 0) throw new RangeError(`cr4: 0x${cr4.toString(16)} sets bits the i686 does not have`);
  if (sregs.efer !== 0) throw new RangeError('efer: strategy full\'s CPU (an i686) has no EFER; it reads 0');

  const protectedMode = (cr0 & CR0_PE) !== 0;
  const v86 = (regs.eflags & EFLAGS_VM) !== 0;
  if (v86 && !protectedMode) throw new RangeError('eflags.VM in real mode');
  const { cs, ss } = sregs;
  if (!usable(cs) || !present(cs) || (cs.access & TYPE_CODE) === 0) throw new RangeError(`cs: access 0x${cs.access.toString(16)} is not a present code segment`);
  if (usable(ss) && (!present(ss) || (ss.access & 0xa) !== 2)) throw new RangeError(`ss: access 0x${ss.access.toString(16)} is not a present writable data segment`);
  if (protectedMode && !v86 && !usable(ss)) throw new RangeError('ss: unusable in protected mode');
  for (const name of ['ds', 'es', 'fs', 'gs'] as const) {
    const s = sregs[name];
    // Code segments load into data registers only when readable.
    if (usable(s) && (!present(s) || (s.access & 0xa) === TYPE_CODE)) {
      throw new RangeError(`${name}: access 0x${s.access.toString(16)} is not a present data or readable code segment`);
    }
  }
  if (v86) {
    for (const name of ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const) {
      const s = sregs[name];
      if (s.base !== s.selector << 4 || s.limit !== 0xffff) throw new RangeError(`${name}: in virtual-8086 mode the base is selector×16 and the limit 0xffff`);
    }
  }
  if (protectedMode) {
    const { tr, ldt } = sregs;
    const trType = tr.access & 0x1f;
    if (!usable(tr) || (tr.access & ACCESS_P) === 0 || (trType !== 3 && trType !== 11)) throw new RangeError(`tr: access 0x${tr.access.toString(16)} is not a present busy TSS`);
    if (usable(ldt) && (ldt.selector & 0xfffc) !== 0 && ((ldt.access & ACCESS_P) === 0 || (ldt.access & 0x1f) !== 2)) {
      throw new RangeError(`ldt: access 0x${ldt.access.toString(16)} is not a present LDT`);
    }
  }

  if (state.debug.length !== DEBUG_REGISTERS.length) throw new RangeError(`debug registers: ${DEBUG_REGISTERS.length} values (DR0–3, DR6, DR7), not ${state.debug.length}`);
  state.debug.forEach((value, i) => u32(value, `debug[${i}]`));
  for (const { index, value } of state.msrs) {
    if (typeof value !== 'bigint') throw new RangeError(`MSR 0x${Number(index).toString(16)}: the value is not a bigint`);
    if (index === IA32_TIME_STAMP_COUNTER) {
      if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`MSR 0x10: ${value} is outside the time-stamp counter's range here (0 to 2^53-1)`);
    } else if (index === IA32_SYSENTER_CS || index === IA32_SYSENTER_ESP || index === IA32_SYSENTER_EIP) {
      if (value < 0n || value > 0xffffffffn) throw new RangeError(`MSR 0x${index.toString(16)}: ${value} is not a 32-bit value`);
    } else throw new RangeError(`strategy full has no MSR 0x${Number(index).toString(16)}`);
  }
  if (!(state.fpu instanceof Uint8Array)) throw new RangeError('fpu: not a byte array');
  if (typeof state.halted !== 'boolean' || typeof state.interruptWindow !== 'boolean') throw new RangeError('halted and interruptWindow are booleans');
  if (state.interruptShadow !== 0 && state.interruptShadow !== 1 && state.interruptShadow !== 2) throw new RangeError(`interruptShadow: ${String(state.interruptShadow)} is not 0, 1 or 2`);
  const event = state.pendingEvent;
  if (event !== null) {
    if (event.kind !== 'external' && event.kind !== 'exception') {
      throw new RangeError(`pending ${event.kind} event: strategy full delivers events at once and restores only a pending external interrupt or exception`);
    }
    bounded(event.vector, event.kind === 'exception' ? 31 : 255, 'pendingEvent.vector');
    if (event.errorCode !== null) u32(event.errorCode, 'pendingEvent.errorCode');
  }
}
