// Source for the inline memory accesses of a hot 64-bit block (block-compiler.ts compiles a block
// again with them once it has run `BlockCache.inlineRuns64` times). An operand's address is computed
// in the block as the compiled call would (base + index << scale + disp + FS/GS base, exact in
// int32 and double arithmetic), looked up in the TLB below 4 GiB or the paging unit's high cache
// above, with the hit masks `Cpu.translate`/`translateCanonical` use, and read from or written to
// RAM. Anything else — a miss, a page crossing, an address that is not canonical, a page that is
// not RAM (MMIO, unbacked, above 4 GiB) and, for a write, a code page — takes the call the block
// made before, which translates, faults, sees the code write and sets `cpu.events` as always. So
// the inline path never faults and never changes anything the call would not have.
import type { InlineHighTlb } from '../memory.js';
import type { Insn64 } from './block-decode.js';
import { TWO_32 } from './memory.js';

const BYTES = [1, 2, 4, 8];

/** What inline accesses need of a CPU: fixed for its life, so a block holds them as constants. */
export interface InlineMemory {
  readonly tlb: Int32Array | null;
  readonly highTlb: InlineHighTlb | null;
  readonly ram: Uint8Array;
  readonly ram32: Int32Array | null;
  readonly kind: Uint8Array;
}

/** Whether a CPU can run inline accesses at all (both TLBs readable, RAM as dwords). */
export function canInline(cpu: InlineMemory): boolean {
  return cpu.tlb !== null && cpu.highTlb !== null && cpu.ram32 !== null;
}

/** Names of the constants `inlineConstants` gives the block's factory. */
export const INLINE_PARAMETERS = ['TB', 'HT', 'HP', 'HF', 'HS', 'M8', 'M32', 'K'];

/** The CPU's arrays the inline accesses read (`canInline` holds). */
export function inlineConstants(cpu: InlineMemory): unknown[] {
  const high = cpu.highTlb as InlineHighTlb;
  // HS: the high cache's slot mask (a power of two, less one).
  return [cpu.tlb, high.tags, high.physical, high.flags, high.tags.length - 1, cpu.ram, cpu.ram32, cpu.kind];
}

/**
 * Locals the inline accesses use, read at the block's entry: the hit masks in `uses` (TR/TW for
 * the TLB, UR/UW for the high cache, by read and write) and the FS/GS bases in `segments`.
 */
export function inlinePrologue(uses: ReadonlySet<string>, segments: ReadonlySet<number>): string[] {
  // The translation can change only through instructions no block compiles (MOV CR, INVLPG, WRMSR,
  // SWAPGS, a far transfer), so what the entry reads holds for the whole call. With the TLB not
  // usable inline (`inlineTranslation`), the hit masks are 0: every lookup misses.
  const masks = [['TR', 'cpu.tlbHitMask[US]'], ['TW', 'cpu.tlbHitMask[2 | US]'], ['UR', 'cpu.highHitMask[US]'], ['UW', 'cpu.highHitMask[2 | US]']]
    .filter(([name]) => uses.has(name)).map(([name, mask]) => `${name} = IT ? ${mask} : 0`);
  const lines = masks.length === 0 ? [] : [`const IT = cpu.inlineTranslation === 2, US = cpu.userAccess(), ${masks.join(', ')};`];
  for (const s of segments) lines.push(`const SL${s} = cpu.segBase[${s}] >>> 0, SH${s} = cpu.long.segBaseHi[${s}];`);
  lines.push('let o = 0, g = 0, p = 0, e = 0, y = 0, z = 0, w = 0, m = -1;');
  return lines;
}

/**
 * Code leaving the operand's linear address in `o` (low dword, int32) and `g` (high dword), or null
 * when the operand keeps its call (a 67 prefix; a RIP-relative one that is not a constant).
 * `constant`: the compile-time linear address of a RIP-relative operand (block-compiler's `constantLinear`).
 */
