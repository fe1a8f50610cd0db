// The compiled blocks of 64-bit mode (block-compiler.ts) and how the run loop finds them. A block is
// keyed by the linear RIP it is entered at and the physical address that RIP fetched from when it
// was compiled: on every entry the fetch is translated again (for execution, at the current CPL) and
// must give the same physical address, and that page's code-write generation (the decoded-record
// cache's `pageGen`, bumped by mmu's `onCodeWrite` for a page marked as code) must be the one the
// block was compiled at. So a remapped page, a CR3 switch, a page no longer executable or a write to
// the code (by the CPU, DMA, or the block itself) all fall back to the interpreter, which then
// faults, or runs the new code until it is hot again.
import type { Cpu } from '../cpu.js';
import { decode64, type Insn64 } from './block-decode.js';
import { MAX_BLOCK_INSTRUCTIONS, compileLongBlock, endsBlock, type LongBlockFunction } from './block-compiler.js';
import { canInline } from './inline-memory.js';
import { TWO_32 } from './memory.js';

const TWO_47 = 0x8000_0000_0000;

export interface LongBlock {
  /** The function; replaced in place by the inline compile (one object shape for the run loop). */
  fn: LongBlockFunction;
  /**
   * Runs left before the block is compiled again with its memory operands inline (at 0), and its
   * instructions until then; -1 and null once it is, or when it has none or the CPU cannot.
   */
  runs: number;
  insns: readonly Insn64[] | null;
  /** The entry RIP's dwords, as `cpu.eip | 0` and `cpu.ripHi` hold them. */
  readonly lo: number;
  readonly hi: number;
  /** Physical address of the entry and its page's generation when compiled. */
  readonly phys: number;
  readonly gen: number;
  /** Instructions in the block: it only runs when the run's budget holds them all. */
  readonly count: number;
}

/** log2 of the slots of the block table (direct-mapped by entry RIP: a block pushed out is compiled again). */
const SLOT_BITS = 14;
/** Runs (as a negative count) before an entry that would not compile is tried again. */
const RETRY_RUNS = 4096;

function slotOf(lo: number, high: number): number {
  return Math.imul(lo ^ Math.imul(high, 0x5bd1e995), 0x9e3779b1) >>> (32 - SLOT_BITS);
}

/**
 * The code page the last block entry fetched from: its linear page (dwords), the CPL's user bit and
 * `cpu.fetchEpoch` when translated, and its physical page. Entries on that page skip the translation
 * until a `flushFetch` (CR3, CR0/CR4/EFER, INVLPG, a VMM's flush, a layout change) moves the epoch.
 */
class CodePage {
  lo = 1;
  hi = 0;
  user = 0;
  epoch = 0;
  phys = 0;
}

export class LongBlocks {
  readonly table: (LongBlock | null)[] = new Array<LongBlock | null>(1 << SLOT_BITS).fill(null);
  /** Runs of the entry last counted in each slot (its RIP's low dword in `tags`). */
  private readonly runs = new Int32Array(1 << SLOT_BITS);
  private readonly tags = new Int32Array(1 << SLOT_BITS);
  /** Blocks compiled, those compiled again inline, and runs of a block (statistics; the tests check that compiled code ran). */
  compiled = 0;
  inlined = 0;
  entered = 0;
  /** Instructions retired inside blocks. */
  retired = 0;
  private readonly code = new CodePage();

