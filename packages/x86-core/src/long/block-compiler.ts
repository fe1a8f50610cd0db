// The compiled tier of 64-bit mode: a straight run of decoded instructions (block-decode.ts) of one
// code page becomes one JavaScript function (`new Function`) with every operand, size, immediate and
// address known at compile time written in as a literal. The instructions' work is the interpreter's
// own helpers (alu.ts, alu64.ts, operands.ts, stack.ts, memory.ts), called with what step64 would
// have decoded, so a compiled instruction computes, checks and faults exactly as the interpreter does;
// what the block saves is the fetch, the prefix and ModRM decode and the dispatch of every instruction.
//
// A block is compiled for one linear RIP (RIP-relative operands and branch targets are constants) and
// one physical page (blocks.ts checks both, and the page's code-write generation, on entry). It ends
// after an unconditional transfer, at the end of the page, or before an instruction it does not
// compile; a taken Jcc leaves it, but a Jcc, JMP or CALL back to the entry goes round again inside
// the function while the run's budget (`left`) holds another pass (`n` counts the passes'
// instructions: a loop body runs as one call, not one per iteration). Exactness: an instruction
// that may fault first records its index and offset (`q`), and for one that moves RSP before it can fault, RSP (`s`, `sh`); the catch sets
// `recordedRetire`, `startEip`/`startRipHi` and `startEsp`/`startRspHi` as step64 would have, then
// rethrows to run()'s handler. After any instruction that touched memory a non-zero `cpu.events` (MMIO,
// a write to a code page, possibly this block's own) ends the block there, as runLong's loop would.
// A hot block is compiled a second time with its plain ModRM operands read and written inline
// (inline-memory.ts), each falling back to the call this first compile makes.
import { alu, div, idiv, imulTruncate, imulWide, incDec, mul, shift } from '../alu.js';
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { condition } from '../operands.js';
import { alu64, divide64, imulTruncate64, incDec64, mulWide64, shift64, test64 } from './alu64.js';
import type { Insn64 } from './block-decode.js';
import { setRip } from './execute.js';
import { INLINE_PARAMETERS, addressCode, inlineConstants, inlinePrologue, physicalCode, ramRead, ramWrite, type InlineMemory } from './inline-memory.js';
import { TWO_32, canonical } from './memory.js';
import { ea, eaFrom, hi, linearIn, readAt, readOperand, readRmwAt, ripRelativeEa, writeAt, writeOperand } from './operands.js';
import { pop, popped, push } from './stack.js';

/** The most instructions in one block. */
export const MAX_BLOCK_INSTRUCTIONS = 48;

/**
 * Runs the block; returns how many instructions it retired. The run loop checked that `left`, the
 * budget, holds one pass; a block that loops back to its entry goes round while it holds another.
 */
export type LongBlockFunction = (cpu: Cpu, left: number) => number;

const TWO_47 = 0x8000_0000_0000;
const MASKS = [0xff, 0xffff, -1, -1];

/** The low dword of a RIP as `setRip` stores it in `cpu.eip` (unsigned), and its high dword. */
function ripParts(rip: number): [number, number] {
  const high = Math.floor(rip / TWO_32);
  return [rip - high * TWO_32, high | 0];
}

/** Whether the instruction reads or writes memory (its ModRM operand or the stack). */
function touchesMemory(i: Insn64): boolean {
  if (i.op === 0x8d || i.op === 0x11f) return false; // LEA, hint NOP: the address only
  if (i.mem) return true;
  const op = i.op;
  return (op >= 0x50 && op <= 0x5f) || op === 0x68 || op === 0x6a || op === 0xc2 || op === 0xc3 || op === 0xc9 ||
    op === 0xe8 || (op === 0xff && (i.ext === 2 || i.ext === 6));
}

/** Instructions that may move RSP before a later part of them faults (POP's store aside, none here does). */
function movesStack(i: Insn64): boolean {
  return i.op === 0xc2 || i.op === 0xc3 || i.op === 0xc9;
}

/** Instructions that may fault. */
function mayFault(i: Insn64): boolean {
  const op = i.op;
  return touchesMemory(i) || ((op === 0xf6 || op === 0xf7) && i.ext >= 6) || (op === 0xff && i.ext === 4);
}