export function addressCode(i: Insn64, constant: number | null, segments: Set<number>): string | null {
  if (i.ripRelative) {
    if (constant === null) return null;
    const high = Math.floor(constant / TWO_32);
    return `o = ${(constant - high * TWO_32) | 0}; g = ${high | 0};`;
  }
  if (i.addr32) return null;
  const low: string[] = [];
  const high: string[] = [];
  if (i.base >= 0) {
    low.push(`(r[${i.base}] >>> 0)`);
    high.push(`H[${i.base}]`);
  }
  if (i.index >= 0) {
    low.push(i.scale === 0 ? `(r[${i.index}] >>> 0)` : `(r[${i.index}] >>> 0) * ${1 << i.scale}`);
    high.push(i.scale === 0 ? `H[${i.index}]` : `(H[${i.index}] << ${i.scale})`);
  }
  if (i.seg >= 0) {
    segments.add(i.seg);
    low.push(`SL${i.seg}`);
    high.push(`SH${i.seg}`);
  }
  if (i.base >= 0 && low.length === 1 && i.disp === 0) return `o = r[${i.base}]; g = H[${i.base}];`;
  if (i.disp !== 0 || low.length === 0) low.push(i.disp < 0 ? `(${i.disp})` : String(i.disp));
  // The low sum is below 2^36 and exact; its carry (or borrow, for a negative displacement, whose
  // sign extension it so takes in) goes to the high dword. Multiplying by 2^-32 is exact.
  high.push('Math.floor(e * 2.3283064365386963e-10)');
  return `e = ${low.join(' + ')}; o = e | 0; g = (${high.join(' + ')}) | 0;`;
}

/**
 * Code leaving in `p` the physical address of the `size` (0-3) access at `o`/`g`, or -1 when the
 * call must make it: a page crossing, a miss in either TLB (for `write` with the write hit mask,
 * which a page not yet dirty fails), a non-canonical `g`, a physical address at or above 4 GiB.
 * `constantHigh`: `g` when known at compile time (a RIP-relative operand), so one side is left out.
 */
export function physicalCode(size: number, write: boolean, constantHigh: number | null, uses: Set<string>): string {
  const n = BYTES[size];
  if (constantHigh !== 0) uses.add(write ? 'UW' : 'UR');
  if (constantHigh === null || constantHigh === 0) uses.add(write ? 'TW' : 'TR');
  const low = `((y = TB[o >>> 12]) & ${write ? 'TW' : 'TR'}) === 1 ? ((y & -4096) ^ o) >>> 0 : -1`;
  const high = `HT[y = (z = g * 1048576 + (o >>> 12)) & HS] === z && (HF[y] & ${write ? 'UW' : 'UR'}) === 1 && ` +
    `(w = HP[y]) < ${TWO_32} ? w + (o & 4095) : -1`;
  let lookup: string;
  if (constantHigh === 0) lookup = low;
  else if (constantHigh !== null) lookup = high;
  else lookup = `g === 0 ? ${low} : ((g << 16) >> 16) === g ? ${high} : -1`;
  return n === 1 ? `p = ${lookup};` : `p = (o & 4095) > ${4096 - n} ? -1 : ${lookup};`;
}

/** RAM bytes at `at` (within one page) as an int32 dword expression. */
function dwordAt(at: string, plus: number): string {
  const b = (k: number): string => `M8[${at} + ${plus + k}]`;
  return `(${b(0)} | (${b(1)} << 8) | (${b(2)} << 16) | (${b(3)} << 24))`;
}

/** Statements reading `size` from RAM at local `at` into `lo`, `high` (0 below a qword), as `loadRam` does. */
export function ramRead(size: number, at: string, lo: string, high: string): string {
  if (size === 0) return `${lo} = M8[${at}]; ${high} = 0;`;
  if (size === 1) return `${lo} = M8[${at}] | (M8[${at} + 1] << 8); ${high} = 0;`;
  if (size === 2) return `${lo} = (${at} & 3) === 0 ? M32[${at} >>> 2] : ${dwordAt(at, 0)}; ${high} = 0;`;
  return `if ((${at} & 3) === 0) { ${lo} = M32[${at} >>> 2]; ${high} = M32[(${at} >>> 2) + 1]; } ` +
    `else { ${lo} = ${dwordAt(at, 0)}; ${high} = ${dwordAt(at, 4)}; }`;
}

/** Statements storing `size` (hi:lo, each a local or a literal) to RAM at local `at`, as `storeRam` does. */
export function ramWrite(size: number, at: string, lo: string, high: string): string {
  const bytes = (v: string, plus: number): string =>
    `M8[${at} + ${plus}] = ${v}; M8[${at} + ${plus + 1}] = ${v} >> 8; M8[${at} + ${plus + 2}] = ${v} >> 16; M8[${at} + ${plus + 3}] = ${v} >> 24;`;
  if (size === 0) return `M8[${at}] = ${lo};`;
  if (size === 1) return `M8[${at}] = ${lo}; M8[${at} + 1] = ${lo} >> 8;`;
  if (size === 2) return `if ((${at} & 3) === 0) M32[${at} >>> 2] = ${lo}; else { ${bytes(lo, 0)} }`;
  return `if ((${at} & 3) === 0) { M32[${at} >>> 2] = ${lo}; M32[(${at} >>> 2) + 1] = ${high}; } else { ${bytes(lo, 0)} ${bytes(high, 4)} }`;
}
