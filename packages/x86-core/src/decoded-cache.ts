import { alu, div, idiv, imulTruncate, imulWide, incDec, mul, shift } from './alu.js';
import { DS, SS, type Cpu } from './cpu.js';
import { callTo, condition, getReg, jumpTo, readRmwSized, readSized, setReg, writeRmwSized, writeSized } from './operands.js';
import { throwFault } from './fault.js';

/**
 * Decoded instructions, cached per physical code page. The commonest instructions (MOV incl. moffs,
 * ALU, LEA, INC/DEC, PUSH/POP, Jcc/JMP/CALL/RET, LEAVE, TEST, MOVZX/MOVSX, shifts, IMUL, SETcc,
 * CMOVcc, XCHG, CBW/CWD, NOP/PAUSE, RDTSC) are decoded once into a record
 * (operands, effective-address parts, immediates, length) and afterwards run from it without fetching
 * or decoding again; everything else is recorded as GENERIC and goes through `execute.ts`. A page
 * with records is marked as code in the mmu (`markCode`), so any write to it — by a CPU, DMA or a
 * loader — calls back and drops that page's records (self-modifying code stays correct).
 */

const POOL = 1 << 16;
/**
 * Record tables kept at most (16 KiB each): a guest executing code all over its RAM must not make the
 * host allocate without bound, so past this all tables are dropped and rebuilt on demand.
 */
const MAX_PAGES = 1024;

// Record kinds (block-compiler.ts reads them too).
export const GENERIC = 0;
export const ALU_EG = 1; // ALU E,G (dir 0) or G,E (dir 1)
export const ALU_AI = 2; // ALU accumulator, immediate
export const GRP1 = 3; // 80-83: ALU E, immediate
export const MOV_EG = 4;
export const MOV_GE = 5;
export const MOV_RI = 6;
export const MOV_EI = 7;
export const LEA = 8;
export const INC_DEC = 9;
export const PUSH_R = 10;
export const POP_R = 11;
export const JCC = 12;
export const JMP = 13;
export const CALL = 14;
export const RET = 15;
export const TEST_EG = 16;
export const TEST_AI = 17;
export const MOVX = 18;
export const SHIFT = 19;
export const NOP = 20; // NOP (op 0), LEAVE (op 1), RDTSC (op 2)
export const IMUL_GEI = 21;
export const PUSH_I = 22;
export const GRP3 = 23; // F6/F7: TEST NOT NEG MUL IMUL DIV IDIV
export const GRP5 = 24; // FE/FF: INC DEC, near CALL/JMP through r/m, PUSH r/m
export const SETCC = 25;
export const CMOVCC = 26;
export const XCHG_EG = 27;
export const XCHG_A = 28;
export const CBW = 29; // CBW/CWDE
export const CWD = 30; // CWD/CDQ
export const IMUL_GE = 31; // 0F AF: IMUL Gv, Ev (the last kind the 5-bit field holds)

export const GEN = 0;
export const INFO = 1;
export const META = 2;
export const DISP = 3;
export const IMM = 4;
/**
 * The block tier's word: 0 or below, minus the times the record was run as a block entry; above 0,
 * the id of the compiled block starting here (see block-cache.ts).
 */
export const BLOCK = 5;
/** Words per record. */
export const RECORD = 6;

const EA16_BASE = [3, 3, 5, 5, 6, 7, 5, 3];
const EA16_INDEX = [6, 7, 6, 7, -1, -1, -1, -1];

export class DecodeCache {
  /**
   * The decoded fields in one word: kind 0-4, size 5-6, op 7-10, dir 11, reg 12-14, r/m register + 1
   * (0: memory) 15-18, base + 1 19-22, index + 1 23-26, scale 27-28, segment 29-31.
   */
  /**
   * Records, six words each, addressed by their first word's index `at` (what page tables hold):
   * at + GEN the page generation it was decoded in, at + INFO the fields above, at + META length
   * (bits 0-3), 32-bit operand size (4) and address size (5) — 0 for a GENERIC record —, at + DISP
   * the displacement, at + IMM the immediate, at + BLOCK the block tier's word. One array, so a hit
   * costs few loads.
   */
  readonly data = new Int32Array(POOL * RECORD);
  /** Where each record is referenced from, so a recycled record leaves no stale reference. */
  private readonly ownerTable: (Int32Array | null)[] = new Array<Int32Array | null>(POOL).fill(null);
  private readonly ownerIndex = new Uint16Array(POOL);
  /** Per physical page: bumped by every write to the page while it holds records. */
  readonly pageGen = new Int32Array(1 << 20);
  private next = 1;
  private readonly pages = new Map<number, Int32Array>();

