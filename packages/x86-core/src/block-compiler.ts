import { alu, div, idiv, imulTruncate, imulWide, mul, shift, storeLazy } from './alu.js';
import type { Cpu } from './cpu.js';
import { throwFault } from './fault.js';
import {
  ARITH, CF, LAZY_ADD, LAZY_LOGIC, LAZY_SUB, OF, PARITY, SF, ZF,
} from './flags.js';
import {
  ALU_AI, ALU_EG, CALL, CBW, CMOVCC, CWD, DISP, GENERIC, GRP1, GRP3, GRP5, IMM, IMUL_GE, IMUL_GEI, INC_DEC, INFO, JCC, JMP, LEA, META,
  MOVX, MOV_EG, MOV_EI, MOV_GE, MOV_RI, NOP, POP_R, PUSH_I, PUSH_R, RET, SETCC, SHIFT, TEST_AI, TEST_EG, XCHG_A, XCHG_EG,
  type DecodeCache, rdtsc,
} from './decoded-cache.js';
import { R8, condition } from './operands.js';
import { FAST_READ_MASK, FAST_WRITE_MASK } from './system/descriptor.js';

/**
 * The second tier: a hot run of decoded records becomes one JavaScript function (`new Function`),
 * with the operands, sizes and immediates of every instruction written in as number literals, the
 * lazy flags of an instruction kept in locals until something needs them, and conditional branches
 * reading those locals directly. A forward branch to an instruction of the block breaks out of a
 * labelled block; a branch back to the entry makes the body a loop. Memory goes through the Cpu's own segmented read/write paths (limit
 * checks, paging, TLB, MMIO), so protection is never duplicated here.
 *
 * A compiled block, entered at EIP `e0`, returns how many instructions it retired and leaves EIP at
 * the next one. It is exact with respect to the interpreter: an instruction that may fault first
 * records its position (`q`), the catch sets `recordedRetire`, `startEip` and `startEsp` as
 * `stepDecoded` would have, and the lazy flags are stored before it; after any instruction that
 * touched memory, a non-zero `cpu.events` (MMIO, a write to a code page: possibly this block's own)
 * ends the block there, as the interpreter's loop would end its run of instructions.
 */

/** The most instructions in one block. */
export const MAX_BLOCK_INSTRUCTIONS = 48;

/** Runs the block entered at EIP `e0` with at most `left` instructions of the run's budget left. */
export type BlockFunction = (cpu: Cpu, e0: number, left: number) => number;

export interface CompiledBlock {
  readonly fn: BlockFunction;
  /** The record the block starts at (its identity in the decode cache). */
  readonly at: number;
  /** Physical address of the entry, whether it is 32-bit code, and its page's generation then. */
  readonly phys: number;
  readonly code32: boolean;
  readonly gen: number;
  /** Instructions in the block: it only runs when the run's budget has that many left. */
  readonly count: number;
  /** Bytes of code from the entry: it only runs when they all lie in the fetch window. */
  readonly bytes: number;
  /** Length of the generated source. */
  readonly sourceLength: number;
  /**
   * Counts down the block's runs from the run loop until it is compiled again with its memory
   * accesses inline (at 0; block-cache.ts's INLINE_RUNS); negative when it already is or has none.
   */
  runs: number;
}

const MASKS = [0xff, 0xffff, -1];
const SIGNS = [0x80, 0x8000, -0x80000000];

/** What produced the arithmetic flags, when the block knows: the operands live in locals. */
interface Producer {
  /**
   * 'add' 'sub' 'logic' (ALU ops, lazy like `alu`), 'test' (TEST and the shifts: `setLogicFlags`, with
   * CF and OF in the expression `cfof`), 'inc' 'dec'.
   */
  kind: 'add' | 'sub' | 'logic' | 'test' | 'inc' | 'dec';
  cfof: string;
  size: number;
  a: string;
  b: string;
  r: string;
  /** True once the lazy-flag fields of the Cpu hold this producer. */
  stored: boolean;
}

/** Decoded fields of one record. */
interface Insn {
  kind: number;
  size: number;
  op: number;
  dir: number;
  reg: number;
  rm: number;
  base: number;
  index: number;
  scale: number;
  seg: number;
  disp: number;
  imm: number;
  length: number;
  op32: boolean;
  a32: boolean;
}

function fields(c: DecodeCache, rec: number): Insn {
  const d = c.data;
  const info = d[rec + INFO];
  const meta = d[rec + META];
  return {
    kind: info & 31,
    size: (info >>> 5) & 3,
    op: (info >>> 7) & 15,
    dir: (info >>> 11) & 1,
    reg: (info >>> 12) & 7,
    rm: ((info >>> 15) & 15) - 1,
    base: ((info >>> 19) & 15) - 1,
    index: ((info >>> 23) & 15) - 1,
    scale: (info >>> 27) & 3,
    seg: info >>> 29,
    disp: d[rec + DISP],
    imm: d[rec + IMM],
    length: meta & 15,
    op32: (meta & 16) !== 0,
    a32: (meta & 32) !== 0,
  };
}

/** Instructions that access memory: a ModRM memory operand (`rm < 0`; LEA computes the address only) or the stack. */
function touchesMemory(i: Insn): boolean {
  switch (i.kind) {
    case ALU_EG: case GRP1: case MOV_EG: case MOV_GE: case MOV_EI: case TEST_EG:
    case MOVX: case SHIFT: case IMUL_GEI: case GRP3: case SETCC: case CMOVCC:
    case XCHG_EG: case IMUL_GE:
      return i.rm < 0;
    case GRP5: // CALL and PUSH r/m write the stack whatever their operand
      return i.rm < 0 || i.op === 2 || i.op === 6;
    case PUSH_R: case POP_R: case CALL: case RET: case PUSH_I:
      return true;
    case NOP:
      return i.op === 1; // LEAVE
    default:
      return false;
  }
}