/** Unconditional transfers: the block ends after them. */
export function endsBlock(i: Insn64): boolean {
  const op = i.op;
  return op === 0xc2 || op === 0xc3 || op === 0xe8 || op === 0xe9 || op === 0xeb || (op === 0xff && (i.ext === 2 || i.ext === 4));
}

function lit(n: number): string {
  return n < 0 ? `(${n})` : String(n);
}

class Emitter {
  readonly out: string[] = [];
  /**
   * The memory operand `linear` was asked for and not yet written out: a plain read or write right
   * after it becomes one call (`readOperand`/`writeOperand`) or, RIP-relative, a constant address;
   * anything else writes the address into `l` first.
   */
  private pending: { readonly i: Insn64; readonly next: number } | null = null;
  /** FS/GS, when inline accesses add their bases, and the hit masks they use (read at the block's entry). */
  readonly segments = new Set<number>();
  readonly uses = new Set<string>();
  /** Set between an inline read-modify-write's read and its write: `m` holds its RAM address or -1. */
  private rmwInline = false;
  /**
   * Linear RIP of the block's first instruction, its instruction count, whether a branch goes back
   * to the entry (the body is then a loop; `n` counts the instructions of the passes done), and
   * whether plain memory operands are read and written inline (inline-memory.ts).
   */
  constructor(readonly entry: number, readonly count: number, readonly loops: boolean, readonly inline: boolean) {}

  line(s: string): void {
    if (this.pending !== null) this.flushOperand();
    this.out.push(s);
  }

  /** reg8 index of byte register `n` under `rex` (SPL-DIL with any REX, else AH-BH). */
  private byteIndex(i: Insn64, n: number): number {
    return n < 4 || i.rex !== 0 ? n << 2 : ((n - 4) << 2) + 1;
  }

  /** Register `n` at `size` into locals `lo`, `hi` (0 below a qword). */
  getReg(i: Insn64, size: number, n: number, lo: string, high: string): void {
    if (size === 0) this.line(`${lo} = B[${this.byteIndex(i, n)}]; ${high} = 0;`);
    else if (size === 1) this.line(`${lo} = W[${n << 1}]; ${high} = 0;`);
    else this.line(`${lo} = r[${n}]; ${high} = ${size === 3 ? `H[${n}]` : '0'};`);
  }

  /** Writes register `n` at `size` as `setReg` does: a dword zero-extends, bytes and words keep the rest. */
  setReg(i: Insn64, size: number, n: number, lo: string, high: string): void {
    if (size === 0) this.line(`B[${this.byteIndex(i, n)}] = ${lo};`);
    else if (size === 1) this.line(`W[${n << 1}] = ${lo};`);
    else this.line(`r[${n}] = ${lo}; H[${n}] = ${size === 3 ? high : '0'};`);
  }

  /** The offset of the memory operand into `ea` (no segment, no check: LEA's work). */
  offset(i: Insn64, next: number): void {
    if (i.ripRelative) this.line(`RR(${next}, ${lit(i.disp)}, ${i.addr32});`);
    else this.line(`EF(cpu, ${i.base}, ${i.index}, ${i.scale}, ${lit(i.disp)}, ${i.addr32});`);
  }

  /** The memory operand's linear address for local `l` (#GP/#SS unless canonical), written out when used. */
  linear(i: Insn64, next: number): void {
    if (this.pending !== null) this.flushOperand();
    this.rmwInline = false;
    this.pending = { i, next };
  }

  private flushOperand(): void {
    const { i, next } = this.pending as { i: Insn64; next: number };
    this.pending = null;
    this.line(linearCode(i, next));
  }

  /**
   * The pending operand inline: its address and physical address for `size` and `write` into `o`,
   * `g`, `p` (-1 when the call must make the access), or null when it keeps the calls.
   */
  private inlineOperand(size: number, write: boolean): string | null {
    if (!this.inline || this.pending === null) return null;
    const { i, next } = this.pending;
    const constant = constantLinear(i, next);
    const address = addressCode(i, constant, this.segments);
    if (address === null) return null;
    const high = constant === null ? null : Math.floor(constant / TWO_32);
    return `${address} ${physicalCode(size, write, high, this.uses)}`;
  }