  /**
   * The record table of a physical page for 16- or 32-bit code (index = offset in the page, 0 = not
   * decoded): the same bytes decode differently in each.
   */
  page(page: number, code32: boolean): Int32Array {
    const key = page * 2 + (code32 ? 1 : 0);
    let table = this.pages.get(key);
    if (!table) {
      if (this.pages.size >= MAX_PAGES) this.pages.clear();
      table = new Int32Array(4096);
      this.pages.set(key, table);
    }
    return table;
  }

  /** Record tables currently held. */
  get pageCount(): number {
    return this.pages.size;
  }

  /** A write hit a code page: its records are stale (checked on use, so this is O(1)). */
  invalidate(page: number): void {
    this.pageGen[page & 0xfffff]++;
  }

  /** A record for `table[index]`, recycling the oldest one (and clearing its old reference). */
  allocate(table: Int32Array, index: number): number {
    const r = this.next;
    this.next = r === POOL - 1 ? 1 : r + 1;
    const at = r * RECORD;
    this.data[at + BLOCK] = 0;
    const previous = this.ownerTable[r];
    if (previous !== null && previous[this.ownerIndex[r]] === at) previous[this.ownerIndex[r]] = 0;
    this.ownerTable[r] = table;
    this.ownerIndex[r] = index;
    table[index] = at;
    return at;
  }
}

/**
 * Decodes the instruction at physical `phys` (`available` bytes of it are in the fetch window) into a
 * record. Returns the record, whose kind is GENERIC when the instruction is not one the cache
 * runs.
 */
