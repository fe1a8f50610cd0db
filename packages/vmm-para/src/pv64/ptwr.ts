// Xen's writable page tables for a 64-bit PV kernel (ptwr_do_page_fault): a kernel-mode write that
// faults on a read-only mapping of one of the domain's L1 tables is emulated as an update of that
// entry, validated as mmu_update validates it (mod_l1_entry). The read-modify-write instructions
// Linux updates PTEs with are decoded here (its UP kernels turn LOCK into a DS prefix): MOV
// (register or immediate), XCHG, CMPXCHG, AND/OR (immediate or register) and BTS/BTR with an
// immediate bit, of 1, 2, 4 or 8 bytes within one entry (Xen widens a narrower store to the whole
// entry). Anything else, a store crossing an entry or refused by validation, or a frame that is not
// an L1 leaves the #PF for the guest, as Xen does when it cannot emulate the write.
import { TYPE_L1 } from '../frames.js';
import type { Domain64 } from './domain.js';

const RAX = 0;
/** #PF error code: present and write, and not a reserved-bit fault. */
const PF_PRESENT_WRITE = 3;
const PF_CHECKED = 0xb;
const CF = 0x1;
const PF = 0x4;
const AF = 0x10;
const ZF = 0x40;
const SF = 0x80;
const OF = 0x800;
/** Prefixes that change nothing here: LOCK, and the segment overrides (the address is CR2's). */
const IGNORED_PREFIXES = new Set([0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65]);

type Op = 'mov' | 'xchg' | 'cmpxchg' | 'and' | 'or' | 'bts' | 'btr';

interface Decoded {
  op: Op;
  /** Operand size in bytes. */
  size: number;
  /** Register operand, or -1 with `imm` instead. */
  reg: number;
  imm: bigint;
  /** Byte registers without REX: 4-7 are AH, CH, DH, BH. */
  legacyBytes: boolean;
  length: number;
}

/** The modrm register-or-immediate forms: opcode → [operation, byte-sized, immediate kind]. */
const FORMS: Record<number, [Op, boolean, 'reg' | 'imm8' | 'imm'] | undefined> = {
  0x88: ['mov', true, 'reg'], 0x89: ['mov', false, 'reg'], 0xc6: ['mov', true, 'imm8'], 0xc7: ['mov', false, 'imm'],
  0x86: ['xchg', true, 'reg'], 0x87: ['xchg', false, 'reg'],
  0x08: ['or', true, 'reg'], 0x09: ['or', false, 'reg'], 0x20: ['and', true, 'reg'], 0x21: ['and', false, 'reg'],
};

/** Decodes the PTE-writing instruction at `rip`, or null. */
function decode(byteAt: (linear: number) => number, rip: number): Decoded | null {
  let at = rip;
  let rex = 0;
  let wide16 = false;
  for (let n = 0; n < 4; n++) {
    const b = byteAt(at);
    if (b === 0x66) wide16 = true;
    else if (!IGNORED_PREFIXES.has(b)) break;
    at++;
  }
  if (byteAt(at) >= 0x40 && byteAt(at) <= 0x4f) rex = byteAt(at++);
  const opcode = byteAt(at++);
  let form = FORMS[opcode];
  let group: number | null = null;
  if (opcode === 0x80 || opcode === 0x81 || opcode === 0x83) {
    form = [/* set from modrm */ 'or', opcode === 0x80, opcode === 0x81 ? 'imm' : 'imm8'];
    group = opcode;
  } else if (opcode === 0x0f) {
    const second = byteAt(at++);
    if (second === 0xb0 || second === 0xb1) form = ['cmpxchg', second === 0xb0, 'reg'];
    else if (second === 0xba) {
      form = ['bts', false, 'imm8'];
      group = 0xba;
    } else return null;
  }
  if (!form) return null;
  const modrm = byteAt(at++);
  if (modrm < 0 || modrm >= 0xc0) return null;
  const mod = modrm >>> 6;
  const rm = modrm & 7;
  const field = (modrm >>> 3) & 7;
  let op = form[0];
  if (group === 0xba) {
    if (field !== 5 && field !== 6) return null;
    op = field === 5 ? 'bts' : 'btr';
  } else if (group !== null) {
    if (field !== 1 && field !== 4) return null;
    op = field === 1 ? 'or' : 'and';
  } else if ((opcode === 0xc6 || opcode === 0xc7) && field !== 0) return null;
  if (rm === 4) {
    const sib = byteAt(at++);
    if (sib < 0) return null;
    if (mod === 0 && (sib & 7) === 5) at += 4;
  } else if (mod === 0 && rm === 5) at += 4;
  at += mod === 1 ? 1 : mod === 2 ? 4 : 0;
  const size = form[1] ? 1 : (rex & 8) !== 0 ? 8 : wide16 ? 2 : 4;
  let imm = 0n;
  if (form[2] !== 'reg') {
    const count = form[2] === 'imm8' ? 1 : Math.min(size, 4);
    let value = 0;
    for (let i = 0; i < count; i++) {
      const b = byteAt(at++);
      if (b < 0) return null;
      value |= b << (8 * i);
    }
    // Sign-extended to the operand (a bit number of BTS/BTR is taken modulo the operand's width).
    imm = group === 0xba ? BigInt(value & (size * 8 - 1)) : BigInt.asUintN(size * 8, BigInt.asIntN(count * 8, BigInt(value >>> 0)));
  }
  const reg = form[2] === 'reg' ? field | ((rex & 4) << 1) : -1;
  return { op, size, reg, imm, legacyBytes: rex === 0, length: at - rip };
}