  /** The pending operand's arguments for `readOperand`/`writeOperand`, or null when it is a constant. */
  private operandArguments(): string | null {
    const { i, next } = this.pending as { i: Insn64; next: number };
    if (i.ripRelative || constantLinear(i, next) !== null) return null;
    return `${i.base}, ${i.index}, ${i.scale}, ${lit(i.disp)}, ${i.addr32}, ${i.seg}`;
  }

  /** The r/m operand (at `size`) into `lo`, `hi`; `rmw` reads a destination with write intent. */
  readE(i: Insn64, size: number, lo: string, high: string, rmw = false): void {
    if (!i.mem) this.getReg(i, size, i.rm, lo, high);
    else if (this.inlineRead(i, size, lo, high, rmw)) return;
    else {
      const args = this.pending !== null && !rmw ? this.operandArguments() : null;
      if (args !== null) {
        this.pending = null;
        this.line(`${lo} = RO(cpu, ${args}, ${size}); ${high} = X.v;`);
      } else this.line(`${lo} = ${rmw ? 'RW' : 'RA'}(cpu, l, ${size}); ${high} = X.v;`);
    }
  }

  /**
   * Inline, the r/m operand into `lo`, `high` from RAM when it can, else through the call the block
   * makes without inline accesses; a read-modify-write is translated as a store (so `writeE` can
   * store to the same bytes, `m`) and falls back to `readRmwAt` with `l` for `writeE`'s `writeAt`.
   */
  private inlineRead(i: Insn64, size: number, lo: string, high: string, rmw: boolean): boolean {
    const at = this.inlineOperand(size, rmw);
    if (at === null) return false;
    const { next } = this.pending as { next: number };
    const constant = constantLinear(i, next);
    if (rmw) {
      this.pending = null;
      this.rmwInline = true;
      this.line(`${at} if (p >= 0 && K[p >>> 12] === 0) { m = p; ${ramRead(size, 'm', lo, high)} } ` +
        `else { m = -1; ${linearCode(i, next)} ${lo} = RW(cpu, l, ${size}); ${high} = X.v; }`);
      return true;
    }
    const call = constant === null ? `RO(cpu, ${this.operandArguments() as string}, ${size})` : `RA(cpu, ${lit(constant)}, ${size})`;
    this.pending = null;
    this.line(`${at} if (p >= 0 && K[p >>> 12] <= 1) { ${ramRead(size, 'p', lo, high)} } else { ${lo} = ${call}; ${high} = X.v; }`);
    return true;
  }

  writeE(i: Insn64, size: number, lo: string, high: string): void {
    if (!i.mem) this.setReg(i, size, i.rm, lo, high);
    else if (this.rmwInline) {
      this.rmwInline = false;
      this.line(`if (m >= 0) { ${ramWrite(size, 'm', lo, high)} } else WA(cpu, l, ${size}, ${lo}, ${high});`);
    } else if (this.inline && this.pending !== null && this.inlineWrite(size, lo, high)) return;
    else {
      const args = this.pending !== null ? this.operandArguments() : null;
      if (args !== null) {
        this.pending = null;
        this.line(`WO(cpu, ${args}, ${size}, ${lo}, ${high});`);
      } else this.line(`WA(cpu, l, ${size}, ${lo}, ${high});`);
    }
  }

  /** Inline, a plain store of the pending operand: to RAM when it can, else through the block's call. */
  private inlineWrite(size: number, lo: string, high: string): boolean {
    const at = this.inlineOperand(size, true);
    if (at === null) return false;
    const { i, next } = this.pending as { i: Insn64; next: number };
    const constant = constantLinear(i, next);
    const call = constant === null ? `WO(cpu, ${this.operandArguments() as string}, ${size}, ${lo}, ${high});` : `WA(cpu, ${lit(constant)}, ${size}, ${lo}, ${high});`;
    this.pending = null;
    this.line(`${at} if (p >= 0 && K[p >>> 12] === 0) { ${ramWrite(size, 'p', lo, high)} } else ${call}`);
    return true;
  }

  /** Leaves the block with `retired` instructions of this pass done and RIP at the canonical number `rip`. */
  exit(rip: number, retired: number): string {
    const [lo, high] = ripParts(rip);
    return `cpu.eip = ${lo}; cpu.ripHi = ${lit(high)}; return ${this.retired(retired)};`;
  }