export function decodeRecord(cpu: Cpu, c: DecodeCache, table: Int32Array, phys: number, available: number): number {
  const rec = c.allocate(table, phys & 0xfff);
  c.data[rec + GEN] = c.pageGen[phys >>> 12];
  c.data[rec + INFO] = GENERIC;
  c.data[rec + META] = 0;
  let fSize = 0;
  let fOp = 0;
  let fDir = 0;
  let fReg = 0;
  let fRm = -1;
  let fBase = -1;
  let fIndex = -1;
  let fScale = 0;
  let fSeg = 0;
  const ram = cpu.ram;
  const limit = Math.min(available, 15);
  let i = 0;
  let ok = true;
  const byte = (): number => {
    if (i >= limit) {
      ok = false;
      return 0;
    }
    return ram[phys + i++];
  };
  let op32 = cpu.code32;
  let a32 = cpu.code32;
  let seg = -1;
  let b = byte();
  for (;;) {
    if (b === 0x66) op32 = !cpu.code32;
    else if (b === 0x67) a32 = !cpu.code32;
    else if (b === 0x26) seg = 0;
    else if (b === 0x2e) seg = 1;
    else if (b === 0x36) seg = 2;
    else if (b === 0x3e) seg = 3;
    else if (b === 0x64) seg = 4;
    else if (b === 0x65) seg = 5;
    else break;
    b = byte();
  }
  if (!ok) return rec;
  const vsize = op32 ? 2 : 1;

  const modrm = (): void => {
    const m = byte();
    fReg = (m >> 3) & 7;
    const mod = m >> 6;
    if (mod === 3) {
      fRm = m & 7;
      return;
    }
    fRm = -1;
    const rm = m & 7;
    let base = -1;
    let index = -1;
    let scale = 0;
    let disp = 0;
    let defaultSeg = DS;
    if (a32) {
      if (rm === 4) {
        const sib = byte();
        base = sib & 7;
        index = (sib >> 3) & 7;
        if (index === 4) index = -1;
        scale = sib >> 6;
        if (base === 5 && mod === 0) {
          base = -1;
          disp = byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
        }
      } else if (rm === 5 && mod === 0) {
        disp = byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
      } else base = rm;
      if (base === 4 || base === 5) defaultSeg = SS;
      if (mod === 1) disp = (byte() << 24) >> 24;
      else if (mod === 2) disp = byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
    } else {
      if (rm === 6 && mod === 0) disp = byte() | (byte() << 8);
      else {
        base = EA16_BASE[rm];
        index = EA16_INDEX[rm];
        if (base === 5) defaultSeg = SS;
      }
      if (mod === 1) disp = (byte() << 24) >> 24;
      else if (mod === 2) disp = byte() | (byte() << 8);
    }
    fBase = base;
    fIndex = index;
    fScale = scale;
    c.data[rec + DISP] = disp;
    fSeg = seg >= 0 ? seg : defaultSeg;
  };
  const imm = (size: number): number => {
    if (size === 0) return byte();
    if (size === 1) return byte() | (byte() << 8);
    return byte() | (byte() << 8) | (byte() << 16) | (byte() << 24);
  };
  const imm8s = (size: number): number => {
    const v = (byte() << 24) >> 24;
    return size === 0 ? v & 0xff : size === 1 ? v & 0xffff : v;
  };

  let kind = GENERIC;
  if (b < 0x40 && (b & 7) < 6 && b !== 0x0f) {
    const form = b & 7;
    fOp = b >> 3;
    if (form < 4) {
      fSize = form & 1 ? vsize : 0;
      fDir = form >> 1;
      modrm();
      kind = ALU_EG;
    } else {
      const size = form === 5 ? vsize : 0;
      fSize = size;
      c.data[rec + IMM] = imm(size);
      kind = ALU_AI;
    }
  } else if (b >= 0x40 && b < 0x50) {
    fReg = b & 7;
    fOp = b >> 3 & 1;
    fSize = vsize;
    kind = INC_DEC;
  } else if (b >= 0x50 && b < 0x60) {
    fReg = b & 7;
    kind = b < 0x58 ? PUSH_R : POP_R;
  } else if (b >= 0x70 && b < 0x80) {
    fOp = b & 15;
    c.data[rec + IMM] = (byte() << 24) >> 24;
    kind = JCC;
  } else if (b >= 0x80 && b <= 0x83) {
    const size = b & 1 ? vsize : 0;
    fSize = size;
    modrm();
    fOp = fReg;
    c.data[rec + IMM] = b === 0x81 ? imm(size) : imm8s(size);
    kind = GRP1;
  } else if (b === 0x84 || b === 0x85) {
    fSize = b & 1 ? vsize : 0;
    modrm();
    kind = TEST_EG;
  } else if (b >= 0x88 && b <= 0x8b) {
    fSize = b & 1 ? vsize : 0;
    modrm();
    kind = b < 0x8a ? MOV_EG : MOV_GE;
  } else if (b === 0x8d) {
    fSize = vsize;
    modrm();
    kind = fRm < 0 ? LEA : GENERIC;
  } else if (b === 0x90) {
    kind = NOP;
  } else if (b === 0xf3) {
    // PAUSE (F3 90) is a NOP; any other REP form stays with the full decoder.
    if (byte() === 0x90) kind = NOP;
  } else if (b >= 0xa0 && b <= 0xa3) {
    // MOV AL/eAX <-> moffs: a MOV G,E / E,G on the accumulator whose memory operand is a bare displacement.
    fSize = b & 1 ? vsize : 0;
    fReg = 0;
    fRm = -1;
    c.data[rec + DISP] = a32 ? imm(2) : imm(1);
    fSeg = seg >= 0 ? seg : DS;
    kind = b < 0xa2 ? MOV_GE : MOV_EG;
  } else if (b === 0xc9) {
    fOp = 1; // LEAVE shares the NOP kind (the kind field is full)
    kind = NOP;
  } else if (b === 0xa8 || b === 0xa9) {
    const size = b & 1 ? vsize : 0;
    fSize = size;
    c.data[rec + IMM] = imm(size);
    kind = TEST_AI;
  } else if (b >= 0xb0 && b < 0xc0) {
    const size = b < 0xb8 ? 0 : vsize;
    fSize = size;
    fReg = b & 7;
    c.data[rec + IMM] = imm(size);
    kind = MOV_RI;
  } else if (b === 0xc0 || b === 0xc1 || (b >= 0xd0 && b <= 0xd3)) {
    fSize = b & 1 ? vsize : 0;
    modrm();
    fOp = fReg;
    // imm: the count, or -1 for CL.
    c.data[rec + IMM] = b < 0xd0 ? byte() : b < 0xd2 ? 1 : -1;
    kind = SHIFT;
  } else if (b === 0xc2 || b === 0xc3) {
    c.data[rec + IMM] = b === 0xc2 ? imm(1) : 0;
    kind = RET;
  } else if (b === 0xc6 || b === 0xc7) {
    const size = b & 1 ? vsize : 0;
    fSize = size;
    modrm();
    c.data[rec + IMM] = imm(size);
    kind = fReg === 0 ? MOV_EI : GENERIC;
  } else if (b === 0xe8 || b === 0xe9) {
    c.data[rec + IMM] = vsize === 2 ? imm(2) : (imm(1) << 16) >> 16;
    kind = b === 0xe8 ? CALL : JMP;
  } else if (b === 0xeb) {
    c.data[rec + IMM] = (byte() << 24) >> 24;
    kind = JMP;
  } else if (b === 0xe3) {
    // JECXZ/JCXZ: a Jcc whose condition is the count register (dir 1), not a flag.
    fDir = 1;
    c.data[rec + IMM] = (byte() << 24) >> 24;
    kind = JCC;
  } else if (b === 0x68 || b === 0x6a) {
    c.data[rec + IMM] = b === 0x68 ? imm(vsize) : imm8s(vsize);
    kind = PUSH_I;
  } else if (b === 0x69 || b === 0x6b) {
    fSize = vsize;
    modrm();
    c.data[rec + IMM] = b === 0x69 ? imm(vsize) : imm8s(vsize);
    kind = IMUL_GEI;
  } else if (b === 0xf6 || b === 0xf7) {
    const size = b & 1 ? vsize : 0;
    fSize = size;
    modrm();
    fOp = fReg;
    if (fOp < 2) c.data[rec + IMM] = imm(size);
    kind = GRP3;
  } else if (b === 0xfe || b === 0xff) {
    fSize = b === 0xfe ? 0 : vsize;
    modrm();
    fOp = fReg;
    // Far CALL/JMP, FF /7 and FE /2-7 stay with the full decoder (they fault or change CS).
    kind = fOp < 2 || (b === 0xff && (fOp === 2 || fOp === 4 || fOp === 6)) ? GRP5 : GENERIC;
  } else if (b === 0x86 || b === 0x87) {
    fSize = b & 1 ? vsize : 0;
    modrm();
    kind = XCHG_EG;
  } else if (b >= 0x91 && b <= 0x97) {
    fSize = vsize;
    fReg = b & 7;
    kind = XCHG_A;
  } else if (b === 0x98 || b === 0x99) {
    fSize = vsize;
    kind = b === 0x98 ? CBW : CWD;
  } else if (b === 0x0f) {
    const b2 = byte();
    if (b2 >= 0x90 && b2 < 0xa0) {
      fOp = b2 & 15;
      modrm();
      kind = SETCC;
    } else if (b2 >= 0x40 && b2 < 0x50) {
      fOp = b2 & 15;
      fSize = vsize;
      modrm();
      kind = CMOVCC;
    } else if (b2 >= 0x80 && b2 < 0x90) {
      fOp = b2 & 15;
      c.data[rec + IMM] = vsize === 2 ? imm(2) : (imm(1) << 16) >> 16;
      kind = JCC;
    } else if (b2 === 0xb6 || b2 === 0xb7 || b2 === 0xbe || b2 === 0xbf) {
      fSize = vsize;
      fOp = b2 & 1; // source size: byte or word
      fDir = b2 >= 0xbe ? 1 : 0; // sign-extend
      modrm();
      kind = MOVX;
    } else if (b2 === 0x31) {
      fOp = 2; // RDTSC shares the NOP kind
      kind = NOP;
    } else if (b2 === 0xaf) {
      fSize = vsize;
      modrm();
      kind = IMUL_GE;
    }
  }
  if (!ok) return rec;
  // Too long for the model (80286: over 10 bytes): the full decoder raises its #GP.
  if (i > cpu.traits.maxInstructionLength) kind = GENERIC;
  c.data[rec + INFO] = kind | (fSize << 5) | (fOp << 7) | (fDir << 11) | (fReg << 12) | ((fRm + 1) << 15) |
    ((fBase + 1) << 19) | ((fIndex + 1) << 23) | (fScale << 27) | (fSeg << 29);
  // meta stays 0 for GENERIC records: one load tells the run loop to take the full decoder.
  if (kind !== GENERIC) c.data[rec + META] = i | (op32 ? 16 : 0) | (a32 ? 32 : 0);
  return rec;
}