/** Kinds the compiler emits; the block ends before any other. */
function compilable(i: Insn): boolean {
  return i.kind !== GENERIC;
}

/** Instructions after which the block ends (unconditional transfers). */
function endsBlock(i: Insn): boolean {
  return i.kind === JMP || i.kind === CALL || i.kind === RET || (i.kind === GRP5 && (i.op === 2 || i.op === 4));
}

/**
 * A JMP or Jcc at entry-relative `offset` back to the entry, which a block runs as a loop; not one
 * with a 16-bit operand size in 32-bit code, which truncates EIP.
 */
function backToEntry(i: Insn, offset: number, code32: boolean): boolean {
  return (i.kind === JCC || i.kind === JMP) && offset + i.length + i.imm === 0 && (i.op32 || !code32);
}

/** Instructions whose ESP may have changed when a later part of them faults. */
function movesStack(i: Insn): boolean {
  return i.kind === PUSH_R || i.kind === POP_R || i.kind === PUSH_I || i.kind === CALL || i.kind === RET ||
    (i.kind === GRP5 && (i.op === 2 || i.op === 6)) || (i.kind === NOP && i.op === 1);
}

/** Instructions whose only faults are those of their ModRM memory operand's reads and writes. */
function faultsInAccessesOnly(i: Insn): boolean {
  return touchesMemory(i) && !movesStack(i) && !endsBlock(i) && !(i.kind === GRP3 && i.op >= 6);
}

/** Instructions that may throw as a whole (a taken Jcc checks its target inside its own exit). */
function mayFault(i: Insn): boolean {
  return touchesMemory(i) || endsBlock(i) || (i.kind === GRP3 && i.op >= 6) || (i.kind === NOP && i.op === 2);
}

function lit(n: number): string {
  return n < 0 ? `(${n})` : String(n);
}

class Emitter {
  readonly out: string[] = [];
  pend: Producer | null = null;
  private tmp = 0;

  name(prefix: string): string {
    return `${prefix}${this.tmp++}`;
  }

  line(s: string): void {
    this.out.push(s);
  }

  reg(size: number, n: number): string {
    return size === 2 ? `r[${n}]` : size === 1 ? `h[${n << 1}]` : `b[${R8[n]}]`;
  }

  setReg(size: number, n: number, v: string): void {
    this.line(`${this.reg(size, n)} = ${v};`);
  }

  ea(i: Insn): string {
    if (i.a32) {
      let s = lit(i.disp);
      if (i.base >= 0) s += ` + r[${i.base}]`;
      if (i.index >= 0) s += i.scale ? ` + (r[${i.index}] << ${i.scale})` : ` + r[${i.index}]`;
      return `((${s}) | 0)`;
    }
    let s = lit(i.disp);
    if (i.base >= 0) s += ` + h[${i.base << 1}]`;
    if (i.index >= 0) s += ` + h[${i.index << 1}]`;
    return `((${s}) & 65535)`;
  }

  /** The local holding the current instruction's memory offset. */
  offset = '';

  /** The r/m operand of `i` (a register, or memory at `offset`) as an expression. */
  readE(i: Insn, size: number): string {
    return i.rm >= 0 ? this.reg(size, i.rm) : this.read(size, i.seg, this.offset);
  }

  writeE(i: Insn, size: number, v: string): void {
    if (i.rm >= 0) this.setReg(size, i.rm, v);
    else this.write(size, i.seg, this.offset, v);
  }

  /** True for 32-bit code. */
  code32 = false;
  /** True when the block is compiled for paging on: its inline accesses read the TLB. */
  paging = false;
  /** True when memory accesses are inline; else they are all calls into the Cpu. */
  inline = false;
  /** Memory operands read or written (inline, or not yet). */
  accesses = 0;
  /**
   * True while an instruction that faults only in its memory accesses is emitted inline: the pending
   * flags are stored just before each call (which may fault), not before the instruction.
   */
  flushInCalls = false;

  /** The pending flags' store as an expression followed by a comma, when they must go before a call. */
  private beforeCall(): string {
    const code = this.flushInCalls ? this.flushCode() : '';
    return code === '' ? '' : `${code.slice(0, -1)}, `;
  }
  /** Segments and (segment, size) limits the inline accesses use, declared at the block's entry. */
  readonly segments = new Set<number>();
  readonly limits = new Set<string>();

  /**
   * The physical address of an access of `size` (0-2) through segment `s` at offset `o` into local
   * `p`, or -1 there when the access must take the Cpu's calls: outside the segment's fast limit
   * (the offsets `Cpu.linear` and `linearWrite` pass without their slow checks), a TLB miss, or a block entered in another paging mode (every limit is -1
   * then). `l` holds the linear address.
   */
  private translate(size: number, s: number, o: string, write: boolean): string {
    this.segments.add(s);
    // X: the read limit; Y: the write limit (-1 too for a segment that is not writable data).
    const limit = `${write ? 'Y' : 'X'}${s}_${size}`;
    this.limits.add(limit);
    const physical = this.paging ? `((t = TB[l >>> 12]) & ${write ? 'WH' : 'RH'}) === 1 ? ((t & -4096) ^ l) >>> 0 : -1` : '(l & AM) >>> 0';
    return `l = (B${s} + ${o}) | 0, p = (${o} >>> 0) > ${limit} ? -1 : ${physical}`;
  }

  /**
   * A memory read as an expression: inline from RAM when it can, else through `cpu.read*`. Only an
   * aligned dword is read inline (it cannot cross a page; the rare unaligned one takes the call).
   */
  read(size: number, s: number, o: string): string {
    this.accesses++;
    if (!this.inline) return `cpu.read${size === 2 ? 32 : size === 1 ? 16 : 8}(${s}, ${o})`;
    const call = `(${this.beforeCall()}cpu.read${size === 2 ? 32 : size === 1 ? 16 : 8}(${s}, ${o}))`;
    const at = this.translate(size, s, o, false);
    if (size === 0) return `(${at}, p >= 0 && K[p >>> 12] <= 1 ? R[p] : ${call})`;
    // -1 (no fast path) fails the alignment and page-crossing tests below.
    if (size === 1) return `(${at}, (p & 4095) !== 4095 && K[p >>> 12] <= 1 ? R[p] | (R[p + 1] << 8) : ${call})`;
    return `(${at}, (p & 3) === 0 && K[p >>> 12] <= 1 ? W[p >>> 2] : ${call})`;
  }

