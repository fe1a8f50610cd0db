// Indirect branches inside the translation cache. A guest RET, CALL r/m32 or JMP r/m32 is
// translated into x86 code that looks its target up in a table in the VMM area (guest EIP → TC
// entry, indexed by the target's low 16 bits) and jumps there itself; only a miss ends in a
// call-out, whose completion enters the target in the table. The code touches no flag (MOV,
// MOVZX, LEA, JECXZ, PUSH, JMP) and no guest memory but what the guest instruction itself
// touches: its scratch (ECX and EDX saved, the jump target) lives in the VMM's data, reached
// through GS. Every instruction it retires beyond the guest's one is added to a counter there,
// which the VMM subtracts from the CPU's count, so the guest's instruction count and TSC stay
// exact. A stop inside the sequence (a fault, an interrupt, the budget) is undone to the guest
// state before the branch (or, at the final jump, after it) by its stage.
import { BRANCH_TABLE, BRANCH_TABLE_ENTRIES, SLOT_ECX, SLOT_EDX, SLOT_EXTRA, SLOT_JUMP } from './layout.js';

/** Stages of a lookup instruction: what must be undone when the CPU stops before it. */
/** Nothing yet: the guest's registers are as they were. */
export const ST_CLEAN = 0;
/** ECX and EDX come back from their slots. */
export const ST_REGS = 1;
/** Those, and the CALL's push is undone (ESP + 4). */
export const ST_PUSHED = 2;
/** Only the jump is left: the guest instruction is complete, at the target in the jump slot. */
export const ST_DONE = 3;

/** The branch kinds a lookup is emitted for (translation-cache.ts F_RET, F_CALL, F_JMP). */
export const LOOKUP_RET = 1;
export const LOOKUP_CALL = 2;
export const LOOKUP_JMP = 3;

/** One instruction of a sequence: where it starts, its stage, and the count adjustment at a stop there. */
export interface LookupInstruction {
  readonly at: number;
  readonly stage: number;
  /**
   * Instructions to subtract from the CPU's count when the guest state is taken at this
   * instruction: those of the sequence retired before it, less what the counter already holds.
   */
  readonly extra: number;
}

export interface LookupSequence {
  readonly bytes: number[];
  readonly instructions: LookupInstruction[];
  /** Offset of the miss path's UD2 (a call-out for the guest instruction) and its adjustment. */
  readonly miss: number;
  readonly missExtra: number;
}

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const GS = 0x65;
const movSlotEcx = (slot: number): number[] => [GS, 0x89, 0x0d, ...le32(slot)];
const movSlotEdx = (slot: number): number[] => [GS, 0x89, 0x15, ...le32(slot)];
const movEcxSlot = (slot: number): number[] => [GS, 0x8b, 0x0d, ...le32(slot)];
const movEdxSlot = (slot: number): number[] => [GS, 0x8b, 0x15, ...le32(slot)];
/** MOVZX ECX, DX: the table index. */
const MOVZX_ECX_DX = [0x0f, 0xb7, 0xca];
/** MOV ECX, GS:[disp + ECX*8]. */
const movEcxTable = (disp: number): number[] => [GS, 0x8b, 0x0c, 0xcd, ...le32(disp)];
/** LEA ECX, [ECX + EDX]: zero when the entry's negated tag matches the target. */
const LEA_ECX_ECX_EDX = [0x8d, 0x0c, 0x11];
const UD2 = [0x0f, 0x0b];

/**
 * The x86 code for one indirect branch. `kind`: LOOKUP_RET (`pop` bytes popped after the return
 * address: RET imm16), LOOKUP_CALL or LOOKUP_JMP (`operand`: the bytes of MOV EDX, r/m32 with the
 * guest instruction's own addressing; `next`: the guest EIP a CALL pushes).
 */