function ea(cpu: Cpu, c: DecodeCache, rec: number, info: number): number {
  const base = ((info >>> 19) & 15) - 1;
  const index = ((info >>> 23) & 15) - 1;
  let off = c.data[rec + DISP];
  if (cpu.addrSize32) {
    const r = cpu.reg32;
    if (base >= 0) off += r[base];
    if (index >= 0) off += r[index] << ((info >>> 27) & 3);
    return off | 0;
  }
  const r = cpu.reg16;
  if (base >= 0) off += r[base << 1];
  if (index >= 0) off += r[index << 1];
  return off & 0xffff;
}

function runAluEg(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const op = ((info >>> 7) & 15);
  const g = ((info >>> 12) & 7);
  const rm = (((info >>> 15) & 15) - 1);
  if (rm >= 0) {
    if (((info >>> 11) & 1) === 0) {
      const r = alu(cpu, op, getReg(cpu, size, rm), getReg(cpu, size, g), size);
      if (op !== 7) setReg(cpu, size, rm, r);
    } else {
      const r = alu(cpu, op, getReg(cpu, size, g), getReg(cpu, size, rm), size);
      if (op !== 7) setReg(cpu, size, g, r);
    }
    return;
  }
  const seg = (info >>> 29);
  const off = ea(cpu, c, rec, info);
  if (((info >>> 11) & 1) === 0) {
    if (op === 7) alu(cpu, 7, readSized(cpu, size, seg, off), getReg(cpu, size, g), size);
    else writeRmwSized(cpu, size, alu(cpu, op, readRmwSized(cpu, size, seg, off), getReg(cpu, size, g), size));
  } else {
    const r = alu(cpu, op, getReg(cpu, size, g), readSized(cpu, size, seg, off), size);
    if (op !== 7) setReg(cpu, size, g, r);
  }
}