  /** A memory write: inline to RAM when it can (not a code page: those writes must be seen), else `cpu.write*`. */
  write(size: number, s: number, o: string, v: string): void {
    const call = `cpu.write${size === 2 ? 32 : size === 1 ? 16 : 8}(${s}, ${o}, ${v});`;
    this.accesses++;
    if (!this.inline) {
      this.line(call);
      return;
    }
    const flush = this.flushInCalls ? this.flushCode() : '';
    const at = this.translate(size, s, o, true);
    let store: string;
    if (size === 0) store = `if (p >= 0 && K[p >>> 12] === 0) R[p] = ${v};`;
    else if (size === 1) store = `if ((p & 4095) !== 4095 && K[p >>> 12] === 0) { R[p] = ${v}; R[p + 1] = (${v}) >> 8; }`;
    else store = `if ((p & 3) === 0 && K[p >>> 12] === 0) W[p >>> 2] = ${v};`;
    this.line(`${at}; ${store} else { ${flush} ${call} }`);
  }

  /**
   * The destination of a read-modify-write: memory is read with write intent (`Cpu.readRmw*`), so
   * any fault comes before the instruction changes a register or a flag, and `writeRmwE` cannot fault.
   */
  readRmwE(i: Insn, size: number): string {
    if (i.rm >= 0) return this.reg(size, i.rm);
    const bits = size === 2 ? 32 : size === 1 ? 16 : 8;
    this.accesses++;
    if (!this.inline) return `(${this.beforeCall()}cpu.readRmw${bits}(${i.seg}, ${this.offset}))`;
    // Inline, the operand is translated as a store is (write limit, write TLB hit), and local `m`
    // keeps its RAM address for `writeRmwE`, or -1 when the Cpu's calls hold the operand.
    const call = `(${this.beforeCall()}cpu.readRmw${bits}(${i.seg}, ${this.offset}))`;
    const at = this.translate(size, i.seg, this.offset, true);
    if (size === 0) return `(${at}, (m = p >= 0 && K[p >>> 12] === 0 ? p : -1) >= 0 ? R[m] : ${call})`;
    if (size === 1) return `(${at}, (m = (p & 4095) !== 4095 && K[p >>> 12] === 0 ? p : -1) >= 0 ? R[m] | (R[m + 1] << 8) : ${call})`;
    return `(${at}, (m = (p & 3) === 0 && K[p >>> 12] === 0 ? p : -1) >= 0 ? W[m >>> 2] : ${call})`;
  }

  writeRmwE(i: Insn, size: number, v: string): void {
    if (i.rm >= 0) {
      this.setReg(size, i.rm, v);
      return;
    }
    const call = `cpu.writeRmw${size === 2 ? 32 : size === 1 ? 16 : 8}(${v});`;
    if (!this.inline) this.line(call);
    else if (size === 0) this.line(`if (m >= 0) R[m] = ${v}; else ${call}`);
    else if (size === 1) this.line(`if (m >= 0) { R[m] = ${v}; R[m + 1] = (${v}) >> 8; } else ${call}`);
    else this.line(`if (m >= 0) W[m >>> 2] = ${v}; else ${call}`);
  }

  /** Stores the pending producer into the Cpu's lazy-flag fields (through `storeLazy`/`setLogicFlags`). */
  flushCode(): string {
    const p = this.pend;
    if (p === null || p.stored) return '';
    switch (p.kind) {
      case 'test':
        return `cpu.setLogicFlags(${p.r}, ${p.size}, ${p.cfof});`;
      case 'inc':
      case 'dec':
        return `L(cpu, ${p.kind === 'inc' ? LAZY_ADD : LAZY_SUB}, ${p.a}, 1, ${p.r}, ${p.size}, ${ARITH & ~CF});`;
      default: {
        const op = p.kind === 'add' ? LAZY_ADD : p.kind === 'sub' ? LAZY_SUB : LAZY_LOGIC;
        return `L(cpu, ${op}, ${p.a}, ${p.b}, ${p.r}, ${p.size}, ${ARITH});`;
      }
    }
  }

  flush(): void {
    const code = this.flushCode();
    if (code !== '') this.line(code);
    if (this.pend !== null) this.pend.stored = true;
  }

  /** The Cpu's flags are about to be read or replaced by a helper: store, then forget the producer. */
  settle(): void {
    this.flush();
    this.pend = null;
  }

  /** CF of the pending producer, as an expression giving 0 or 1. */
  carry(): string {
    const p = this.pend;
    if (p === null) return '(cpu.getCF())';
    const m = MASKS[p.size];
    switch (p.kind) {
      case 'add': return p.size === 2 ? `((${p.r} >>> 0) < (${p.a} >>> 0) ? 1 : 0)` : `((${p.r} & ${m}) < (${p.a} & ${m}) ? 1 : 0)`;
      case 'sub': return p.size === 2 ? `((${p.a} >>> 0) < (${p.b} >>> 0) ? 1 : 0)` : `((${p.a} & ${m}) < (${p.b} & ${m}) ? 1 : 0)`;
      case 'inc': case 'dec': return '(cpu.flags & 1)';
      case 'test': return `(${p.cfof} & 1)`;
      default: return '0';
    }
  }

