// The in-TC indirect-branch lookup on its own: the sequences' bookkeeping (stages and count
// adjustments along both paths), the table's entries, and how the translator uses them. Their
// behaviour on the CPU is the differential test's (differential.test.ts: loops of RET, CALL r/m32
// and JMP r/m32 under none and full, stopped and moved anywhere).
import { decodeLength } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import {
  BranchTable, LOOKUP_CALL, LOOKUP_JMP, LOOKUP_RET, ST_CLEAN, ST_DONE, ST_PUSHED, ST_REGS, lookupSequence,
} from '../src/branch-lookup.js';
import { BRANCH_TABLE, BRANCH_TABLE_ENTRIES, DATA_SIZE, SLOT_EXTRA, TC_SIZE } from '../src/layout.js';
import { C_OTHER, K_CALLOUT, K_CALLOUT_END, K_IDENT, K_LOOKUP, TranslationCache, type CodeSource } from '../src/translation-cache.js';

const MOV_EDX_EDX = [0x8b, 0xd2];

/** Instruction starts of `bytes`, decoded as 32-bit code. */
function starts(bytes: readonly number[]): number[] {
  const out: number[] = [];
  for (let at = 0; at < bytes.length;) {
    out.push(at);
    at += decodeLength((i) => bytes[at + i], true);
  }
  return out;
}

describe('lookupSequence', () => {
  for (const [name, kind, pop] of [['RET', LOOKUP_RET, 0], ['RET 8', LOOKUP_RET, 8], ['CALL r/m32', LOOKUP_CALL, 0], ['JMP r/m32', LOOKUP_JMP, 0]] as const) {
    it(`${name}: every instruction is recorded, and the count adjustments add up on both paths`, () => {
      const s = lookupSequence(kind, MOV_EDX_EDX, pop, 0x1234);
      const at = s.instructions.map((i) => i.at);
      // Every instruction but the miss's UD2 is recorded, at a real instruction start.
      expect([...at, s.miss].sort((a, b) => a - b)).toEqual(starts(s.bytes));
      expect(s.bytes.slice(s.miss, s.miss + 2)).toEqual([0x0f, 0x0b]);
      // The JECXZ (E3 rel8) jumps to the hit path, which starts right after the miss's UD2.
      const jecxz = s.bytes.indexOf(0xe3);
      const hit = jecxz + 2 + s.bytes[jecxz + 1];
      expect(hit).toBe(s.miss + 2);
      const prefix = s.instructions.filter((i) => i.at <= jecxz);
      const hitPath = s.instructions.filter((i) => i.at >= hit);
      const hitLength = prefix.length + hitPath.length;
      // A miss: every instruction before the UD2 is the lookup's (the UD2 stands for the branch).
      expect(s.missExtra).toBe(s.instructions.filter((i) => i.at < s.miss).length);
      // Before the counter is bumped, the adjustment is the lookup's instructions so far; after it,
      // that less the bump (hitLength - 1), and at the final jump one less (the branch retired).
      const bump = s.bytes.findIndex((b, i) => b === 0x8d && s.bytes[i + 1] === 0x89);
      expect(new DataView(Uint8Array.from(s.bytes).buffer).getInt32(bump + 2, true)).toBe(hitLength - 1);
      const path = [...prefix, ...hitPath];
      path.forEach((instruction, k) => {
        const bumped = path.slice(0, k).some((i) => i.at > bump);
        const last = k === path.length - 1;
        expect(instruction.extra).toBe(k - (bumped ? hitLength - 1 : 0) - (last ? 1 : 0));
      });
      expect(path[path.length - 1].stage).toBe(ST_DONE);
      // Nothing to undo before the target is read; a CALL's push is undone until the end.
      expect(path.slice(0, 3).map((i) => i.stage)).toEqual([ST_CLEAN, ST_CLEAN, ST_CLEAN]);
      const middle = path.slice(kind === LOOKUP_CALL ? 4 : 3, -1).map((i) => i.stage);
      expect(new Set(middle)).toEqual(new Set(kind === LOOKUP_CALL ? [ST_PUSHED] : [ST_REGS]));
      // No instruction writes flags: MOV, MOVZX, LEA, JECXZ, PUSH, JMP, UD2 only.
      const opcodes = starts(s.bytes).map((i) => (s.bytes[i] === 0x65 ? s.bytes[i + 1] : s.bytes[i]));
      expect(new Set(opcodes)).toEqual(new Set([0x89, 0x8b, 0x0f, 0x8d, 0xe3, 0xff, ...(kind === LOOKUP_CALL ? [0x68] : [])]));
    });
  }
});