  /**
   * Runs the block at RIP when there is one (compiling it once the entry is hot: `hotRuns` runs)
   * and the budget `left` holds it; returns the instructions it retired, 0 when the interpreter
   * must run the instruction at RIP.
   */
  enter(cpu: Cpu, left: number, hotRuns: number, inlineRuns: number): number {
    const lo = cpu.eip | 0;
    const high = cpu.ripHi;
    const slot = slotOf(lo, high);
    const block = this.table[slot];
    if (block !== null && block.lo === lo && block.hi === high) {
      if (block.count > left) return 0;
      const phys = this.codePhysical(cpu, lo, high);
      if (phys === block.phys && (cpu.decoded as { pageGen: Int32Array }).pageGen[phys >>> 12] === block.gen) {
        if (block.runs > 0 && --block.runs === 0) this.compileInline(cpu, block);
        this.entered++;
        const n = block.fn(cpu, left);
        this.retired += n;
        return n;
      }
      this.table[slot] = null;
    }
    if (this.tags[slot] !== lo) {
      this.tags[slot] = lo;
      this.runs[slot] = 0;
    }
    if (++this.runs[slot] < hotRuns) return 0;
    this.runs[slot] = 0;
    const compiled = this.compile(cpu, lo, high, inlineRuns);
    if (compiled === null) {
      this.runs[slot] = -RETRY_RUNS;
      return 0;
    }
    this.table[slot] = compiled;
    if (compiled.count > left) return 0;
    this.entered++;
    const n = compiled.fn(cpu, left);
    this.retired += n;
    return n;
  }

  /** `fetchPhysical` through the last entry's code page when RIP is on it and nothing flushed since. */
  private codePhysical(cpu: Cpu, lo: number, high: number): number {
    const code = this.code;
    const page = lo & ~0xfff;
    const user = cpu.userAccess();
    if (page === code.lo && high === code.hi && user === code.user && cpu.fetchEpoch === code.epoch) return code.phys + (lo & 0xfff);
    const epoch = cpu.fetchEpoch;
    const phys = fetchPhysical(cpu, lo, high);
    if (phys >= 0) {
      code.lo = page;
      code.hi = high;
      code.user = user;
      code.epoch = epoch;
      code.phys = phys - (lo & 0xfff);
    }
    return phys;
  }

  /**
   * Compiles `block` again with its memory operands inline, in place (same instructions, entry and
   * page: the caller has just checked the page's generation, so the code is the one decoded).
   */
  private compileInline(cpu: Cpu, block: LongBlock): void {
    const insns = block.insns as readonly Insn64[];
    block.fn = compileLongBlock(insns, block.hi * TWO_32 + (block.lo >>> 0), cpu).fn;
    block.runs = -1;
    block.insns = null;
    this.inlined++;
  }

  /**
   * Compiles the block at RIP hi:lo, or null (not RAM, a fetch that would fault, nothing to
   * compile); one with memory operands compiles again inline after `inlineRuns` runs.
   */
  private compile(cpu: Cpu, lo: number, high: number, inlineRuns: number): LongBlock | null {
    const decoded = cpu.decoded;
    const phys = fetchPhysical(cpu, lo, high);
    if (decoded === null || phys < 0 || phys >= TWO_32) return null;
    const page = phys >>> 12;
    // Marked first: any write to the page from now on moves its generation.
    if (cpu.mem.markCode?.(page) !== true) return null;
    const gen = decoded.pageGen[page];
    const end = (page + 1) * 4096;
    const insns: Insn64[] = [];
    let at = phys;
    while (insns.length < MAX_BLOCK_INSTRUCTIONS) {
      const i = decode64(cpu.ram, at, end);
      if (i === null) break;
      insns.push(i);
      at += i.length;
      if (endsBlock(i)) break;
    }
    if (insns.length === 0) return null;
    const { fn } = compileLongBlock(insns, high * TWO_32 + (lo >>> 0));
    this.compiled++;
    const inline = canInline(cpu) && insns.some((i) => i.mem && i.op !== 0x8d && i.op !== 0x11f);
    return { fn, lo, hi: high, phys, gen, count: insns.length, runs: inline ? Math.max(1, inlineRuns) : -1, insns: inline ? insns : null };
  }

  /** Drops every block (tests; the code-write generations make this unnecessary otherwise). */
  clear(): void {
    this.table.fill(null);
    this.tags.fill(0);
    this.runs.fill(0);
  }
}

/** Physical address an instruction fetch at RIP hi:lo reads, or -1 when it would fault (the interpreter then raises it). */
function fetchPhysical(cpu: Cpu, lo: number, high: number): number {
  const rip = high * TWO_32 + (lo >>> 0);
  if (!(rip >= -TWO_47 && rip < TWO_47)) return -1;
  try {
    return cpu.translateCanonical(rip, 16 | cpu.userAccess());
  } catch {
    return -1;
  }
}
