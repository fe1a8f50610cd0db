// The translation cache on its own: fragments made stale by a code write stop chaining, and the
// cache stays coherent (`check()`) whatever the stale entry's UD2 covered; fragments whose linear
// page maps other code after a guest TLB flush go stale too.
import { describe, expect, it } from 'vitest';
import { TC_SIZE } from '../src/layout.js';
import { MAPPING_GLOBAL } from '../src/code-mappings.js';
import { K_EXIT, K_STALE, TranslationCache, type CodeSource } from '../src/translation-cache.js';

/**
 * Guest code in 64 KiB of guest-physical RAM; linear pages map the page of the same number unless
 * `remap` says otherwise (a page number, | MAPPING_GLOBAL for a global mapping, or -1: not present).
 */
function source(bytes: Record<number, number[]>, remap = new Map<number, number>()): CodeSource {
  const ram = new Int16Array(0x10000).fill(-1);
  for (const [at, code] of Object.entries(bytes)) code.forEach((b, i) => { ram[Number(at) + i] = b; });
  const mapping = (linear: number) => remap.get(linear >>> 12) ?? linear >>> 12;
  const physical = (linear: number) => {
    const m = mapping(linear);
    return m < 0 ? -1 : ((m & (MAPPING_GLOBAL - 1)) << 12) | (linear & 0xfff);
  };
  return {
    fetch: (linear) => {
      const at = physical(linear);
      return at >= 0 && at < ram.length ? ram[at] : -1;
    },
    page: (linear) => (physical(linear) < 0 ? -1 : physical(linear) >>> 12),
    mapping,
  };
}

const ONE = [0xb8, 1, 0, 0, 0, 0xf4]; //  mov eax, 1; hlt
const TWO = [0xb8, 2, 0, 0, 0, 0xf4]; //  mov eax, 2; hlt
const MOV_ONE = ONE.slice(0, 5);
const MOV_TWO = TWO.slice(0, 5);

/** A live fragment at `entry` begins with `bytes` (MOV copied unchanged; the HLT is a call-out). */
function runs(tc: TranslationCache, code: Uint8Array, entry: number, bytes: number[]): boolean {
  return tc.kindAt[entry] !== K_STALE && bytes.every((b, i) => code[entry + i] === b);
}

