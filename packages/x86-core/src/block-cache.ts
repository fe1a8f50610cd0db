import type { CompiledBlock } from './block-compiler.js';
import { BLOCK, type DecodeCache } from './decoded-cache.js';

/**
 * The compiled blocks of one CPU, bounded. A block hangs off the decoded record of its first
 * instruction (that record's BLOCK word holds its id), so it shares the record's key — physical
 * address and 16/32-bit code — and dies with it when the page's generation moves (a write to the
 * code) or the record is recycled. The guest controls what gets compiled, so everything is capped:
 * blocks held, source characters held, and pages rewritten often need far more runs before their
 * code is compiled again.
 */

/**
 * Runs of a block entry before it is compiled. Compiling costs about as much as a few hundred
 * interpreted runs, and most kernel code runs only a few hundred times: 256 booted Debian's vmlinux in
 * 21.9 s against 27.3 s at 64 (one run each, quiet machine); hot loops are unaffected.
 */
export const HOT_RUNS = 256;
/**
 * Runs of a block before it is compiled again with its memory accesses inline. Inline accesses are
 * longer source, which V8 compiles, and runs slowly until it optimises the block: most kernel code
 * runs too few times for that to pay (Debian's vmlinux booted slower with every block inline); hot
 * loops gain a third (the bzImage's decompressor).
 */
export const INLINE_RUNS = 2048;
/**
 * The same for a 64-bit block (long/blocks.ts). Its inline accesses are longer source than the
 * 32-bit ones (64-bit addresses, two TLBs), and run slower than the calls they replace until V8
 * optimises the block: at 2048 runs Debian's amd64 kernel recompiled 1,105 blocks in its first 450 M
 * instructions and took a third more CPU time; at 65536, 76 blocks and no change, while the
 * decompressor's hot loops still gain (packages/x86-core/README.md, "The 64-bit tier").
 */
export const INLINE_RUNS_64 = 65536;
/** For pages whose code was rewritten many times (a guest rewriting its code in a loop). */
const HOT_RUNS_REWRITTEN = 4096;
const REWRITES_TOLERATED = 64;
/** Blocks held at once; past that all are dropped and compiled again on demand. */
export const MAX_BLOCKS = 8192;
/** Source characters held at once (V8 keeps source and code for each function). */
const MAX_SOURCE = 16 << 20;
/** BLOCK word of a record whose block would be too short to pay (never counted again). */
export const NEVER = -0x40000000;

/** log2 of the slots of the by-address table. */
const SLOT_BITS = 14;

/** The by-address table's slot for a block entered at `phys` in 16- or 32-bit code. */
export function blockSlot(phys: number, code32: boolean): number {
  return Math.imul(code32 ? phys ^ 0x5bd1e995 : phys, 0x9e3779b1) >>> (32 - SLOT_BITS);
}

export class BlockCache {
  readonly blocks: (CompiledBlock | null)[] = new Array<CompiledBlock | null>(MAX_BLOCKS).fill(null);
  /**
   * Blocks by entry address, direct-mapped (`blockSlot`): the run loop's first look, one load and a
   * compare of the block's own fields, without touching the decoded records. A block pushed out by
   * another in its slot is found again through its record's BLOCK word.
   */
  readonly byAddress: (CompiledBlock | null)[] = new Array<CompiledBlock | null>(1 << SLOT_BITS).fill(null);
  private next = 1;
  private sourceHeld = 0;
  /** Blocks compiled since the CPU was made (statistics). */
  compiled = 0;
  /** Times every block was dropped because a cap was reached. */
  flushes = 0;
  /** Runs of an entry before it compiles (tests lower it to compile everything at once). */
  hotRuns = HOT_RUNS;
  /** Runs of a block before its memory accesses are compiled inline (tests lower it). */
  inlineRuns = INLINE_RUNS;
  /** Runs of a 64-bit block before its memory operands are compiled inline (tests lower it). */
  inlineRuns64 = INLINE_RUNS_64;

  constructor(private readonly decoded: DecodeCache) {}

  /** Runs (as a negative BLOCK word) after which an entry on a page of generation `gen` compiles. */
  hot(gen: number): number {
    return gen < REWRITES_TOLERATED ? -this.hotRuns : -Math.max(this.hotRuns, HOT_RUNS_REWRITTEN);
  }

  /**
   * Records the outcome of compiling at record `rec`: the block's id, or never again if null. A
   * block compiled again (memory accesses inline) takes the id of the one it replaces.
   */
  record(rec: number, block: CompiledBlock | null): void {
    const data = this.decoded.data;
    const id = data[rec + BLOCK];
    const old = id > 0 ? this.blocks[id] : null;
    if (block !== null && old !== null && old.at === rec && this.sourceHeld + block.sourceLength <= MAX_SOURCE) {
      this.blocks[id] = block;
      this.byAddress[blockSlot(block.phys, block.code32)] = block;
      this.sourceHeld += block.sourceLength - old.sourceLength;
      this.compiled++;
      return;
    }
    data[rec + BLOCK] = block === null ? NEVER : this.install(block);
  }

  private install(block: CompiledBlock): number {
    if (this.next >= MAX_BLOCKS || this.sourceHeld + block.sourceLength > MAX_SOURCE) this.clear();
    const id = this.next++;
    this.blocks[id] = block;
    this.byAddress[blockSlot(block.phys, block.code32)] = block;
    this.sourceHeld += block.sourceLength;
    this.compiled++;
    return id;
  }

  /** Drops every block (records still naming one see a different `at` or null, and count again). */
  clear(): void {
    this.blocks.fill(null);
    this.byAddress.fill(null);
    this.next = 1;
    this.sourceHeld = 0;
    this.flushes++;
  }

  get size(): number {
    return this.next - 1;
  }
}