  /** Leaves the block at the run-time RIP in local `t` (a canonical number). */
  exitTo(retired: number): string {
    return `SR(cpu, t); return ${this.retired(retired)};`;
  }

  /** A taken branch back to the entry after `retired` instructions of this pass: another pass if the budget holds it. */
  backEdge(retired: number): string {
    return `n += ${retired}; if (n + ${this.count} <= left) continue; ${this.exit(this.entry, 0)}`;
  }

  private retired(k: number): string {
    return this.loops ? `n + ${k}` : String(k);
  }
}

/**
 * The linear address of a RIP-relative operand without a segment or 67 prefix, known at compile time,
 * when the whole operand (up to 16 bytes) is canonical, so no access can raise #GP or #SS for it
 * (which would depend on `ea.stack`); else null.
 */
function constantLinear(i: Insn64, next: number): number | null {
  if (!i.ripRelative || i.seg >= 0 || i.addr32) return null;
  const linear = next + i.disp;
  return linear >= -TWO_47 && linear + 16 <= TWO_47 ? linear : null;
}

/** Code computing the memory operand's linear address into local `l` (#GP/#SS unless canonical). */
function linearCode(i: Insn64, next: number): string {
  const constant = constantLinear(i, next);
  if (constant !== null) return `l = ${lit(constant)};`;
  const offset = i.ripRelative ? `RR(${next}, ${lit(i.disp)}, ${i.addr32});` : `EF(cpu, ${i.base}, ${i.index}, ${i.scale}, ${lit(i.disp)}, ${i.addr32});`;
  return `${offset} l = LI(cpu, ${i.seg});`;
}

/** An immediate at `size` as step64 fetches it: `signed8` for the sign-extending imm8 forms. */
function immediate(i: Insn64, size: number, signed8: boolean): [string, string] {
  if (size === 3) return [lit(i.imm), lit(i.immHi)];
  if (signed8) return [lit(i.imm & MASKS[size]), '0'];
  return [lit(size === 2 ? i.imm : i.imm & MASKS[size]), '0'];
}

/** `a op b` at size `s` (the ALU kind `kind`, ModRM reg order) into `x`, `xh`. */
function aluCode(kind: number, s: number): string {
  return s === 3 ? `x = A64(cpu, ${kind}, a, ah, v, vh); xh = X.v;` : `x = ALU(cpu, ${kind}, a, v, ${s}); xh = 0;`;
}

function emitAlu(g: Emitter, i: Insn64, next: number): void {
  const op = i.op;
  const kind = op >> 3;
  const form = op & 7;
  const s = form & 1 ? i.size : 0;
  if (form >= 4) {
    g.getReg(i, s, 0, 'a', 'ah');
    const [v, vh] = immediate(i, s, false);
    g.line(`v = ${v}; vh = ${vh}; ${aluCode(kind, s)}`);
    if (kind !== 7) g.setReg(i, s, 0, 'x', 'xh');
    return;
  }
  if (i.mem) g.linear(i, next);
  if (form < 2) {
    g.readE(i, s, 'a', 'ah', kind !== 7);
    g.getReg(i, s, i.reg, 'v', 'vh');
    g.line(aluCode(kind, s));
    if (kind !== 7) g.writeE(i, s, 'x', 'xh');
  } else {
    g.readE(i, s, 'v', 'vh');
    g.getReg(i, s, i.reg, 'a', 'ah');
    g.line(aluCode(kind, s));
    if (kind !== 7) g.setReg(i, s, i.reg, 'x', 'xh');
  }
}

/** 80 81 83: ALU r/m, imm. */
function emitGroup1(g: Emitter, i: Insn64, next: number): void {
  const s = i.op === 0x80 ? 0 : i.size;
  if (i.mem) g.linear(i, next);
  g.readE(i, s, 'a', 'ah', i.ext !== 7);
  const [v, vh] = immediate(i, s, i.op === 0x83);
  g.line(`v = ${v}; vh = ${vh}; ${aluCode(i.ext, s)}`);
  if (i.ext !== 7) g.writeE(i, s, 'x', 'xh');
}

function testCode(s: number): string {
  return s === 3 ? 'T64(cpu, a, ah, v, vh);' : `cpu.setLogicFlags(a & v, ${s}, 0);`;
}

