// Xen's writable page tables for a 64-bit PV kernel (ptwr_do_page_fault): a kernel-mode write that
// faults on a read-only mapping of one of the domain's L1 tables is emulated as an update of that
// entry, validated as mmu_update validates it (mod_l1_entry). The instructions Linux writes PTEs
// with are decoded here: MOV (register or immediate), XCHG and (LOCK) CMPXCHG, 8 bytes or an aligned
// half of an entry. Anything else, a misaligned or refused write, or a frame that is not an L1
// leaves the #PF for the guest, as Xen does when it cannot emulate the write.
import { TYPE_L1 } from '../frames.js';
import type { Domain64 } from './domain.js';

const RAX = 0;
/** #PF error code: present and write, and not a reserved-bit fault. */
const PF_PRESENT_WRITE = 3;
const PF_CHECKED = 0xb;
/** CF, PF, AF, ZF, SF, OF. */
const FLAGS_ARITH = 0x8d5;

interface Decoded {
  op: 'mov' | 'xchg' | 'cmpxchg';
  size: 4 | 8;
  /** Source register (MOV/XCHG/CMPXCHG), or -1 for MOV's immediate. */
  reg: number;
  imm: number;
  length: number;
}

/** Decodes the PTE-writing instruction at `rip`, or null. */
function decode(byteAt: (linear: number) => number, rip: number): Decoded | null {
  let at = rip;
  let rex = 0;
  for (let n = 0; n < 4 && byteAt(at) === 0xf0; n++) at++;
  const first = byteAt(at);
  if (first >= 0x40 && first <= 0x4f) {
    rex = first;
    at++;
  }
  let op: Decoded['op'];
  const opcode = byteAt(at++);
  if (opcode === 0x89) op = 'mov';
  else if (opcode === 0xc7) op = 'mov';
  else if (opcode === 0x87) op = 'xchg';
  else if (opcode === 0x0f && byteAt(at) === 0xb1) {
    op = 'cmpxchg';
    at++;
  } else return null;
  const modrm = byteAt(at++);
  if (modrm < 0 || modrm >= 0xc0) return null;
  const mod = modrm >>> 6;
  const rm = modrm & 7;
  const reg = ((modrm >>> 3) & 7) | ((rex & 4) << 1);
  if (opcode === 0xc7 && (modrm & 0x38) !== 0) return null;
  if (rm === 4) {
    const sib = byteAt(at++);
    if (sib < 0) return null;
    if (mod === 0 && (sib & 7) === 5) at += 4;
  } else if (mod === 0 && rm === 5) at += 4;
  at += mod === 1 ? 1 : mod === 2 ? 4 : 0;
  let imm = 0;
  if (opcode === 0xc7) {
    imm = byteAt(at) | (byteAt(at + 1) << 8) | (byteAt(at + 2) << 16) | (byteAt(at + 3) << 24);
    at += 4;
  }
  return { op, size: (rex & 8) !== 0 ? 8 : 4, reg: opcode === 0xc7 ? -1 : reg, imm, length: at - rip };
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
  const insn = decode(byteAt, domain.rip);
  if (insn === null || machine % insn.size !== 0) return false;
  const cpu = domain.cpu;
  const slot = (machine % 4096) >>> 3;
  const oldLo = tables.lo(mfn, slot) | 0;
  const oldHi = tables.hi(mfn, slot);
  const high = insn.size === 4 && machine % 8 === 4;
  // The operand as the instruction sees it: the whole entry, or the half it addresses.
  const oldOp = insn.size === 8 ? [oldLo, oldHi] : [high ? oldHi : oldLo, 0];
  const src = insn.reg < 0 ? [insn.imm, insn.size === 8 && insn.imm < 0 ? -1 : 0] : [cpu.reg32[insn.reg], insn.size === 8 ? cpu.regHi[insn.reg] : 0];
  let write = true;
  if (insn.op === 'cmpxchg') {
    const acc = [cpu.reg32[RAX], insn.size === 8 ? cpu.regHi[RAX] : 0];
    write = acc[0] === oldOp[0] && acc[1] === oldOp[1];
    setCompareFlags(domain, acc, oldOp, insn.size);
  }
  if (write) {
    const lo = insn.size === 8 || !high ? src[0] : oldLo;
    const hi = insn.size === 8 ? src[1] : high ? src[0] : oldHi;
    if (!tables.modEntry(mfn, slot, lo >>> 0, hi | 0, false)) return false;
  }
  const load = (reg: number) => {
    cpu.reg32[reg] = oldOp[0];
    cpu.regHi[reg] = oldOp[1];
  };
  if (insn.op === 'xchg') load(insn.reg);
  else if (insn.op === 'cmpxchg' && !write) load(RAX);
  domain.rip += insn.length;
  domain.count('emulated page-table writes');
  return true;
}

/** CMPXCHG's flags: those of CMP accumulator, destination (CF, PF, AF, ZF, SF, OF). */
function setCompareFlags(domain: Domain64, acc: number[], dest: number[], size: 4 | 8): void {
  const bits = BigInt(size * 8);
  const mask = (1n << bits) - 1n;
  const value = (pair: number[]) => ((BigInt(pair[1] >>> 0) << 32n) | BigInt(pair[0] >>> 0)) & mask;
  const a = value(acc);
  const b = value(dest);
  const r = (a - b) & mask;
  const sign = 1n << (bits - 1n);
  let flags = 0;
  if (a < b) flags |= 1;
  let ones = 0;
  for (let v = Number(r & 0xffn); v !== 0; v &= v - 1) ones++;
  if ((ones & 1) === 0) flags |= 4;
  if (((a ^ b ^ r) & 0x10n) !== 0n) flags |= 0x10;
  if (r === 0n) flags |= 0x40;
  if ((r & sign) !== 0n) flags |= 0x80;
  if (((a ^ b) & (a ^ r) & sign) !== 0n) flags |= 0x800;
  const cpu = domain.cpu;
  cpu.setEflags(((cpu.getEflags() & ~FLAGS_ARITH) | flags) >>> 0);
}