function runAluAi(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const op = ((info >>> 7) & 15);
  const r = alu(cpu, op, getReg(cpu, size, 0), c.data[rec + IMM], size);
  if (op !== 7) setReg(cpu, size, 0, r);
}

function runGrp1(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const op = ((info >>> 7) & 15);
  const rm = (((info >>> 15) & 15) - 1);
  if (rm >= 0) {
    const r = alu(cpu, op, getReg(cpu, size, rm), c.data[rec + IMM], size);
    if (op !== 7) setReg(cpu, size, rm, r);
    return;
  }
  const seg = (info >>> 29);
  const off = ea(cpu, c, rec, info);
  if (op === 7) alu(cpu, 7, readSized(cpu, size, seg, off), c.data[rec + IMM], size);
  else writeRmwSized(cpu, size, alu(cpu, op, readRmwSized(cpu, size, seg, off), c.data[rec + IMM], size));
}

function runMovEg(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const v = getReg(cpu, size, ((info >>> 12) & 7));
  const rm = (((info >>> 15) & 15) - 1);
  if (rm >= 0) setReg(cpu, size, rm, v);
  else writeSized(cpu, size, (info >>> 29), ea(cpu, c, rec, info), v);
}

function runMovGe(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const rm = (((info >>> 15) & 15) - 1);
  setReg(cpu, size, ((info >>> 12) & 7), rm >= 0 ? getReg(cpu, size, rm) : readSized(cpu, size, (info >>> 29), ea(cpu, c, rec, info)));
}