  /** Condition code `cc` (O NO B AE E NE BE A S NS P NP L GE LE G) as a boolean expression. */
  condition(cc: number): string {
    const p = this.pend;
    if (p === null) return `cond(cpu, ${cc})`;
    const neg = (cc & 1) !== 0;
    const m = MASKS[p.size];
    const sign = SIGNS[p.size];
    const shiftBits = p.size === 0 ? 24 : 16;
    const signed = (v: string): string => (p.size === 2 ? v : `((${v} << ${shiftBits}) >> ${shiftBits})`);
    const unsigned = (v: string): string => (p.size === 2 ? `(${v} >>> 0)` : `(${v} & ${m})`);
    const zf = `(${p.r} === 0)`;
    const sf = `((${p.r} & ${lit(sign)}) !== 0)`;
    let of: string;
    if (p.kind === 'add' || p.kind === 'inc') of = `(((${p.a} ^ ${p.r}) & (${p.b} ^ ${p.r}) & ${lit(sign)}) !== 0)`;
    else if (p.kind === 'sub' || p.kind === 'dec') of = `(((${p.a} ^ ${p.b}) & (${p.a} ^ ${p.r}) & ${lit(sign)}) !== 0)`;
    else if (p.kind === 'test') of = `((${p.cfof} & ${OF}) !== 0)`;
    else of = 'false';
    const cf = `(${this.carry()} !== 0)`;
    let e: string;
    switch (cc >> 1) {
      case 0: e = of; break;
      case 1: e = p.kind === 'sub' ? `(${unsigned(p.a)} < ${unsigned(p.b)})` : cf; break;
      case 2: e = zf; break;
      case 3: e = p.kind === 'sub' ? `(${unsigned(p.a)} <= ${unsigned(p.b)})` : `(${cf} || ${zf})`; break;
      case 4: e = sf; break;
      case 5: e = `(P[${p.r} & 255] !== 0)`; break;
      case 6: e = p.kind === 'sub' ? `(${signed(p.a)} < ${signed(p.b)})` : `(${sf} !== ${of})`; break;
      default: e = p.kind === 'sub' ? `(${signed(p.a)} <= ${signed(p.b)})` : `(${zf} || ${sf} !== ${of})`; break;
    }
    return neg ? `!${e}` : e;
  }

  /** True when a branch goes back to the entry: the body is then a loop, `n` counting its laps. */
  loops = false;
  /** Instructions in the block. */
  count = 0;

  /** True when a forward branch lands inside the block: `d` counts the instructions it skipped. */
  skips = false;
  /** For the Jcc being emitted: the index of its target inside the block, or -1 (a side exit). */
  innerTarget = -1;

  /** Instructions retired when instruction `k` is the last (laps and skipped instructions counted). */
  retired(k: number): string {
    return `${this.loops ? 'n + ' : ''}${k + 1}${this.skips ? ' - d' : ''}`;
  }

  /** Leaves the block after instruction `k` retired, with EIP at `eip` (an expression). */
  exit(k: number, eip: string): string {
    return `${this.flushCode()} cpu.eip = ${eip}; return ${this.retired(k)};`;
  }

  /**
   * A branch to the entry taken after instruction `k`: another lap when the budget holds a whole
   * one (events are clear here: anything that sets them left the block already), else leave at the
   * entry. The flags are stored, since a lap begins with the Cpu's fields current.
   */
  backEdge(k: number): string {
    const skipped = this.skips ? ' - d; d = 0' : '';
    return `${this.flushCode()} n += ${k + 1}${skipped}; if (n + ${this.count} <= left) continue; cpu.eip = e0; return n;`;
  }
}

/**
 * Generates the source of the block whose instructions are `insns` (entry-relative byte offsets in
 * `offsets`). The last instruction may end the block (a jump) or not (the block then falls through).
 */
function generate(insns: readonly Insn[], offsets: readonly number[], code32: boolean, paging: boolean, inline: boolean): Generated {
  const g = new Emitter();
  g.code32 = code32;
  g.paging = paging;
  g.inline = inline;
  const count = insns.length;
  g.count = count;
  g.loops = insns.some((i, k) => backToEntry(i, offsets[k], code32));
  const inner = innerBranches(insns, offsets);
  g.skips = inner.some((t) => t >= 0);
  // Open labelled blocks, innermost last: a forward branch inside the block is a `break` to the end
  // of the one that closes just before its target.
  const open: number[] = [];
  for (let k = 0; k < count; k++) {
    const i = insns[k];
    const next = offsets[k] + i.length;
    while (open.length > 0 && inner[open[open.length - 1]] === k) {
      // Both paths meet here with the Cpu's flag fields current.
      g.flush();
      g.line('}');
      g.pend = null;
      open.pop();
    }
    g.innerTarget = inner[k];
    if (inner[k] >= 0) {
      g.line(`L${k}: {`);
      open.push(k);
    }
    // An instruction that faults only in its memory accesses stores the flags in their calls' path
    // when the accesses are inline (the inline path cannot fault).
    g.flushInCalls = g.inline && faultsInAccessesOnly(i);
    if (mayFault(i)) {
      if (!g.flushInCalls) g.flush();
      if (movesStack(i)) g.line(`s = r[4];`);
      g.line(`q = ${(k << 13) | (movesStack(i) ? 4096 : 0) | offsets[k]};`);
    }
    emitInstruction(g, i, k, offsets[k]);
    g.flushInCalls = false;
    if (endsBlock(i)) return { source: wrap(g), accesses: g.accesses };
    if (touchesMemory(i)) g.line(`if (cpu.events !== 0) { ${g.exit(k, `e0 + ${next}`)} }`);
  }
  const last = count - 1;
  g.line(g.exit(last, `e0 + ${offsets[last] + insns[last].length}`));
  return { source: wrap(g), accesses: g.accesses };
}

interface Generated {
  source: string;
  /** Memory operands the source reads or writes (inline or through the Cpu's calls). */
  accesses: number;
}

/**
 * For each instruction, the index of its target when it is a Jcc jumping forward to an instruction
 * of the block and the labelled blocks stay nested (its target no later than that of any branch it
 * lies inside); else -1.
 */
