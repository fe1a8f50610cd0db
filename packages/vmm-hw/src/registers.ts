// vmm-api Registers / SpecialRegisters <-> struct kvm_regs / kvm_sregs.
import type { Registers, SegmentState, SpecialRegisters, TableState } from '@ringvisor/vmm-api';
import { KVM_DTABLE, KVM_REGS, KVM_SEGMENT, KVM_SREGS } from './kvm/layout.js';

const u64 = (d: DataView, at: number): number => Number(d.getBigUint64(at, true));
/**
 * A negative number can only come from 32-bit bitwise arithmetic (`1 << 31` for CR0.PG), so it
 * is read as the unsigned 32-bit value it spells, not sign-extended into bits 32..63. A value
 * equal to what `u64` reads from the field already there leaves the field alone: above 2^53 a
 * number is the field rounded, and writing it back would change a base the guest chose.
 */
const setU64 = (d: DataView, at: number, v: number): void => {
  const value = v < 0 ? v >>> 0 : Math.trunc(v);
  if (value !== u64(d, at)) d.setBigUint64(at, BigInt(value), true);
};
/** The low 32 bits of a __u64, the vmm-api's 32-bit view of a 64-bit register. */
const low32 = (d: DataView, at: number): number => d.getUint32(at, true);

/** Reads the 32-bit view of kvm_regs. */
export function decodeRegisters(d: DataView): Registers {
  return {
    eax: low32(d, KVM_REGS.rax), ecx: low32(d, KVM_REGS.rcx), edx: low32(d, KVM_REGS.rdx), ebx: low32(d, KVM_REGS.rbx),
    esp: low32(d, KVM_REGS.rsp), ebp: low32(d, KVM_REGS.rbp), esi: low32(d, KVM_REGS.rsi), edi: low32(d, KVM_REGS.rdi),
    eip: low32(d, KVM_REGS.rip), eflags: low32(d, KVM_REGS.rflags),
  };
}

/** Writes vmm-api registers zero-extended; r8..r15 keep what `d` already holds. */
export function encodeRegisters(d: DataView, r: Registers): void {
  const put = (at: number, v: number): void => d.setBigUint64(at, BigInt(v >>> 0), true);
  put(KVM_REGS.rax, r.eax); put(KVM_REGS.rcx, r.ecx); put(KVM_REGS.rdx, r.edx); put(KVM_REGS.rbx, r.ebx);
  put(KVM_REGS.rsp, r.esp); put(KVM_REGS.rbp, r.ebp); put(KVM_REGS.rsi, r.esi); put(KVM_REGS.rdi, r.edi);
  put(KVM_REGS.rip, r.eip);
  // EFLAGS bit 1 is reserved as 1; VM entry fails without it.
  put(KVM_REGS.rflags, r.eflags | 0x2);
}

// vmm-api SegmentState.access packs the descriptor attributes as VMX access rights do.
const AR_TYPE = 0xf;
const AR_S = 1 << 4;
const AR_DPL_SHIFT = 5;
const AR_P = 1 << 7;
const AR_AVL = 1 << 12;
const AR_L = 1 << 13;
const AR_DB = 1 << 14;
const AR_G = 1 << 15;
const AR_UNUSABLE = 1 << 16;

function decodeSegment(d: DataView, at: number): SegmentState {
  const byte = (field: number): number => d.getUint8(at + field);
  const access = (byte(KVM_SEGMENT.type) & AR_TYPE)
    | (byte(KVM_SEGMENT.s) ? AR_S : 0)
    | ((byte(KVM_SEGMENT.dpl) & 3) << AR_DPL_SHIFT)
    | (byte(KVM_SEGMENT.present) ? AR_P : 0)
    | (byte(KVM_SEGMENT.avl) ? AR_AVL : 0)
    | (byte(KVM_SEGMENT.l) ? AR_L : 0)
    | (byte(KVM_SEGMENT.db) ? AR_DB : 0)
    | (byte(KVM_SEGMENT.g) ? AR_G : 0)
    | (byte(KVM_SEGMENT.unusable) ? AR_UNUSABLE : 0);
  return {
    selector: d.getUint16(at + KVM_SEGMENT.selector, true),
    base: u64(d, at + KVM_SEGMENT.base),
    limit: d.getUint32(at + KVM_SEGMENT.limit, true),
    access,
  };
}

