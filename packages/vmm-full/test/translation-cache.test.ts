// The translation cache on its own: fragments made stale by a code write stop chaining, and the
// cache stays coherent (`check()`) whatever the stale entry's UD2 covered.
import { describe, expect, it } from 'vitest';
import { TC_SIZE } from '../src/layout.js';
import { K_EXIT, K_STALE, TranslationCache, type CodeSource } from '../src/translation-cache.js';

/** Guest code in a 64 KiB flat space, one guest-physical page per 4 KiB. */
function source(bytes: Record<number, number[]>): CodeSource {
  const ram = new Int16Array(0x10000).fill(-1);
  for (const [at, code] of Object.entries(bytes)) code.forEach((b, i) => { ram[Number(at) + i] = b; });
  return { fetch: (linear) => (linear >= 0 && linear < ram.length ? ram[linear] : -1), page: (linear) => linear >>> 12 };
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
});