function runMovRi(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  setReg(cpu, size, ((info >>> 12) & 7), c.data[rec + IMM]);
}

function runMovEi(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const rm = (((info >>> 15) & 15) - 1);
  if (rm >= 0) setReg(cpu, size, rm, c.data[rec + IMM]);
  else writeSized(cpu, size, (info >>> 29), ea(cpu, c, rec, info), c.data[rec + IMM]);
}

function runLea(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  setReg(cpu, size, ((info >>> 12) & 7), ea(cpu, c, rec, info));
}

function runIncDec(cpu: Cpu, _c: DecodeCache, _rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const r = ((info >>> 12) & 7);
  setReg(cpu, size, r, incDec(cpu, getReg(cpu, size, r), ((info >>> 7) & 15) === 1, size));
}

function runPushR(cpu: Cpu, _c: DecodeCache, _rec: number, info: number): void {
  if (cpu.opSize32) cpu.push32(cpu.reg32[((info >>> 12) & 7)]);
  else cpu.push16(cpu.reg16[((info >>> 12) & 7) << 1]);
}

function runPopR(cpu: Cpu, _c: DecodeCache, _rec: number, info: number): void {
  if (cpu.opSize32) cpu.reg32[((info >>> 12) & 7)] = cpu.pop32();
  else cpu.reg16[((info >>> 12) & 7) << 1] = cpu.pop16();
}

function runPushI(cpu: Cpu, c: DecodeCache, rec: number, _info: number): void {
  if (cpu.opSize32) cpu.push32(c.data[rec + IMM]);
  else cpu.push16(c.data[rec + IMM]);
}

function runJcc(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const taken = (info & (1 << 11)) === 0 ? condition(cpu, ((info >>> 7) & 15))
    : (c.data[rec + META] & 32) !== 0 ? cpu.reg32[1] === 0 : cpu.reg16[2] === 0;
  if (taken) jumpTo(cpu, cpu.eip + c.data[rec + IMM]);
}

function runJmp(cpu: Cpu, c: DecodeCache, rec: number, _info: number): void {
  jumpTo(cpu, cpu.eip + c.data[rec + IMM]);
}

function runCall(cpu: Cpu, c: DecodeCache, rec: number, _info: number): void {
  callTo(cpu, cpu.eip + c.data[rec + IMM]);
}

function runRet(cpu: Cpu, c: DecodeCache, rec: number, _info: number): void {
  const target = cpu.opSize32 ? cpu.pop32() : cpu.pop16();
  jumpTo(cpu, target);
  const extra = c.data[rec + IMM];
  if (extra !== 0) {
    if (cpu.stack32) cpu.reg32[4] = (cpu.reg32[4] + extra) | 0;
    else cpu.reg16[8] = cpu.reg16[8] + extra;
  }
}

function runTestEg(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const rm = (((info >>> 15) & 15) - 1);
  const a = rm >= 0 ? getReg(cpu, size, rm) : readSized(cpu, size, (info >>> 29), ea(cpu, c, rec, info));
  cpu.setLogicFlags(a & getReg(cpu, size, ((info >>> 12) & 7)), size, 0);
}

function runTestAi(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  cpu.setLogicFlags(getReg(cpu, size, 0) & c.data[rec + IMM], size, 0);
}

function runMovx(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const from = ((info >>> 7) & 15);
  const rm = (((info >>> 15) & 15) - 1);
  let v = rm >= 0 ? getReg(cpu, from, rm) : readSized(cpu, from, (info >>> 29), ea(cpu, c, rec, info));
  if (((info >>> 11) & 1)) v = from ? (v << 16) >> 16 : (v << 24) >> 24;
  setReg(cpu, size, ((info >>> 12) & 7), size === 2 ? v : v & 0xffff);
}