/** C0 C1 D0-D3: ROL ROR RCL RCR SHL SHR SAL SAR, as step64 runs them. */
function emitShift(g: Emitter, i: Insn64, next: number): void {
  const s = i.op & 1 ? i.size : 0;
  if (i.mem) g.linear(i, next);
  g.readE(i, s, 'a', 'ah', true);
  const count = i.op < 0xd0 ? String(i.imm & 0xff) : i.op < 0xd2 ? '1' : 'B[4]';
  g.line(`c = ${count};`);
  if (s === 3) {
    g.line(`x = SH64(cpu, ${i.ext}, a, ah, c); xh = X.v;`);
    g.line('if ((c & 63) !== 0) {');
    g.writeE(i, 3, 'x', 'xh');
    g.line('}');
    return;
  }
  g.line(`x = SH(cpu, ${i.ext}, a, c, ${s});`);
  g.line('if ((c & 31) !== 0) {');
  g.writeE(i, s, 'x', '0');
  // A dword register destination is written even for a count of 0, clearing its high dword.
  g.line(s === 2 && !i.mem ? `} else H[${i.rm}] = 0;` : '}');
}

/** F6 F7: TEST NOT NEG MUL IMUL DIV IDIV. */
function emitGroup3(g: Emitter, i: Insn64, next: number): void {
  const s = i.op & 1 ? i.size : 0;
  if (i.mem) g.linear(i, next);
  const ext = i.ext;
  if (ext === 2 || ext === 3) {
    g.readE(i, s, 'a', 'ah', true);
    if (s === 3) g.line(ext === 3 ? 'x = A64(cpu, 5, 0, 0, a, ah); xh = X.v;' : 'x = ~a; xh = ~ah;');
    else g.line(ext === 3 ? `x = ALU(cpu, 5, 0, a, ${s});` : `x = ${s === 2 ? '~a' : `~a & ${MASKS[s]}`};`);
    g.writeE(i, s, 'x', 'xh');
    return;
  }
  g.readE(i, s, 'a', 'ah');
  if (ext < 2) {
    const [v, vh] = immediate(i, s, false);
    g.line(`v = ${v}; vh = ${vh}; ${testCode(s)}`);
    return;
  }
  if (s === 3) {
    g.line(ext < 6 ? `MW64(cpu, a, ah, ${ext === 5});` : `DV64(cpu, a, ah, ${ext === 7});`);
    return;
  }
  g.line(`${['MUL', 'IMW', 'DIV', 'IDIV'][ext - 4]}(cpu, a, ${s});`);
  // A dword MUL/DIV wrote EAX and EDX: as dword writes they clear bits 63:32.
  if (s === 2) g.line('H[0] = 0; H[2] = 0;');
}

/**
 * The relative branch of the block's instruction `k` (at `rip`) to `target`: #GP(0) there when the
 * target is not canonical (its own `q`: no earlier one may stand for it), another pass back at the
 * entry, else the block's exit.
 */
function branchTo(g: Emitter, target: number, k: number, rip: number): string {
  if (!(target >= -TWO_47 && target < TWO_47)) return `q = ${(k << 16) | (rip - g.entry)}; F(13, 0);`;
  return target === g.entry ? g.backEdge(k + 1) : g.exit(target, k + 1);
}

/** A Jcc, JMP or CALL (relative) back to the block's entry: every branch `branchTo` may turn into a back edge. */
function loopsToEntry(i: Insn64, rip: number, entry: number): boolean {
  const op = i.op;
  const branch = (op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f) || op === 0xe9 || op === 0xeb || op === 0xe8;
  return branch && rip + i.length + i.imm === entry;
}

/** The qword return address `ret` pushed by a near CALL. */
function pushReturn(ret: number): string {
  const [lo, high] = ripParts(ret);
  return `PUSH(cpu, ${lo | 0}, ${high}, 8);`;
}