function readReg(domain: Domain64, d: Decoded, reg: number): bigint {
  const cpu = domain.cpu;
  if (d.size === 1 && d.legacyBytes && reg >= 4) return BigInt((cpu.reg32[reg - 4] >>> 8) & 0xff);
  const full = (BigInt(cpu.regHi[reg] >>> 0) << 32n) | BigInt(cpu.reg32[reg] >>> 0);
  return BigInt.asUintN(d.size * 8, full);
}

/** A register write of `d.size` bytes: 4 zero-extends, 1 and 2 merge, as the CPU does. */
function writeReg(domain: Domain64, d: Decoded, reg: number, value: bigint): void {
  const cpu = domain.cpu;
  const v = Number(BigInt.asUintN(32, value)) | 0;
  if (d.size === 8) {
    cpu.reg32[reg] = v;
    cpu.regHi[reg] = Number(BigInt.asUintN(32, value >> 32n)) | 0;
  } else if (d.size === 4) {
    cpu.reg32[reg] = v;
    cpu.regHi[reg] = 0;
  } else if (d.size === 2) cpu.reg32[reg] = (cpu.reg32[reg] & ~0xffff) | (v & 0xffff);
  else if (d.legacyBytes && reg >= 4) cpu.reg32[reg - 4] = (cpu.reg32[reg - 4] & ~0xff00) | ((v & 0xff) << 8);
  else cpu.reg32[reg] = (cpu.reg32[reg] & ~0xff) | (v & 0xff);
}

function parityEven(value: bigint): boolean {
  let ones = 0;
  for (let v = Number(value & 0xffn); v !== 0; v &= v - 1) ones++;
  return (ones & 1) === 0;
}

/** ZF, SF, PF of a result; the caller adds CF, AF, OF. */
function resultFlags(r: bigint, bits: bigint): number {
  return (r === 0n ? ZF : 0) | ((r >> (bits - 1n)) & 1n ? SF : 0) | (parityEven(r) ? PF : 0);
}

/** True when the write at `cr2` (a #PF with `errorCode`) was emulated; RIP then follows it. */
export function emulatePageTableWrite(domain: Domain64, cr2: number, errorCode: number, byteAt: (linear: number) => number): boolean {
  if ((errorCode & PF_CHECKED) !== PF_PRESENT_WRITE || !domain.kernelMode) return false;
  let machine: number;
  try {
    machine = domain.access.translate(cr2, false);
  } catch {
    return false;
  }
  const tables = domain.tables;
  const mfn = Math.floor(machine / 4096);
  if (tables.frames.type[mfn] !== TYPE_L1 || !tables.frames.ownedByDomain(mfn)) return false;
  const d = decode(byteAt, domain.rip);
  const offset = machine % 8;
  if (d === null || offset + d.size > 8) return false;
  const slot = (machine % 4096) >>> 3;
  const entry = (BigInt(tables.hi(mfn, slot) >>> 0) << 32n) | BigInt(tables.lo(mfn, slot));
  const shift = BigInt(offset * 8);
  const bits = BigInt(d.size * 8);
  const mask = (1n << bits) - 1n;
  const old = (entry >> shift) & mask;
  const src = d.reg >= 0 ? readReg(domain, d, d.reg) : d.imm;
  const cpu = domain.cpu;
  let flags = -1;
  let result: bigint | null;
  switch (d.op) {
    case 'mov': case 'xchg': result = src; break;
    case 'and': case 'or':
      result = d.op === 'and' ? old & src : old | src;
      flags = resultFlags(result, bits);
      break;
    case 'bts': case 'btr':
      result = d.op === 'bts' ? old | (1n << src) : old & ~(1n << src);
      flags = (cpu.getEflags() & ~CF) | Number((old >> src) & 1n);
      break;
    case 'cmpxchg': {
      const acc = readReg(domain, d, RAX);
      const r = (acc - old) & mask;
      const sign = 1n << (bits - 1n);
      flags = resultFlags(r, bits) | (acc < old ? CF : 0) | (((acc ^ old ^ r) & 0x10n) !== 0n ? AF : 0) | (((acc ^ old) & (acc ^ r) & sign) !== 0n ? OF : 0);
      result = acc === old ? src : null;
      break;
    }
  }
  if (result !== null) {
    const updated = (entry & ~(mask << shift)) | (result << shift);
    if (!tables.modEntry(mfn, slot, Number(updated & 0xffffffffn), Number(BigInt.asIntN(32, updated >> 32n)), false)) return false;
  }
  if (d.op === 'xchg') writeReg(domain, d, d.reg, old);
  if (d.op === 'cmpxchg' && result === null) writeReg(domain, d, RAX, old);
  if (flags >= 0) {
    const changed = d.op === 'bts' || d.op === 'btr' ? CF : CF | PF | AF | ZF | SF | OF;
    cpu.setEflags(((cpu.getEflags() & ~changed) | (flags & changed)) >>> 0);
  }
  domain.rip += d.length;
  domain.count('emulated page-table writes');
  return true;
}