function runShift(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const count = c.data[rec + IMM] < 0 ? cpu.reg8[4] : c.data[rec + IMM];
  const rm = (((info >>> 15) & 15) - 1);
  if (rm >= 0) {
    const r = shift(cpu, ((info >>> 7) & 15), getReg(cpu, size, rm), count, size);
    if ((count & 31) !== 0) setReg(cpu, size, rm, r);
    return;
  }
  const r = shift(cpu, ((info >>> 7) & 15), readRmwSized(cpu, size, info >>> 29, ea(cpu, c, rec, info)), count, size);
  if ((count & 31) !== 0) writeRmwSized(cpu, size, r);
}

function runImulGei(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const rm = (((info >>> 15) & 15) - 1);
  const a = rm >= 0 ? getReg(cpu, size, rm) : readSized(cpu, size, (info >>> 29), ea(cpu, c, rec, info));
  setReg(cpu, size, ((info >>> 12) & 7), imulTruncate(cpu, a, c.data[rec + IMM], size));
}

function runImulGe(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const g = (info >>> 12) & 7;
  const rm = (((info >>> 15) & 15) - 1);
  const a = rm >= 0 ? getReg(cpu, size, rm) : readSized(cpu, size, (info >>> 29), ea(cpu, c, rec, info));
  setReg(cpu, size, g, imulTruncate(cpu, getReg(cpu, size, g), a, size));
}

function runNop(): void {
  // GENERIC records, which never run here.
}

/**
 * RDTSC as `execute-0f.ts` runs it (CR4.TSD makes it privileged), for an instruction `delta`
 * instructions after the one `recordedRetire` counts (a compiled block's position in its run).
 */
export function rdtsc(cpu: Cpu, delta: number): void {
  if (cpu.cr4 & 4 && cpu.protectedMode && cpu.cpl !== 0) throwFault(13, 0);
  const tsc = cpu.readTsc(delta);
  cpu.reg32[0] = tsc % 0x100000000;
  cpu.reg32[2] = Math.floor(tsc / 0x100000000);
}

function runNopLeave(cpu: Cpu, _c: DecodeCache, _rec: number, info: number): void {
  const op = (info >>> 7) & 15;
  if (op === 0) return;
  if (op === 2) {
    rdtsc(cpu, 0);
    return;
  }
  // LEAVE: ESP (SP with a 16-bit stack) from EBP, then pop EBP.
  if (cpu.stack32) cpu.reg32[4] = cpu.reg32[5];
  else cpu.reg16[8] = cpu.reg16[10];
  if (cpu.opSize32) cpu.reg32[5] = cpu.pop32();
  else cpu.reg16[10] = cpu.pop16();
}

function runGrp3(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const rm = ((info >>> 15) & 15) - 1;
  const op = (info >>> 7) & 15;
  // NOT and NEG read memory with write intent.
  const rmw = op === 2 || op === 3;
  const a = rm >= 0 ? getReg(cpu, size, rm) : rmw ? readRmwSized(cpu, size, info >>> 29, ea(cpu, c, rec, info)) :
    readSized(cpu, size, info >>> 29, ea(cpu, c, rec, info));
  let r: number;
  switch (op) {
    case 0:
    case 1:
      cpu.setLogicFlags(a & c.data[rec + IMM], size, 0);
      return;
    case 2: r = size === 2 ? ~a : ~a & (size === 0 ? 0xff : 0xffff); break;
    case 3: r = alu(cpu, 5, 0, a, size); break;
    case 4: mul(cpu, a, size); return;
    case 5: imulWide(cpu, a, size); return;
    case 6: div(cpu, a, size); return;
    default: idiv(cpu, a, size); return;
  }
  if (rm >= 0) setReg(cpu, size, rm, r);
  else writeRmwSized(cpu, size, r);
}