function innerBranches(insns: readonly Insn[], offsets: readonly number[]): number[] {
  const inner = new Array<number>(insns.length).fill(-1);
  const open: number[] = [];
  for (let k = 0; k < insns.length; k++) {
    while (open.length > 0 && open[open.length - 1] <= k) open.pop();
    const i = insns[k];
    if (i.kind !== JCC) continue;
    const target = offsets[k] + i.length + i.imm;
    if (target <= offsets[k]) continue;
    const t = offsets.indexOf(target);
    if (t <= k || (open.length > 0 && t > open[open.length - 1])) continue;
    inner[k] = t;
    open.push(t);
  }
  return inner;
}

function wrap(g: Emitter): string {
  // Inline memory: the segments' bases and fast limits, constant while the block runs (no compiled
  // instruction loads a segment or changes the paging mode), all -1 when the translation it was
  // compiled for is not the current one.
  const memory: string[] = [];
  if (g.limits.size > 0) {
    memory.push(`const F = cpu.inlineTranslation === ${g.paging ? 2 : 1}, R = cpu.ram, W = cpu.ram32, K = cpu.kind;`);
    memory.push(g.paging ? 'const TB = cpu.tlb, u = cpu.userAccess(), RH = cpu.tlbHitMask[u], WH = cpu.tlbHitMask[2 | u];' : 'const AM = cpu.addressMask;');
    for (const s of g.segments) memory.push(`const B${s} = cpu.segBase[${s}], A${s} = cpu.segAccess[${s}], M${s} = cpu.segLimit[${s}] >>> 0;`);
    for (const k of g.limits) {
      const [seg, size] = k.slice(1).split('_').map(Number);
      // The highest offset an access of this size passes `Cpu.linear`'s (`linearWrite`'s) fast check
      // at, or -1. Computed here, not by a call: a call's uint32 result would be boxed at every entry.
      const test = k[0] === 'Y' ? `(A${seg} & ${FAST_WRITE_MASK}) === 2` : `(A${seg} & ${FAST_READ_MASK}) === 0`;
      memory.push(`const ${k} = F && ${test} ? M${seg} - ${(1 << size) - 1} : -1;`);
    }
    memory.push('let l = 0, p = 0, t = 0, m = -1;');
  }
  return [
    'const r = cpu.reg32, h = cpu.reg16, b = cpu.reg8;',
    ...memory,
    'let q = 0, s = 0, n = 0, d = 0;',
    'try {',
    ...(g.loops ? ['for (;;) {', ...g.out, '}'] : g.out),
    '} catch (err) {',
    '  cpu.recordedRetire += n + (q >>> 13) - d;',
    '  cpu.startEip = e0 + (q & 4095);',
    '  cpu.startEsp = (q & 4096) !== 0 ? s : r[4];',
    '  throw err;',
    '}',
  ].join('\n');
}

/** A near-jump target check and EIP update, as `jumpTo` does it. */
function jump(g: Emitter, i: Insn, target: string, k: number): string {
  const t = g.name('t');
  const masked = i.op32 ? `(${target}) >>> 0` : `(${target}) & 65535`;
  return `const ${t} = ${masked}; if (${t} > (cpu.segLimit[1] >>> 0)) fault(13, 0); ${g.exit(k, t)}`;
}

/** A near call, as `callTo` does it: the target's limit check, then the push of the return address `ret`. */
function call(g: Emitter, i: Insn, target: string, ret: string, k: number): string {
  const t = g.name('t');
  const masked = i.op32 ? `(${target}) >>> 0` : `(${target}) & 65535`;
  return `const ${t} = ${masked}; if (${t} > (cpu.segLimit[1] >>> 0)) fault(13, 0); ${pushCode(i, ret)} ${g.exit(k, t)}`;
}

// Where a result goes (emitAlu, emitIncDec): the r/m operand, the ModRM reg, or eAX.
const TO_E = 1;
const TO_G = 2;
const TO_ACC = 3;

/** Stores `v` to destination `to` of the current instruction (an r/m destination was read by `readRmwE`). */
function store(g: Emitter, i: Insn, to: number, size: number, v: string): void {
  if (to === TO_E) g.writeRmwE(i, size, v);
  else if (to === TO_G) g.setReg(size, i.reg, v);
  else if (to === TO_ACC) g.setReg(size, 0, v);
}

function emitAlu(g: Emitter, i: Insn, op: number, size: number, a: string, b: string, to: number): void {
  const av = g.name('a');
  const bv = g.name('v');
  const x = g.name('x');
  g.line(`const ${av} = ${a}; const ${bv} = ${b};`);
  if (op === 2 || op === 3) {
    g.settle();
    g.line(`const ${x} = alu(cpu, ${op}, ${av}, ${bv}, ${size});`);
    store(g, i, to, size, x);
    return;
  }
  const sym = op === 0 ? '+' : op === 1 ? '|' : op === 4 ? '&' : op === 6 ? '^' : '-';
  g.line(`const ${x} = (${av} ${sym} ${bv}) ${size === 2 ? '| 0' : `& ${MASKS[size]}`};`);
  const kind = op === 0 ? 'add' : op === 5 || op === 7 ? 'sub' : 'logic';
  g.pend = { kind, size, a: av, b: bv, r: x, cfof: '0', stored: false };
  if (op === 7) return;
  store(g, i, to, size, x);
}

function emitIncDec(g: Emitter, i: Insn, dec: boolean, size: number, a: string, to: number): void {
  const p = g.pend;
  if (p === null) g.line('if ((cpu.lazyMask & 1) !== 0) cpu.flags = (cpu.flags & -2) | cpu.getCF();');
  else if (p.kind !== 'inc' && p.kind !== 'dec') g.line(`cpu.flags = (cpu.flags & -2) | ${g.carry()};`);
  const av = g.name('a');
  const x = g.name('x');
  g.line(`const ${av} = ${a}; const ${x} = (${av} ${dec ? '-' : '+'} 1) & ${MASKS[size]};`);
  g.pend = { kind: dec ? 'dec' : 'inc', size, a: av, b: '1', r: x, cfof: '0', stored: false };
  store(g, i, to, size, x);
}