/** Stack, moves of every kind, CBW/CWD, XCHG. */
function emitMove(g: Emitter, i: Insn64, next: number): void {
  const op = i.op;
  const size = i.size;
  if (op >= 0x50 && op <= 0x57) {
    g.line(`PUSH(cpu, r[${i.reg}], H[${i.reg}], 8);`);
  } else if (op >= 0x58 && op <= 0x5f) {
    g.line(`v = POP(cpu, 8); vh = P.hi;`);
    g.setReg(i, 3, i.reg, 'v', 'vh');
  } else if (op === 0x63) {
    if (i.mem) g.linear(i, next);
    g.readE(i, size === 3 ? 2 : size, 'v', 'vh');
    g.setReg(i, size, i.reg, 'v', 'v >> 31');
  } else if (op === 0x68 || op === 0x6a) {
    g.line(`PUSH(cpu, ${lit(i.imm)}, ${lit(i.imm >> 31)}, 8);`);
  } else if (op === 0x86 || op === 0x87) {
    const s = op & 1 ? size : 0;
    if (i.mem) g.linear(i, next);
    g.readE(i, s, 'a', 'ah', true);
    g.getReg(i, s, i.reg, 'v', 'vh');
    g.writeE(i, s, 'v', 'vh');
    g.setReg(i, s, i.reg, 'a', 'ah');
  } else if (op === 0x88 || op === 0x89) {
    const s = op & 1 ? size : 0;
    g.getReg(i, s, i.reg, 'v', 'vh');
    if (i.mem) g.linear(i, next);
    g.writeE(i, s, 'v', 'vh');
  } else if (op === 0x8a || op === 0x8b) {
    const s = op & 1 ? size : 0;
    if (i.mem) g.linear(i, next);
    g.readE(i, s, 'v', 'vh');
    g.setReg(i, s, i.reg, 'v', 'vh');
  } else if (op === 0x8d) {
    g.offset(i, next);
    g.setReg(i, size, i.reg, 'E.lo', 'E.hi');
  } else if (op >= 0x90 && op <= 0x97) {
    if (i.reg === 0) return; // NOP (XCHG EAX, EAX would clear RAX's high dword: 90 is not that)
    g.getReg(i, size, i.reg, 'a', 'ah');
    g.getReg(i, size, 0, 'v', 'vh');
    g.setReg(i, size, i.reg, 'v', 'vh');
    g.setReg(i, size, 0, 'a', 'ah');
  } else if (op === 0x98) {
    if (size === 3) g.line('H[0] = r[0] >> 31;');
    else if (size === 2) g.line('r[0] = (r[0] << 16) >> 16; H[0] = 0;');
    else g.line('W[0] = (B[0] << 24) >> 24;');
  } else if (op === 0x99) {
    if (size === 3) g.line('r[2] = H[0] >> 31; H[2] = H[0] >> 31;');
    else if (size === 2) g.line('r[2] = r[0] >> 31; H[2] = 0;');
    else g.line('W[4] = (W[0] << 16) >> 31;');
  } else if (op >= 0xb0 && op <= 0xb7) {
    g.setReg(i, 0, i.reg, lit(i.imm & 0xff), '0');
  } else if (op >= 0xb8 && op <= 0xbf) {
    g.setReg(i, size, i.reg, lit(i.imm), lit(i.immHi));
  } else if (op === 0xc6 || op === 0xc7) {
    const s = op & 1 ? size : 0;
    const [v, vh] = immediate(i, s, false);
    if (i.mem) g.linear(i, next);
    g.writeE(i, s, v, vh);
  } else if (op === 0xc9) {
    g.line('r[4] = r[5]; H[4] = H[5]; v = POP(cpu, 8); vh = P.hi;');
    g.setReg(i, 3, 5, 'v', 'vh');
  }
}

/** Jcc, JMP, CALL, RET (the relative and near indirect forms). */
function emitFlow(g: Emitter, i: Insn64, k: number, next: number): void {
  const op = i.op;
  const target = next + i.imm;
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) {
    // Not taken: the block goes on. Taken: a side exit (a target that is not canonical raises #GP there).
    g.line(`if (C(cpu, ${op & 15})) { ${branchTo(g, target, k, next - i.length)} }`);
  } else if (op === 0xe9 || op === 0xeb) {
    g.line(branchTo(g, target, k, next - i.length));
  } else if (op === 0xe8) {
    if (target >= -TWO_47 && target < TWO_47) g.line(pushReturn(next));
    g.line(branchTo(g, target, k, next - i.length));
  } else if (op === 0xc2 || op === 0xc3) {
    g.line('v = POP(cpu, 8); t = CAN(v, P.hi); if (t !== t) F(13, 0);');
    if (op === 0xc2) g.line(`u = (r[4] >>> 0) + ${i.imm}; r[4] = u | 0; if (u >= ${TWO_32}) H[4] = (H[4] + 1) | 0;`);
    g.line(g.exitTo(k + 1));
  } else { // FF /2, /4: CALL, JMP r/m64
    if (i.mem) g.linear(i, next);
    g.readE(i, 3, 'v', 'vh');
    g.line('t = CAN(v, vh); if (t !== t) F(13, 0);');
    if (i.ext === 2) g.line(pushReturn(next));
    g.line(g.exitTo(k + 1));
  }
}