function encodeSegment(d: DataView, at: number, s: SegmentState): void {
  const a = s.access;
  setU64(d, at + KVM_SEGMENT.base, s.base);
  d.setUint32(at + KVM_SEGMENT.limit, s.limit >>> 0, true);
  d.setUint16(at + KVM_SEGMENT.selector, s.selector & 0xffff, true);
  d.setUint8(at + KVM_SEGMENT.type, a & AR_TYPE);
  d.setUint8(at + KVM_SEGMENT.s, a & AR_S ? 1 : 0);
  d.setUint8(at + KVM_SEGMENT.dpl, (a >>> AR_DPL_SHIFT) & 3);
  d.setUint8(at + KVM_SEGMENT.present, a & AR_P ? 1 : 0);
  d.setUint8(at + KVM_SEGMENT.avl, a & AR_AVL ? 1 : 0);
  d.setUint8(at + KVM_SEGMENT.l, a & AR_L ? 1 : 0);
  d.setUint8(at + KVM_SEGMENT.db, a & AR_DB ? 1 : 0);
  d.setUint8(at + KVM_SEGMENT.g, a & AR_G ? 1 : 0);
  d.setUint8(at + KVM_SEGMENT.unusable, a & AR_UNUSABLE ? 1 : 0);
}

function decodeTable(d: DataView, at: number): TableState {
  return { base: u64(d, at + KVM_DTABLE.base), limit: d.getUint16(at + KVM_DTABLE.limit, true) };
}

function encodeTable(d: DataView, at: number, t: TableState): void {
  setU64(d, at + KVM_DTABLE.base, t.base);
  d.setUint16(at + KVM_DTABLE.limit, t.limit & 0xffff, true);
}

const SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;

export function decodeSpecialRegisters(d: DataView): SpecialRegisters {
  const seg = (name: (typeof SEGMENTS)[number]): SegmentState => decodeSegment(d, KVM_SREGS[name]);
  return {
    cs: seg('cs'), ds: seg('ds'), es: seg('es'), fs: seg('fs'), gs: seg('gs'), ss: seg('ss'),
    tr: seg('tr'), ldt: seg('ldt'),
    gdt: decodeTable(d, KVM_SREGS.gdt), idt: decodeTable(d, KVM_SREGS.idt),
    cr0: u64(d, KVM_SREGS.cr0), cr2: u64(d, KVM_SREGS.cr2), cr3: u64(d, KVM_SREGS.cr3), cr4: u64(d, KVM_SREGS.cr4),
    efer: u64(d, KVM_SREGS.efer),
  };
}

/**
 * Writes vmm-api special registers over a kvm_sregs that already holds the vCPU's state, so that
 * what the vmm-api does not name (CR8, APIC base, the pending-interrupt bitmap) is kept.
 */
export function encodeSpecialRegisters(d: DataView, s: SpecialRegisters): void {
  for (const name of SEGMENTS) encodeSegment(d, KVM_SREGS[name], s[name]);
  encodeTable(d, KVM_SREGS.gdt, s.gdt);
  encodeTable(d, KVM_SREGS.idt, s.idt);
  setU64(d, KVM_SREGS.cr0, s.cr0);
  setU64(d, KVM_SREGS.cr2, s.cr2);
  setU64(d, KVM_SREGS.cr3, s.cr3);
  setU64(d, KVM_SREGS.cr4, s.cr4);
  setU64(d, KVM_SREGS.efer, s.efer);
}