function emitTest(g: Emitter, size: number, a: string, b: string): void {
  const x = g.name('x');
  g.line(`const ${x} = ${a} & ${b};`);
  g.pend = { kind: 'test', size, a: '0', b: '0', r: x, cfof: '0', stored: false };
}

/** ALU, INC/DEC, TEST. */
function emitArithmetic(g: Emitter, i: Insn): void {
  const size = i.size;
  switch (i.kind) {
    case ALU_EG:
      if (i.dir === 0) emitAlu(g, i, i.op, size, i.op === 7 ? g.readE(i, size) : g.readRmwE(i, size), g.reg(size, i.reg), TO_E);
      else emitAlu(g, i, i.op, size, g.reg(size, i.reg), g.readE(i, size), TO_G);
      return;
    case ALU_AI:
      emitAlu(g, i, i.op, size, g.reg(size, 0), lit(i.imm), TO_ACC);
      return;
    case GRP1:
      emitAlu(g, i, i.op, size, i.op === 7 ? g.readE(i, size) : g.readRmwE(i, size), lit(i.imm), TO_E);
      return;
    case INC_DEC:
      emitIncDec(g, i, i.op === 1, size, g.reg(size, i.reg), TO_G);
      return;
    case TEST_EG:
      emitTest(g, size, g.readE(i, size), g.reg(size, i.reg));
      return;
    default: // TEST_AI
      emitTest(g, size, g.reg(size, 0), lit(i.imm));
  }
}

/** MOV forms, LEA, MOVZX/MOVSX, XCHG, CBW/CWDE, CWD/CDQ, NOP. */
function emitMove(g: Emitter, i: Insn, k: number): void {
  const size = i.size;
  switch (i.kind) {
    case MOV_EG:
      g.writeE(i, size, g.reg(size, i.reg));
      return;
    case MOV_GE:
      g.setReg(size, i.reg, g.readE(i, size));
      return;
    case MOV_RI:
      g.setReg(size, i.reg, lit(i.imm));
      return;
    case MOV_EI:
      g.writeE(i, size, lit(i.imm));
      return;
    case LEA:
      g.setReg(size, i.reg, g.ea(i));
      return;
    case MOVX: {
      const v = g.name('v');
      g.line(`let ${v} = ${g.readE(i, i.op)};`);
      if (i.dir) g.line(`${v} = ${i.op ? `(${v} << 16) >> 16` : `(${v} << 24) >> 24`};`);
      g.setReg(size, i.reg, size === 2 ? v : `${v} & 65535`);
      return;
    }
    case XCHG_EG: {
      const bv = g.name('v');
      g.line(`const ${bv} = ${g.reg(size, i.reg)};`);
      if (i.rm >= 0) {
        g.setReg(size, i.reg, g.reg(size, i.rm));
        g.setReg(size, i.rm, bv);
        return;
      }
      const a = g.name('a');
      g.line(`const ${a} = ${g.readRmwE(i, size)};`);
      g.writeRmwE(i, size, bv);
      g.setReg(size, i.reg, a);
      return;
    }
    case XCHG_A: {
      const v = g.name('v');
      g.line(`const ${v} = ${g.reg(size, i.reg)};`);
      g.setReg(size, i.reg, g.reg(size, 0));
      g.setReg(size, 0, v);
      return;
    }
    case CBW:
      g.line(size === 2 ? 'r[0] = (r[0] << 16) >> 16;' : 'h[0] = (b[0] << 24) >> 24;');
      return;
    case CWD:
      g.line(size === 2 ? 'r[2] = r[0] >> 31;' : 'h[4] = (h[0] << 16) >> 31;');
      return;
    default: // NOP; LEAVE (op 1): ESP (SP with a 16-bit stack) from EBP, then pop EBP; RDTSC (op 2).
      if (i.op === 1) {
        g.line('if ((cpu.segAccess[2] & 16384) !== 0) r[4] = r[5]; else h[8] = h[10];');
        g.line(`${i.op32 ? 'r[5]' : 'h[10]'} = ${popCode(i)};`);
      } else if (i.op === 2) g.line(`tsc(cpu, ${g.retired(k)} - 1);`); // RDTSC, counting this block's progress
  }
}

function pushCode(i: Insn, v: string): string {
  return `cpu.push${i.op32 ? 32 : 16}(${v});`;
}

function popCode(i: Insn): string {
  return `cpu.pop${i.op32 ? 32 : 16}()`;
}

/** PUSH, POP, Jcc, JMP, CALL, RET. */
function emitFlow(g: Emitter, i: Insn, k: number, offset: number): void {
  const next = offset + i.length;
  switch (i.kind) {
    case PUSH_R:
      g.line(pushCode(i, i.op32 ? `r[${i.reg}]` : `h[${i.reg << 1}]`));
      return;
    case POP_R:
      g.line(`${i.op32 ? `r[${i.reg}]` : `h[${i.reg << 1}]`} = ${popCode(i)};`);
      return;
    case PUSH_I:
      g.line(pushCode(i, lit(i.imm)));
      return;
    case JCC: {
      // Dir 1: JECXZ/JCXZ, taken on the count register (by the address size), not on a flag.
      const taken = i.dir === 0 ? g.condition(i.op) : i.a32 ? 'r[1] === 0' : 'h[2] === 0';
      if (backToEntry(i, offset, g.code32)) {
        g.line(`if (${taken}) { ${g.backEdge(k)} }`);
        return;
      }
      if (g.innerTarget >= 0) {
        g.line(`if (${taken}) { ${g.flushCode()} d += ${g.innerTarget - k - 1}; break L${k}; }`);
        return;
      }
      // Taken: a side exit. The target check, and so the flags stored for a fault, only on this path.
      const t = g.name('t');
      const target = i.op32 ? `(e0 + ${next + i.imm}) >>> 0` : `(e0 + ${next + i.imm}) & 65535`;
      g.line(`if (${taken}) { const ${t} = ${target}; ` +
        `if (${t} > (cpu.segLimit[1] >>> 0)) { ${g.flushCode()} q = ${(k << 13) | offset}; fault(13, 0); } ${g.exit(k, t)} }`);
      return;
    }
    case JMP:
      g.line(backToEntry(i, offset, g.code32) ? g.backEdge(k) : jump(g, i, `e0 + ${next + i.imm}`, k));
      return;
    case CALL:
      g.line(call(g, i, `e0 + ${next + i.imm}`, `e0 + ${next}`, k));
      return;
    default: { // RET
      const t = g.name('t');
      g.line(`const ${t} = ${popCode(i)};`);
      const u = g.name('u');
      const extra = i.imm === 0 ? '' :
        `if ((cpu.segAccess[2] & 16384) !== 0) r[4] = (r[4] + ${i.imm}) | 0; else h[8] = h[8] + ${i.imm};`;
      g.line(`const ${u} = ${i.op32 ? `${t} >>> 0` : `${t} & 65535`}; if (${u} > (cpu.segLimit[1] >>> 0)) fault(13, 0); ` +
        `${extra} ${g.exit(k, u)}`);
    }
  }
}