export function lookupSequence(kind: number, operand: readonly number[], pop: number, next: number): LookupSequence {
  const bytes: number[] = [];
  const instructions: LookupInstruction[] = [];
  let retired = 0;
  const add = (code: readonly number[], stage: number, extra = retired): number => {
    const at = bytes.length;
    instructions.push({ at, stage, extra });
    bytes.push(...code);
    retired++;
    return at;
  };
  // The target into EDX (faults here are the guest instruction's: nothing is changed yet).
  add(movSlotEcx(SLOT_ECX), ST_CLEAN);
  add(movSlotEdx(SLOT_EDX), ST_CLEAN);
  add(kind === LOOKUP_RET ? [0x8b, 0x14, 0x24] : operand, ST_CLEAN);
  let stage = ST_REGS;
  if (kind === LOOKUP_CALL) {
    add([0x68, ...le32(next)], ST_REGS);
    stage = ST_PUSHED;
  }
  add(MOVZX_ECX_DX, stage);
  add(movEcxTable(BRANCH_TABLE), stage);
  add(LEA_ECX_ECX_EDX, stage);
  const jecxz = add([0xe3, 0], stage);
  const afterTest = retired;
  // Miss: the guest's registers back, then the call-out completes the branch and fills the entry.
  add(movEcxSlot(SLOT_ECX), stage);
  add(movEdxSlot(SLOT_EDX), stage);
  if (kind === LOOKUP_CALL) add([0x8d, 0x64, 0x24, 0x04], stage);
  const miss = bytes.length;
  const missExtra = retired;
  bytes.push(...UD2);
  // Hit: the TC address, then the counter, the registers, the stack, and the jump.
  bytes[jecxz + 1] = bytes.length - (jecxz + 2);
  retired = afterTest;
  const hitLength = afterTest + (kind === LOOKUP_RET ? 10 : 9);
  const counted = hitLength - 1;
  add(MOVZX_ECX_DX, stage);
  add(movEcxTable(BRANCH_TABLE + 4), stage);
  add(movSlotEcx(SLOT_JUMP), stage);
  add(movEcxSlot(SLOT_EXTRA), stage);
  add([0x8d, 0x89, ...le32(counted)], stage);
  add(movSlotEcx(SLOT_EXTRA), stage);
  // From here the counter holds the whole sequence's count already.
  add(movEcxSlot(SLOT_ECX), stage, retired - counted);
  add(movEdxSlot(SLOT_EDX), stage, retired - counted);
  if (kind === LOOKUP_RET) add([0x8d, 0xa4, 0x24, ...le32(4 + pop)], ST_REGS, retired - counted);
  // At the jump the guest instruction has retired: it counts as the guest's.
  add([GS, 0xff, 0x25, ...le32(SLOT_JUMP)], ST_DONE, retired - counted - 1);
  if (retired !== hitLength) throw new Error('lookup: hit path length miscounted');
  return { bytes, instructions, miss, missExtra };
}

/**
 * The table in host RAM (the VMM area's data frames): entry i holds the negated guest EIP of a
 * target whose low 16 bits are i, then that target's TC address. An empty entry holds a tag no
 * target indexed there can match.
 */
export class BranchTable {
  private readonly words: Int32Array;
  private filled = 0;
  /** The extra-instruction total (SLOT_EXTRA) last taken. */
  private extraSeen = 0;

  /** @param data the data frames (from GS's base: slots, then the table), 4-byte aligned */
  constructor(private readonly data: Uint8Array) {
    this.words = new Int32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
  }

  /** Forgets every entry (the TC was flushed, or the code segment or stack no longer allow lookups). */
  clear(): void {
    if (this.filled !== 0) this.empty();
  }

  private empty(): void {
    const w = this.words;
    const base = BRANCH_TABLE >> 2;
    for (let i = 0; i < BRANCH_TABLE_ENTRIES; i++) {
      w[base + 2 * i] = -(i + 1) | 0;
      w[base + 2 * i + 1] = 0;
    }
    this.filled = 0;
  }

  /** Guest EIP `target` (CS base 0) continues at TC linear address `tcLinear`. */
  remember(target: number, tcLinear: number): void {
    const at = (BRANCH_TABLE >> 2) + 2 * (target & 0xffff);
    this.words[at] = -target | 0;
    this.words[at + 1] = tcLinear | 0;
    this.filled++;
  }

  /** A scratch slot (layout.ts SLOT_*). */
  slot(offset: number): number {
    return this.words[offset >> 2];
  }

  /**
   * The lookups' count of instructions retired beyond the guest's since the last call. The slot is
   * a running total only the TC writes: a stop between its load and store would undo a reset.
   */
  /** What `takeExtra` would return now, without taking it (read while the CPU runs). */
  pendingExtra(): number {
    return (this.words[SLOT_EXTRA >> 2] - this.extraSeen) | 0;
  }

  takeExtra(): number {
    const total = this.words[SLOT_EXTRA >> 2];
    const extra = (total - this.extraSeen) | 0;
    this.extraSeen = total;
    return extra;
  }

  /** Zeroes the slots and empties the table whatever it holds (the frames are new, or were another instance's). */
  reset(): void {
    this.data.fill(0, 0, BRANCH_TABLE);
    this.extraSeen = 0;
    this.empty();
  }
}