describe('BranchTable', () => {
  it('an empty entry matches no target indexed there; a remembered one matches its target only', () => {
    const data = new Uint8Array(DATA_SIZE);
    const table = new BranchTable(data);
    table.reset();
    const words = new Int32Array(data.buffer);
    const tag = (i: number) => words[(BRANCH_TABLE >> 2) + 2 * i];
    // The lookup hits when tag + target is 0: for index i, target = -tag would have to index i.
    for (const i of [0, 1, 0x1234, BRANCH_TABLE_ENTRIES - 1]) expect((-tag(i) & 0xffff) !== i).toBe(true);
    table.remember(0xc1234567, 0xffd40000);
    expect((tag(0x4567) + 0xc1234567) | 0).toBe(0);
    expect(words[(BRANCH_TABLE >> 2) + 2 * 0x4567 + 1]).toBe(0xffd40000 | 0);
    expect((tag(0x4567) + 0xc1244567) | 0).not.toBe(0);
    table.clear();
    expect((-tag(0x4567) & 0xffff) !== 0x4567).toBe(true);
  });

  it('takes the extra-instruction total as deltas (the TC only ever adds to it), wrapping at 2^32', () => {
    const data = new Uint8Array(DATA_SIZE);
    const table = new BranchTable(data);
    table.reset();
    const view = new DataView(data.buffer);
    view.setInt32(SLOT_EXTRA, 48, true);
    expect(table.takeExtra()).toBe(48);
    expect(table.takeExtra()).toBe(0);
    view.setInt32(SLOT_EXTRA, 0x7ffffff0, true);
    expect(table.takeExtra()).toBe(0x7ffffff0 - 48);
    view.setInt32(SLOT_EXTRA, (0x7ffffff0 + 0x20) | 0, true);
    expect(table.takeExtra()).toBe(0x20);
  });
});

describe('the translator', () => {
  /** Guest code at linear = physical 0x1000. */
  const at1000 = (code: number[]): CodeSource => ({
    fetch: (linear) => (linear >= 0x1000 && linear < 0x1000 + code.length ? code[linear - 0x1000] : -1),
    page: () => 1,
    mapping: () => 1,
  });

  it('looks RET up in the TC under CS base 0 and a 4 GiB limit, and calls out otherwise', () => {
    const flat = new TranslationCache(new Uint8Array(TC_SIZE), () => undefined);
    const entry = flat.entryFor(0x1000, 0, 0xffffffff, at1000([0xc3]));
    expect(flat.kindAt[entry]).toBe(K_LOOKUP);
    expect(flat.counters.lookups).toBe(1);
    const limited = new TranslationCache(new Uint8Array(TC_SIZE), () => undefined);
    const other = limited.entryFor(0x1000, 0, 0xfffff, at1000([0xc3]));
    expect(limited.kindAt[other]).toBe(K_CALLOUT_END);
    expect(limited.counters.lookups).toBe(0);
  });

  it('emulates guest code that names GS (the TC\'s GS is the VMM\'s)', () => {
    const tc = new TranslationCache(new Uint8Array(TC_SIZE), () => undefined);
    // mov eax, gs:[0]; mov eax, fs:[0]; hlt
    const entry = tc.entryFor(0x1000, 0, 0xffffffff, at1000([0x65, 0xa1, 0, 0, 0, 0, 0x64, 0xa1, 0, 0, 0, 0, 0xf4]));
    expect([tc.kindAt[entry], tc.classAt[entry]]).toEqual([K_CALLOUT, C_OTHER]);
    expect(tc.fast.has(entry)).toBe(false);
    expect(tc.kindAt[entry + 2]).toBe(K_IDENT);
  });
});