/** Shifts, IMUL, group 3 (TEST NOT NEG MUL IMUL DIV IDIV), group 5, SETcc, CMOVcc. */
function emitGroup(g: Emitter, i: Insn, k: number, offset: number): void {
  const size = i.size;
  switch (i.kind) {
    case SHIFT: {
      if (i.op >= 4) {
        emitShift(g, i);
        return;
      }
      g.settle();
      const c = g.name('c');
      const x = g.name('x');
      g.line(`const ${c} = ${i.imm < 0 ? 'b[4]' : String(i.imm)}; const ${x} = shift(cpu, ${i.op}, ${g.readRmwE(i, size)}, ${c}, ${size});`);
      g.line(`if ((${c} & 31) !== 0) {`);
      g.writeRmwE(i, size, x);
      g.line('}');
      return;
    }
    case IMUL_GEI:
    case IMUL_GE: {
      if (size === 2) {
        emitImul32(g, i);
        return;
      }
      g.settle();
      const a = g.name('a');
      g.line(`const ${a} = ${g.readE(i, size)};`);
      const product = i.kind === IMUL_GEI ? `imul(cpu, ${a}, ${lit(i.imm)}, ${size})` : `imul(cpu, ${g.reg(size, i.reg)}, ${a}, ${size})`;
      g.setReg(size, i.reg, product);
      return;
    }
    case GRP3:
      emitGroup3(g, i);
      return;
    case GRP5: {
      const v = g.name('v');
      g.line(`const ${v} = ${i.op < 2 ? g.readRmwE(i, size) : g.readE(i, size)};`);
      if (i.op < 2) emitIncDec(g, i, i.op === 1, size, v, TO_E);
      else if (i.op === 2) g.line(call(g, i, v, `e0 + ${offset + i.length}`, k));
      else if (i.op === 4) g.line(jump(g, i, v, k));
      else g.line(pushCode(i, v));
      return;
    }
    case SETCC:
      g.writeE(i, 0, `${g.condition(i.op)} ? 1 : 0`);
      return;
    default: { // CMOVCC: the source is read (and may fault) whatever the condition.
      const v = g.name('v');
      g.line(`const ${v} = ${g.readE(i, size)};`);
      g.line(`if (${g.condition(i.op)}) ${g.reg(size, i.reg)} = ${v};`);
    }
  }
}

/**
 * IMUL r32, r/m32(, imm) inline, as `imulTruncate` computes it: every arithmetic flag is replaced
 * (CF=OF when the product does not fit, SF/ZF/PF from the low half), so the pending producer is
 * dropped unstored — `lazyMask` 0 leaves the lazy fields unread.
 */
function emitImul32(g: Emitter, i: Insn): void {
  const a = g.name('a');
  const v = g.name('v');
  const x = g.name('x');
  const p = g.name('p');
  g.line(`const ${a} = ${g.readE(i, 2)}; const ${v} = ${i.kind === IMUL_GEI ? lit(i.imm) : g.reg(2, i.reg)};`);
  g.line(`const ${x} = Math.imul(${a}, ${v}); const ${p} = (${a} | 0) * (${v} | 0);`);
  g.line(`cpu.lazyMask = 0; cpu.flags = (cpu.flags & ${~ARITH}) | (${p} >= -2147483648 && ${p} <= 2147483647 ? 0 : ${CF | OF}) | ` +
    `P[${x} & 255] | (${x} === 0 ? ${ZF} : 0) | (${x} < 0 ? ${SF} : 0);`);
  g.pend = null;
  g.setReg(2, i.reg, x);
}

/**
 * SHL/SAL, SHR, SAR inline, as `shift` computes them: a count of 0 (after masking to 5 bits) changes
 * nothing, flags included; otherwise SF/ZF/PF follow from the result and CF/OF are given.
 */