function emitInstruction(g: Emitter, i: Insn64, k: number, next: number): void {
  const op = i.op;
  if (op < 0x40) emitAlu(g, i, next);
  else if (op === 0x80 || op === 0x81 || op === 0x83) emitGroup1(g, i, next);
  else if (op === 0x84 || op === 0x85 || op === 0xa8 || op === 0xa9) {
    const s = op & 1 ? i.size : 0;
    if (op >= 0xa8) {
      g.getReg(i, s, 0, 'a', 'ah');
      const [v, vh] = immediate(i, s, false);
      g.line(`v = ${v}; vh = ${vh};`);
    } else {
      if (i.mem) g.linear(i, next);
      g.readE(i, s, 'a', 'ah');
      g.getReg(i, s, i.reg, 'v', 'vh');
    }
    g.line(testCode(s));
  } else if (op === 0x69 || op === 0x6b || op === 0x1af) {
    const s = i.size;
    if (i.mem) g.linear(i, next);
    if (op === 0x1af) {
      g.readE(i, s, 'v', 'vh');
      g.getReg(i, s, i.reg, 'a', 'ah');
    } else {
      g.readE(i, s, 'a', 'ah');
      const [v, vh] = immediate(i, s, op === 0x6b);
      g.line(`v = ${v}; vh = ${vh};`);
    }
    g.line(s === 3 ? 'x = IM64(cpu, a, ah, v, vh); xh = X.v;' : `x = IM(cpu, a, v, ${s}); xh = 0;`);
    g.setReg(i, s, i.reg, 'x', 'xh');
  } else if (op === 0xc0 || op === 0xc1 || (op >= 0xd0 && op <= 0xd3)) emitShift(g, i, next);
  else if (op === 0xf6 || op === 0xf7) emitGroup3(g, i, next);
  else if (op === 0xfe || (op === 0xff && i.ext < 2)) {
    const s = op === 0xfe ? 0 : i.size;
    if (i.mem) g.linear(i, next);
    g.readE(i, s, 'a', 'ah', true);
    g.line(s === 3 ? `x = ID64(cpu, a, ah, ${i.ext === 1}); xh = X.v;` : `x = ID(cpu, a, ${i.ext === 1}, ${s}); xh = 0;`);
    g.writeE(i, s, 'x', 'xh');
  } else if (op === 0xff && i.ext === 6) {
    if (i.mem) g.linear(i, next);
    g.readE(i, 3, 'v', 'vh');
    g.line('PUSH(cpu, v, vh, 8);');
  } else if (op >= 0x140 && op <= 0x14f) {
    if (i.mem) g.linear(i, next);
    g.readE(i, i.size, 'v', 'vh');
    g.line(`if (C(cpu, ${op & 15})) {`);
    g.setReg(i, i.size, i.reg, 'v', 'vh');
    // A dword CMOV zero-extends its destination even when the condition is false.
    g.line(i.size === 2 ? `} else H[${i.reg}] = 0;` : '}');
  } else if (op >= 0x190 && op <= 0x19f) {
    if (i.mem) g.linear(i, next);
    g.writeE(i, 0, `C(cpu, ${op & 15}) ? 1 : 0`, '0');
  } else if (op === 0x1b6 || op === 0x1b7 || op === 0x1be || op === 0x1bf) {
    if (i.mem) g.linear(i, next);
    g.readE(i, op & 1, 'v', 'vh');
    if (op >= 0x1be) g.line(op & 1 ? 'v = (v << 16) >> 16;' : 'v = (v << 24) >> 24;');
    g.setReg(i, i.size, i.reg, i.size === 1 ? 'v & 65535' : 'v', 'v >> 31');
  } else if (op === 0x11f) {
    // Hint NOP: the operand is decoded, never accessed.
  } else if (endsBlock(i) || (op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) emitFlow(g, i, k, next);
  else emitMove(g, i, next);
}

/**
 * Generates the block of `insns` at linear RIP `entry` (a canonical number); `lengths` are theirs.
 * The last instruction either ends the block or falls through to the instruction after it.
 */
function generate(insns: readonly Insn64[], entry: number, inline: boolean): string {
  let loops = false;
  for (let k = 0, at = entry; k < insns.length; at += insns[k].length, k++) loops ||= loopsToEntry(insns[k], at, entry);
  const g = new Emitter(entry, insns.length, loops, inline);
  let rip = entry;
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k];
    const next = rip + i.length;
    if (mayFault(i)) {
      if (movesStack(i)) g.line('s = r[4]; sh = H[4];');
      g.line(`q = ${(k << 16) | (movesStack(i) ? 4096 : 0) | (rip - entry)};`);
    }
    emitInstruction(g, i, k, next);
    if (endsBlock(i)) break;
    if (touchesMemory(i)) g.line(`if (cpu.events !== 0) { ${g.exit(next, k + 1)} }`);
    rip = next;
  }
  const last = insns[insns.length - 1];
  if (!endsBlock(last)) g.line(g.exit(rip, insns.length));
  return [
    'const r = cpu.reg32, H = cpu.regHi, B = cpu.reg8, W = cpu.reg16;',
    'let q = 0, s = 0, sh = 0, l = 0, a = 0, ah = 0, v = 0, vh = 0, x = 0, xh = 0, c = 0, t = 0, u = 0, n = 0;',
    ...(inline ? inlinePrologue(g.uses, g.segments) : []),
    'try {',
    ...(loops ? ['for (;;) {', ...g.out, '}'] : g.out),
    '} catch (err) {',
    '  cpu.recordedRetire += n + (q >>> 16);',
    `  const at = ${entry} + (q & 4095);`,
    '  const high = Math.floor(at / 4294967296);',
    '  cpu.startEip = at - high * 4294967296;',
    '  cpu.startRipHi = high | 0;',
    '  cpu.startEsp = (q & 4096) !== 0 ? s : r[4];',
    '  cpu.startRspHi = (q & 4096) !== 0 ? sh : H[4];',
    '  throw err;',
    '}',
  ].join('\n');
}