function runGrp5(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const rm = ((info >>> 15) & 15) - 1;
  const op = (info >>> 7) & 15;
  if (op < 2) {
    // INC and DEC read memory with write intent.
    const r = incDec(cpu, rm >= 0 ? getReg(cpu, size, rm) : readRmwSized(cpu, size, info >>> 29, ea(cpu, c, rec, info)), op === 1, size);
    if (rm >= 0) setReg(cpu, size, rm, r);
    else writeRmwSized(cpu, size, r);
    return;
  }
  const v = rm >= 0 ? getReg(cpu, size, rm) : readSized(cpu, size, info >>> 29, ea(cpu, c, rec, info));
  if (op === 2) callTo(cpu, v);
  else if (op === 4) jumpTo(cpu, v);
  else if (cpu.opSize32) cpu.push32(v);
  else cpu.push16(v);
}

function runSetcc(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const v = condition(cpu, (info >>> 7) & 15) ? 1 : 0;
  const rm = ((info >>> 15) & 15) - 1;
  if (rm >= 0) setReg(cpu, 0, rm, v);
  else writeSized(cpu, 0, info >>> 29, ea(cpu, c, rec, info), v);
}

function runCmovcc(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const rm = ((info >>> 15) & 15) - 1;
  // The source is read (and may fault) whether or not the condition holds.
  const v = rm >= 0 ? getReg(cpu, size, rm) : readSized(cpu, size, info >>> 29, ea(cpu, c, rec, info));
  if (condition(cpu, (info >>> 7) & 15)) setReg(cpu, size, (info >>> 12) & 7, v);
}

function runXchgEg(cpu: Cpu, c: DecodeCache, rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const g = (info >>> 12) & 7;
  const rm = ((info >>> 15) & 15) - 1;
  const b = getReg(cpu, size, g);
  if (rm >= 0) {
    setReg(cpu, size, g, getReg(cpu, size, rm));
    setReg(cpu, size, rm, b);
    return;
  }
  const a = readRmwSized(cpu, size, info >>> 29, ea(cpu, c, rec, info));
  writeRmwSized(cpu, size, b);
  setReg(cpu, size, g, a);
}

function runXchgA(cpu: Cpu, _c: DecodeCache, _rec: number, info: number): void {
  const size = (info >>> 5) & 3;
  const r = (info >>> 12) & 7;
  const v = getReg(cpu, size, r);
  setReg(cpu, size, r, getReg(cpu, size, 0));
  setReg(cpu, size, 0, v);
}

function runCbw(cpu: Cpu, _c: DecodeCache, _rec: number, info: number): void {
  if (((info >>> 5) & 3) === 2) cpu.reg32[0] = (cpu.reg32[0] << 16) >> 16;
  else cpu.reg16[0] = (cpu.reg8[0] << 24) >> 24;
}

function runCwd(cpu: Cpu, _c: DecodeCache, _rec: number, info: number): void {
  if (((info >>> 5) & 3) === 2) cpu.reg32[2] = cpu.reg32[0] >> 31;
  else cpu.reg16[4] = (cpu.reg16[0] << 16) >> 31;
}

type Handler = (cpu: Cpu, c: DecodeCache, rec: number, info: number) => void;

/**
 * One small function per record kind, indexed by kind: each is optimised on its own with its helpers
 * inlined, where one big switch with the code inline would exhaust the compiler's inlining budget.
 */
const HANDLERS: readonly Handler[] = [
  runNop,
  runAluEg,
  runAluAi,
  runGrp1,
  runMovEg,
  runMovGe,
  runMovRi,
  runMovEi,
  runLea,
  runIncDec,
  runPushR,
  runPopR,
  runJcc,
  runJmp,
  runCall,
  runRet,
  runTestEg,
  runTestAi,
  runMovx,
  runShift,
  runNopLeave,
  runImulGei,
  runPushI,
  runGrp3,
  runGrp5,
  runSetcc,
  runCmovcc,
  runXchgEg,
  runXchgA,
  runCbw,
  runCwd,
  runImulGe,
];

/** Runs a decoded record; EIP already points past the instruction. */
export function runRecord(cpu: Cpu, c: DecodeCache, rec: number): void {
  const info = c.data[rec + INFO];
  HANDLERS[info & 31](cpu, c, rec, info);
}