function emitShift(g: Emitter, i: Insn): void {
  const size = i.size;
  const mask = MASKS[size];
  const sign = lit(SIGNS[size]);
  const bits = 8 << size;
  const a = g.name('a');
  const x = g.name('x');
  const f = g.name('f');
  const constant = i.imm >= 0;
  const count = i.imm & 31;
  // The operand is read with write intent whatever the count, as `shift`'s callers read it.
  if (constant && count === 0) {
    g.line(`${g.readRmwE(i, size)};`);
    return;
  }
  let c = String(count);
  g.line(`const ${a} = ${g.readRmwE(i, size)};`);
  if (!constant) {
    g.settle();
    c = g.name('c');
    g.line(`const ${c} = b[4] & 31; if (${c} !== 0) {`);
  }
  g.line(`let ${x}, ${f};`);
  if (i.op === 5) {
    const u = size === 2 ? `(${a} >>> 0)` : `(${a} & ${mask})`;
    g.line(`${x} = (${u} >>> ${c}) & ${mask}; ${f} = (${u} >>> (${c} - 1)) & 1; if ((${u} & ${sign}) !== 0) ${f} |= ${OF};`);
  } else if (i.op === 7) {
    const sx = size === 0 ? `((${a} << 24) >> 24)` : size === 1 ? `((${a} << 16) >> 16)` : `(${a} | 0)`;
    g.line(`${x} = (${sx} >> ${c}) & ${mask}; ${f} = (${sx} >> (${c} - 1)) & 1;`);
  } else {
    const carry = size === 2 ? `((${a} << (${c} - 1)) < 0 ? 1 : 0)` : `(${c} <= ${bits} && ((${a} << (${c} - 1)) & ${sign}) !== 0 ? 1 : 0)`;
    g.line(`${x} = (${a} << ${c}) & ${mask}; ${f} = ${carry}; if ((((${x} & ${sign}) !== 0 ? 1 : 0) ^ ${f}) !== 0) ${f} |= ${OF};`);
  }
  if (size === 2) g.line(`${x} |= 0;`);
  if (constant) {
    g.pend = { kind: 'test', size, a: '0', b: '0', r: x, cfof: f, stored: false };
    g.writeRmwE(i, size, x);
    return;
  }
  g.line(`cpu.setLogicFlags(${x}, ${size}, ${f});`);
  g.writeRmwE(i, size, x);
  g.line('}');
}

function emitGroup3(g: Emitter, i: Insn): void {
  const size = i.size;
  const a = g.name('a');
  g.line(`const ${a} = ${i.op === 2 || i.op === 3 ? g.readRmwE(i, size) : g.readE(i, size)};`);
  if (i.op < 2) emitTest(g, size, a, lit(i.imm));
  else if (i.op === 2) g.writeRmwE(i, size, size === 2 ? `~${a}` : `~${a} & ${MASKS[size]}`);
  else if (i.op === 3) emitAlu(g, i, 5, size, '0', a, TO_E);
  else {
    g.settle();
    g.line(`${['mul', 'imulWide', 'div', 'idiv'][i.op - 4]}(cpu, ${a}, ${size});`);
  }
}

/**
 * One instruction. The emitters are small functions without closures on purpose: an earlier single
 * switch with per-call arrow functions, once optimised by TurboFan (Node 20.20), crashed the process
 * (SIGSEGV in a string concatenation) under vitest's workers; split like this it does not.
 */
function emitInstruction(g: Emitter, i: Insn, k: number, offset: number): void {
  // The memory operand's offset, computed once (LEA only computes it).
  if (i.rm < 0 && touchesMemory(i) && i.kind !== NOP && i.kind !== PUSH_R && i.kind !== POP_R && i.kind !== PUSH_I &&
    i.kind !== CALL && i.kind !== RET) {
    g.offset = g.name('o');
    g.line(`const ${g.offset} = ${g.ea(i)};`);
  }
  switch (i.kind) {
    case ALU_EG: case ALU_AI: case GRP1: case INC_DEC: case TEST_EG: case TEST_AI:
      emitArithmetic(g, i);
      return;
    case MOV_EG: case MOV_GE: case MOV_RI: case MOV_EI: case LEA: case MOVX: case XCHG_EG:
    case XCHG_A: case CBW: case CWD: case NOP:
      emitMove(g, i, k);
      return;
    case PUSH_R: case POP_R: case PUSH_I: case JCC: case JMP: case CALL: case RET:
      emitFlow(g, i, k, offset);
      return;
    case SHIFT: case IMUL_GEI: case IMUL_GE: case GRP3: case GRP5: case SETCC: case CMOVCC:
      emitGroup(g, i, k, offset);
      return;
    default:
      throw new Error(`block compiler: record kind ${i.kind}`);
  }
}

const FACTORY_PARAMETERS = ['cond', 'fault', 'P', 'alu', 'shift', 'imul', 'mul', 'imulWide', 'div', 'idiv', 'L', 'tsc'];
const HELPERS = [condition, throwFault, PARITY, alu, shift, imulTruncate, mul, imulWide, div, idiv, storeLazy, rdtsc];

/**
 * Compiles the run of records starting at `phys` (records come from `record(phys)`, which decodes
 * on demand and returns -1 where nothing can be decoded). `limit` bounds the bytes the block may
 * span (the end of the page or of the fetch window); `code32` and `gen` (the page's generation) are
 * recorded in the block, and the paging mode its `inline` memory accesses translate for (they take
 * the Cpu's calls when entered in another). Null when fewer than two instructions compile.
 */
export function compileBlock(
  c: DecodeCache,
  at: number,
  phys: number,
  limit: number,
  record: (phys: number, available: number) => number,
  code32: boolean,
  gen: number,
  paging = false,
  inline = false,
): CompiledBlock | null {
  const insns: Insn[] = [];
  const offsets: number[] = [];
  let offset = 0;
  let rec = at;
  for (;;) {
    const i = fields(c, rec);
    if (!compilable(i) || i.length === 0 || offset + i.length > limit) break;
    insns.push(i);
    offsets.push(offset);
    offset += i.length;
    if (endsBlock(i) || insns.length >= MAX_BLOCK_INSTRUCTIONS || offset >= limit) break;
    rec = record(phys + offset, limit - offset);
    if (rec < 0) break;
  }
  if (insns.length < 2) return null;
  const { source, accesses } = generate(insns, offsets, code32, paging, inline);
  // Only numbers from the guest reach the source: every operand above is a field of a record.
  const factory = new Function(...FACTORY_PARAMETERS, `return function block(cpu, e0, left) {\n${source}\n};`) as
    (...helpers: unknown[]) => BlockFunction;
  return { fn: factory(...HELPERS), at, phys, code32, gen, count: insns.length, bytes: offset, sourceLength: source.length,
    runs: inline || accesses === 0 ? -1 : 0,
  };
}