const PARAMETERS = [
  'EF', 'RR', 'LI', 'E', 'X', 'P', 'RA', 'RW', 'WA', 'RO', 'WO', 'PUSH', 'POP', 'ALU', 'A64', 'T64', 'SH', 'SH64', 'IM', 'IM64',
  'ID', 'ID64', 'MUL', 'IMW', 'DIV', 'IDIV', 'MW64', 'DV64', 'C', 'F', 'CAN', 'SR',
];
const HELPERS = [
  eaFrom, ripRelativeEa, linearIn, ea, hi, popped, readAt, readRmwAt, writeAt, readOperand, writeOperand, push, pop, alu, alu64, test64, shift, shift64,
  imulTruncate, imulTruncate64, incDec, incDec64, mul, imulWide, div, idiv, mulWide64, divide64, condition, throwFault,
  canonical, setRip,
];

/**
 * Compiles the instructions `insns` (at least one) entered at linear RIP `entry`, with plain memory
 * operands inline into the CPU's `memory` (a hot block's second compile; `canInline` holds) or as calls.
 */
export function compileLongBlock(insns: readonly Insn64[], entry: number, memory: InlineMemory | null = null): { fn: LongBlockFunction; sourceLength: number } {
  const source = generate(insns, entry, memory !== null);
  // Only numbers reach the source: every operand above is a field of a decoded instruction.
  const parameters = memory === null ? PARAMETERS : [...PARAMETERS, ...INLINE_PARAMETERS];
  const factory = new Function(...parameters, `return function block64(cpu, left) {\n${source}\n};`) as
    (...helpers: unknown[]) => LongBlockFunction;
  return { fn: factory(...HELPERS, ...(memory === null ? [] : inlineConstants(memory))), sourceLength: source.length };
}