describe('TranslationCache', () => {
  it('disarms the exit stubs of a fragment a code write made stale, even where its UD2 covers a branch field', () => {
    const tc = new TranslationCache(new Uint8Array(TC_SIZE), () => undefined);
    // A fragment that begins with JMP rel32 to code not translated yet: its exit stub's field is the
    // JMP's rel32, whose first byte the stale entry's UD2 overwrites.
    const code = source({ 0x1000: [0xe9, 0xfb, 0x0f, 0x00, 0x00], 0x2000: [0xf4] });
    const entry = tc.entryFor(0x1000, 0, 0xffffffff, code);
    const stubs = [...tc.kindAt.subarray(entry, entry + 16).entries()].filter(([, k]) => k === K_EXIT).map(([i]) => entry + i);
    expect(stubs.map((at) => tc.auxAt[at])).toEqual([entry + 1]);
    tc.check();

    tc.invalidatePage(1);
    expect(tc.kindAt[entry]).toBe(K_STALE);
    expect(stubs.map((at) => tc.auxAt[at])).toEqual([-1]);
    expect(() => tc.check()).not.toThrow();
    // The guest address translates afresh, to a new live fragment.
    const again = tc.entryFor(0x1000, 0, 0xffffffff, code);
    expect(again).not.toBe(entry);
    expect(() => tc.check()).not.toThrow();
  });

  it('retranslates a linear page that maps other code after INVLPG, and only then', () => {
    const code = new Uint8Array(TC_SIZE);
    const tc = new TranslationCache(code, () => undefined);
    const remap = new Map([[8, 2]]);
    const guest = source({ 0x2000: ONE, 0x3000: TWO, 0x1000: [0xe9, 0xfb, 0x6f, 0x00, 0x00] }, remap); // jmp 0x8000
    const first = tc.entryFor(0x8000, 0, 0xffffffff, guest);
    expect(runs(tc, code, first, MOV_ONE)).toBe(true);
    // A fragment chained into it, as the VMM chains an exit stub once its target is translated.
    const from = tc.entryFor(0x1000, 0, 0xffffffff, guest);
    const stub = [...tc.kindAt.subarray(from, from + 16).keys()].map((i) => from + i).find((at) => tc.kindAt[at] === K_EXIT)!;
    tc.patch(tc.auxAt[stub], first);

    remap.set(8, 3);
    // No flush yet: a TLB may still hold the old translation, and so may the TC.
    expect(tc.entryFor(0x8000, 0, 0xffffffff, guest)).toBe(first);
    tc.invlpg(0x409000, guest); // another 4 MiB region: nothing to check there
    expect(tc.kindAt[first]).not.toBe(K_STALE);
    tc.invlpg(0x8123, guest);
    expect(tc.kindAt[first]).toBe(K_STALE);
    expect([code[first], code[first + 1]]).toEqual([0x0f, 0x0b]); // the chain from 0x1000 now reaches the lookup
    const second = tc.entryFor(0x8000, 0, 0xffffffff, guest);
    expect(second).not.toBe(first);
    expect(runs(tc, code, second, MOV_TWO)).toBe(true);
    expect(runs(tc, code, from, [0xe9])).toBe(true);
    tc.check();

    // Not present after the flush: stale, and the retranslation faults in the virtual CPU.
    remap.set(8, -1);
    tc.invlpg(0x8000, guest);
    expect(tc.kindAt[second]).toBe(K_STALE);
    expect(tc.counters.remapped).toBe(2);
    tc.check();
  });

  it('checks every page of the 4 MiB region at INVLPG (one address of a large page flushes all of it)', () => {
    const code = new Uint8Array(TC_SIZE);
    const tc = new TranslationCache(code, () => undefined);
    const remap = new Map([[8, 2]]);
    const guest = source({ 0x2000: ONE, 0x3000: TWO }, remap);
    const first = tc.entryFor(0x8000, 0, 0xffffffff, guest);
    remap.set(8, 3);
    tc.invlpg(0x400000, guest); // the next region
    expect(tc.kindAt[first]).not.toBe(K_STALE);
    tc.invlpg(0x3ff000, guest);
    expect(tc.kindAt[first]).toBe(K_STALE);
  });

  it('checks non-global pages at a CR3 load, global ones only at a PGE toggle', () => {
    const code = new Uint8Array(TC_SIZE);
    const tc = new TranslationCache(code, () => undefined);
    const remap = new Map([[8, 2], [9, 4 | MAPPING_GLOBAL]]);
    const guest = source({ 0x2000: ONE, 0x3000: TWO, 0x4000: ONE, 0x5000: TWO }, remap);
    const local = tc.entryFor(0x8000, 0, 0xffffffff, guest);
    const global = tc.entryFor(0x9000, 0, 0xffffffff, guest);
    remap.set(8, 3);
    remap.set(9, 5 | MAPPING_GLOBAL);
    tc.flushTlb(false, guest);
    expect(tc.kindAt[local]).toBe(K_STALE);
    expect(tc.kindAt[global]).not.toBe(K_STALE);
    expect(runs(tc, code, tc.entryFor(0x8000, 0, 0xffffffff, guest), MOV_TWO)).toBe(true);
    tc.flushTlb(true, guest);
    expect(tc.kindAt[global]).toBe(K_STALE);
    expect(runs(tc, code, tc.entryFor(0x9000, 0, 0xffffffff, guest), MOV_TWO)).toBe(true);
    // Unchanged mappings keep their fragments through any flush.
    const kept = tc.entryFor(0x8000, 0, 0xffffffff, guest);
    tc.flushTlb(true, guest);
    tc.invlpg(0x8000, guest);
    expect(tc.entryFor(0x8000, 0, 0xffffffff, guest)).toBe(kept);
    tc.check();
  });
});
