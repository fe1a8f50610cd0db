// The translation cache (TC): guest kernel code (virtual CPL 0, 32-bit) translated into x86 code
// the CPU runs at CPL 1 from the VMM area. Translation units are basic blocks extended across
// conditional branches; most instructions are copied unchanged (IDENT); direct branches are
// re-targeted at other fragments (chained once the target exists, through an exit stub before);
// CALL pushes the guest's return address; RET and CALL/JMP r/m32 look their target up in the TC
// (branch-lookup.ts); everything else sensitive, privileged, indirect, CS- or GS-relative becomes
// a call-out: a UD2 the VMM owns (its #UD is intercepted), emulated on the virtual CPU. For every
// TC instruction the cache records the guest EIP the CPU state stands for at that boundary, so a
// fault or stop anywhere maps back to exact guest state.
import { decodeLength } from '@ringvisor/x86-core';
import { LOOKUP_CALL, LOOKUP_JMP, LOOKUP_RET, lookupSequence } from './branch-lookup.js';
import { CodeMappings } from './code-mappings.js';
import { TC_SIZE } from './layout.js';

/** What the TC instruction at an offset is. */
export const K_NONE = 0;
/** Guest instruction copied (or a CALL's push): faults there are the guest instruction's. */
export const K_IDENT = 1;
/** UD2 standing for a guest instruction the VMM emulates; `aux` = guest EIP of the next one. */
export const K_CALLOUT = 2;
/** UD2 at the end of a branch whose target has no translation yet; `aux` = offset of the rel32 to patch. */
export const K_EXIT = 3;
/** UD2 written over the entry of a fragment whose guest code changed. */
export const K_STALE = 4;
/** A TC-only jump after a guest instruction completed (CALL's jump, LOOP trampolines, page-end links). */
export const K_LINK = 5;
/** A call-out that ends its fragment (control transfers, faults): execution goes on by lookup. */
export const K_CALLOUT_END = 6;
/**
 * An instruction of an indirect branch's in-TC lookup (branch-lookup.ts), standing for the guest
 * branch at `guestAt`; `classAt` is its stage, `extraAt` the count adjustment at a stop there.
 */
export const K_LOOKUP = 7;

/** Call-out classes the VMM treats specially after emulating. */
export const C_PLAIN = 0;
export const C_IO = 1;
export const C_INVLPG = 2;
export const C_MOV_CR3 = 3;
export const C_CLI_STI = 4;
export const C_PUSHF_POPF = 5;
export const C_SEGMENT = 6;
export const C_DESCRIPTOR = 7;
export const C_CONTROL = 8;
export const C_BRANCH = 9;
export const C_INT = 10;
export const C_HLT = 11;
export const C_MSR = 12;
export const C_OTHER = 13;
export const C_ADAPTIVE = 14;
export const CALLOUT_NAMES = [
  'plain', 'io', 'invlpg', 'mov-cr3', 'cli-sti', 'pushf-popf', 'segment', 'descriptor-table', 'control-register',
  'indirect-branch', 'int-iret', 'hlt', 'msr', 'other', 'adaptive',
];

/**
 * Call-outs the VMM completes on the CPU's own state, without the emulator: RET, RET imm16,
 * CALL/JMP r/m32, IN/OUT (not string), PUSH Sreg, MOV r32 from Sreg, POP/MOV into DS/ES/FS/GS,
 * CLI/STI (the virtual IF is the CPU's IF at ring 1) and PUSHF/POPF (the virtual IOPL merged in).
 */
export const F_RET = 1;
export const F_CALL = 2;
export const F_JMP = 3;
export const F_IN = 4;
export const F_OUT = 5;
export const F_PUSH_SEG = 6;
export const F_MOV_FROM_SEG = 7;
export const F_POP_SEG = 8;
export const F_MOV_TO_SEG = 9;
export const F_CLI = 10;
export const F_STI = 11;
export const F_PUSHF = 12;
export const F_POPF = 13;

/** A call-out decoded at translation time (no prefixes but a data segment override, or 0x66 for I/O). */
export interface FastOp {
  readonly kind: number;
  /** RET's imm16; the I/O size; the segment register of segment operations. */
  readonly arg: number;
  /** ModRM of CALL/JMP r/m32 and MOV Sreg; the port of IN/OUT imm8 (-1: DX). */
  readonly modrm: number;
  readonly sib: number;
  readonly disp: number;
  /** Segment override (x86-core segment index) or -1. */
  readonly segment: number;
  /** Guest EIP of the next instruction (CALL pushes it). */
  readonly next: number;
}

/** Where the translator reads guest code: bytes by linear address, and the guest-physical page. */
export interface CodeSource {
  /** The byte at guest linear `linear`, or -1 when it cannot be fetched (not present, MMIO). */
  fetch(linear: number): number;
  /** Guest-physical page number of `linear` as last fetched (for invalidation), or -1. */
  page(linear: number): number;
  /**
   * What `linear` maps for a supervisor fetch now, looked at without fetching (no accessed bits
   * set): guest-physical page | MAPPING_GLOBAL when global, or -1.
   */
  mapping(linear: number): number;
}

/** Fragments end after this many guest instructions (bounds the work of one translation). */
const MAX_INSTRUCTIONS = 256;
/** Translation stops when less than this is left; the whole cache is then flushed. */
const HEADROOM = 4096;
const UD2_0 = 0x0f;
const UD2_1 = 0x0b;

/** Counters of the TC (stats). */
export class TcCounters {
  blocks = 0;
  bytes = 0;
  flushes = 0;
  invalidations = 0;
  /** Of those, fragments whose linear page mapped other code (or none) at a guest TLB flush. */
  remapped = 0;
  chains = 0;
  guestInstructions = 0;
  /** Indirect branches translated into in-TC lookups. */
  lookups = 0;
}

export class TranslationCache {
  /** Guest EIP the CPU state stands for at each TC instruction boundary. */
  readonly guestAt = new Int32Array(TC_SIZE);
  readonly kindAt = new Uint8Array(TC_SIZE);
  readonly auxAt = new Int32Array(TC_SIZE);
  readonly classAt = new Uint8Array(TC_SIZE);
  /** Instructions retired beyond the guest's when the guest state is taken at a lookup instruction. */
  readonly extraAt = new Int8Array(TC_SIZE);
  /** Traps taken at each IDENT instruction (adaptive retranslation). */
  readonly trapsAt = new Uint16Array(TC_SIZE);
  /** Guest linear address of the fragment entered at each offset. */
  private readonly linearAt = new Int32Array(TC_SIZE);
  readonly counters = new TcCounters();
  /** Bumped by every full flush: patches computed before one must not be applied. */
  generation = 0;
  /** Guest linear entry → TC offset. */
  private readonly entries = new Map<number, number>();
  /** Guest-physical page → TC offsets of the fragments translated from it. */
  private readonly byPage = new Map<number, number[]>();
  /** Guest linear page → the fragments read from it and the page it mapped then. */
  private readonly mappings = new CodeMappings();
  private readonly liveEntry = (entry: number): boolean => this.kindAt[entry] !== K_STALE && entry < this.cursor;
  private readonly staleEntry = (entry: number): void => {
    this.counters.remapped++;
    this.makeStale(entry);
  };
  /** Fragment start → the TC offset just past it (its instructions and exit stubs). */
  private readonly fragmentEnd = new Map<number, number>();
  /** Indirect branches the VMM completes without the emulator, by call-out offset. */
  readonly fast = new Map<number, FastOp>();
  /** Guest linear addresses to translate as a call-out (adaptive BT: they kept trapping). */
  private readonly adaptive = new Set<number>();
  private cursor = 0;
  /** True while translating for CS base 0 and a 4 GiB limit: indirect branches may look up in the TC. */
  private lookups = false;
  private readonly buf = new Uint8Array(16);
  private readonly fixField: number[] = [];
  private readonly fixTarget: number[] = [];

  /**
   * @param code the TC bytes (host RAM of the VMM area's TC frames)
   * @param written tells the CPU those bytes changed (its decoded-code cache)
   * @param flushed called when every translation is dropped (the branch table's entries go too)
   */
  constructor(
    private readonly code: Uint8Array,
    private readonly written: (offset: number, length: number) => void,
    private readonly flushed: () => void = () => undefined,
  ) {}

  /** The fragment for guest linear `linear` with CS base `csBase`, translated if needed; its TC offset. */
  entryFor(linear: number, csBase: number, csLimit: number, source: CodeSource): number {
    const l = linear | 0;
    const found = this.entries.get(l);
    if (found !== undefined && ((l - this.guestAt[found]) | 0) === (csBase | 0) && this.kindAt[found] !== K_STALE) return found;
    return this.translate(l, csBase | 0, csLimit >>> 0, source);
  }

  /** Points the branch whose rel32 is at `field` at `target` (both TC offsets). */
  patch(field: number, target: number): void {
    const rel = target - (field + 4);
    this.code[field] = rel;
    this.code[field + 1] = rel >> 8;
    this.code[field + 2] = rel >> 16;
    this.code[field + 3] = rel >> 24;
    this.written(field, 4);
    this.counters.chains++;
  }

  /** Guest code on `page` changed: its fragments' entries become stale call-outs. */
  invalidatePage(page: number): void {
    const list = this.byPage.get(page);
    if (list === undefined) return;
    this.byPage.delete(page);
    for (const entry of list) this.makeStale(entry);
  }

  /** Guest INVLPG of `linear`: fragments of its (large) page that now map other code go stale. */
  invlpg(linear: number, source: CodeSource): void {
    this.mappings.invlpg(linear, source, this.liveEntry, this.staleEntry);
  }

  /** A guest TLB flush: of non-global translations (CR3 load), or of all (`globalsToo`: PGE toggle). */
  flushTlb(globalsToo: boolean, source: CodeSource): void {
    this.mappings.flush(globalsToo, source, this.liveEntry, this.staleEntry);
  }

  /** The fragment at `entry` must not run again: a UD2 over its entry sends chains into it to the lookup. */
  private makeStale(entry: number): void {
    if (this.kindAt[entry] === K_STALE) return;
    this.code[entry] = UD2_0;
    this.code[entry + 1] = UD2_1;
    this.kindAt[entry] = K_STALE;
    this.written(entry, 2);
    this.disarmStubs(entry);
    const linear = this.linearAt[entry];
    if (this.entries.get(linear) === entry) this.entries.delete(linear);
    this.counters.invalidations++;
  }

  /**
   * The UD2 over a stale fragment's entry may cover the rel32 of its first branch, whose exit stub
   * is then dead: it no longer chains, so no patch can rewrite the bytes of that UD2.
   */
  private disarmStubs(entry: number): void {
    const end = this.fragmentEnd.get(entry) ?? entry;
    for (let at = entry; at < end; at++) if (this.kindAt[at] === K_EXIT) this.auxAt[at] = -1;
  }

  /**
   * Throws unless the cache is coherent: every entry starts a live fragment inside the used part,
   * every branch field points at an instruction start (a fragment or an exit stub), and every page
   * list names live entries.
   */
  check(): void {
    for (const [linear, entry] of this.entries) {
      const kind = this.kindAt[entry];
      if (entry < 0 || entry >= this.cursor || kind === K_NONE || kind === K_STALE) {
        throw new Error(`TC: entry for 0x${(linear >>> 0).toString(16)} at ${entry} is not a live fragment`);
      }
      if (this.linearAt[entry] !== linear) throw new Error(`TC: entry ${entry} records another linear address`);
    }
    for (let at = 0; at < this.cursor; at++) {
      if (this.kindAt[at] !== K_EXIT || this.auxAt[at] < 0) continue;
      const field = this.auxAt[at];
      if (field < 0 || field + 4 > this.cursor) throw new Error(`TC: exit stub ${at} patches outside the cache`);
      const target = field + 4 + (this.code[field] | (this.code[field + 1] << 8) | (this.code[field + 2] << 16) | (this.code[field + 3] << 24));
      if (target < 0 || target >= this.cursor || this.kindAt[target] === K_NONE) throw new Error(`TC: branch at ${field} leaves the translated code`);
    }
    for (const [page, list] of this.byPage) {
      for (const entry of list) if (entry >= this.cursor) throw new Error(`TC: page ${page} lists a fragment past the end`);
    }
  }

  /** True when translated code came from `page`. */
  hasPage(page: number): boolean {
    return this.byPage.has(page);
  }

  /** Drops every translation (the TC filled up, or the guest's address-space rules changed). */
  flush(): void {
    this.entries.clear();
    this.byPage.clear();
    this.mappings.clear();
    this.fragmentEnd.clear();
    this.fast.clear();
    this.kindAt.fill(0, 0, this.cursor);
    this.trapsAt.fill(0, 0, this.cursor);
    this.cursor = 0;
    this.generation++;
    this.counters.flushes++;
    this.flushed();
  }

  /** Marks the guest instruction at `linear` for translation as a call-out and drops its fragments. */
  makeAdaptive(linear: number, page: number): void {
    this.adaptive.add(linear | 0);
    this.invalidatePage(page);
  }

  private emit(byte: number): void {
    this.code[this.cursor++] = byte;
  }

  private emit32(value: number): void {
    this.emit(value & 0xff);
    this.emit((value >>> 8) & 0xff);
    this.emit((value >>> 16) & 0xff);
    this.emit((value >>> 24) & 0xff);
  }

  /** Marks the instruction starting at the cursor. */
  private mark(kind: number, guest: number, aux = 0, cls = 0): void {
    const at = this.cursor;
    this.kindAt[at] = kind;
    this.guestAt[at] = guest;
    this.auxAt[at] = aux;
    this.classAt[at] = cls;
    this.extraAt[at] = 0;
    this.trapsAt[at] = 0;
  }

  /** A jump (E9) or the rel32 of a Jcc whose target is guest EIP `target`: chained at the end of the fragment. */
  private branchField(target: number): void {
    this.fixField.push(this.cursor);
    this.fixTarget.push(target | 0);
    this.emit32(0);
  }

  private callout(eip: number, next: number, cls: number, ends = false): void {
    this.mark(ends ? K_CALLOUT_END : K_CALLOUT, eip, next, cls);
    this.emit(UD2_0);
    this.emit(UD2_1);
  }

  private translate(linear: number, csBase: number, csLimit: number, source: CodeSource): number {
    if (this.cursor + HEADROOM > TC_SIZE) this.flush();
    const start = this.cursor;
    const counters = this.counters;
    const pages: number[] = [];
    /** [linear page, mapping] pairs the fragment read code from. */
    const linearPages: number[] = [];
    const addPage = (lin: number): void => {
      const p = source.page(lin);
      if (p >= 0 && !pages.includes(p)) pages.push(p);
      const linearPage = lin >>> 12;
      for (let i = 0; i < linearPages.length; i += 2) if (linearPages[i] === linearPage) return;
      const mapping = source.mapping(lin);
      if (mapping >= 0) linearPages.push(linearPage, mapping);
    };
    this.fixField.length = 0;
    this.fixTarget.length = 0;
    this.lookups = csBase === 0 && csLimit === 0xffffffff;
    let eip = (linear - csBase) | 0;
    let ended = false;
    for (let n = 0; n < MAX_INSTRUCTIONS && !ended; n++) {
      const lin = (csBase + eip) | 0;
      const buf = this.buf;
      let have = 0;
      while (have < 16) {
        const b = source.fetch((lin + have) | 0);
        if (b < 0) break;
        buf[have++] = b;
      }
      let length: number;
      try {
        length = decodeLength((i) => {
          if (i >= have) throw new RangeError('fetch');
          return buf[i];
        }, true);
      } catch {
        length = -2;
      }
      // Unfetchable, invalid, or beyond CS's limit: the virtual CPU raises the fault itself.
      if (length < 0 || ((eip >>> 0) + length - 1) > csLimit) {
        this.callout(eip, eip, C_OTHER, true);
        ended = true;
        break;
      }
      addPage(lin);
      if (((lin + length - 1) >>> 12) !== (lin >>> 12)) addPage((lin + length - 1) | 0);
      const next = (eip + length) | 0;
      counters.guestInstructions++;
      if (this.adaptive.has(lin)) {
        this.callout(eip, next, C_ADAPTIVE);
        eip = next;
        continue;
      }
      const outcome = this.translateOne(eip, next, length);
      if (outcome === ENDS) ended = true;
      else if (outcome === CONTINUES) eip = next;
      else eip = outcome;
    }
    if (!ended) {
      // Long straight-line code: leave through a stub (no TC-only jump, so every instruction the
      // CPU retires here is the guest's).
      this.mark(K_EXIT, eip, -1);
      this.emit(UD2_0);
      this.emit(UD2_1);
    }
    // Exit stubs for every branch whose target is not translated yet.
    for (let i = 0; i < this.fixField.length; i++) {
      const field = this.fixField[i];
      const target = this.fixTarget[i];
      const targetLinear = (csBase + target) | 0;
      const known = targetLinear === linear ? start : this.entries.get(targetLinear);
      if (known !== undefined && (known === start || ((targetLinear - this.guestAt[known]) | 0) === csBase)) {
        this.setRel(field, known);
        continue;
      }
      const stub = this.cursor;
      this.mark(K_EXIT, target, field);
      this.emit(UD2_0);
      this.emit(UD2_1);
      this.setRel(field, stub);
    }
    this.entries.set(linear, start);
    this.fragmentEnd.set(start, this.cursor);
    this.linearAt[start] = linear;
    for (const p of pages) {
      let list = this.byPage.get(p);
      if (list === undefined) this.byPage.set(p, list = []);
      list.push(start);
    }
    for (let i = 0; i < linearPages.length; i += 2) this.mappings.record(start, linearPages[i], linearPages[i + 1]);
    counters.blocks++;
    counters.bytes += this.cursor - start;
    this.written(start, this.cursor - start);
    return start;
  }

  /** The fast form of the call-out for the instruction in `buf` (opcode `op` at `at`), or null. */
  private fastOp(op: number, at: number, next: number): FastOp | null {
    const buf = this.buf;
    let segment = -1;
    let opsize16 = false;
    for (let p = 0; p < at; p++) {
      const seg = SEGMENT_PREFIX[buf[p]];
      if (buf[p] === 0x66) opsize16 = true;
      else if (seg === undefined) return null;
      else segment = seg;
    }
    const make = (kind: number, arg: number, modrm = 0, sib = 0, disp = 0): FastOp => ({ kind, arg, modrm, sib, disp, segment, next });
    if (op >= 0xe4 && op <= 0xef && (op & 0xf) !== 8 && op !== 0xe8 && op !== 0xe9 && op !== 0xea && op !== 0xeb) {
      const size = (op & 1) === 0 ? 1 : opsize16 ? 2 : 4;
      return make((op & 2) === 0 ? F_IN : F_OUT, size, op < 0xec ? buf[at + 1] : -1);
    }
    if (opsize16) return null;
    switch (op) {
      case 0xfa: return make(F_CLI, 0);
      case 0xfb: return make(F_STI, 0);
      case 0x9c: return make(F_PUSHF, 0);
      case 0x9d: return make(F_POPF, 0);
      case 0xc3: return make(F_RET, 0);
      case 0xc2: return make(F_RET, buf[at + 1] | (buf[at + 2] << 8));
      case 0x06: case 0x0e: case 0x16: case 0x1e: return make(F_PUSH_SEG, op >> 3);
      case 0x1a0: return make(F_PUSH_SEG, 4);
      case 0x1a8: return make(F_PUSH_SEG, 5);
      case 0x07: case 0x1f: return make(F_POP_SEG, op >> 3);
      case 0x1a1: return make(F_POP_SEG, 4);
      case 0x1a9: return make(F_POP_SEG, 5);
      case 0x8c: case 0x8e: {
        const modrm = buf[at + 1];
        const sreg = (modrm >> 3) & 7;
        if (modrm < 0xc0 || sreg > 5 || (op === 0x8e && (sreg === 1 || sreg === 2))) return null;
        return make(op === 0x8c ? F_MOV_FROM_SEG : F_MOV_TO_SEG, sreg, modrm);
      }
      case 0xff: break;
      default: return null;
    }
    const modrm = buf[at + 1];
    const reg = (modrm >> 3) & 7;
    if (reg !== 2 && reg !== 4) return null;
    const mod = modrm >> 6;
    const rm = modrm & 7;
    let p = at + 2;
    let sib = 0;
    if (mod !== 3 && rm === 4) sib = buf[p++];
    let disp = 0;
    if (mod === 1) disp = (buf[p] << 24) >> 24;
    else if (mod === 2 || (mod === 0 && (rm === 5 || (rm === 4 && (sib & 7) === 5)))) disp = read32(buf, p);
    return make(reg === 2 ? F_CALL : F_JMP, 0, modrm, sib, disp);
  }

  /**
   * RET, CALL r/m32 or JMP r/m32 (`fast`, at guest EIP `eip`; its opcode at `at` of `length`
   * bytes) as an in-TC lookup; its miss path ends in the call-out for the guest instruction.
   */
  private emitLookup(eip: number, fast: FastOp, at: number, length: number): void {
    const buf = this.buf;
    // MOV EDX, r/m32 with the guest instruction's prefixes (segment overrides), ModRM, SIB and displacement.
    const operand: number[] = [];
    if (fast.kind !== F_RET) {
      for (let p = 0; p < at; p++) operand.push(buf[p]);
      operand.push(0x8b, (buf[at + 1] & 0xc7) | 0x10);
      for (let p = at + 2; p < length; p++) operand.push(buf[p]);
    }
    const kind = fast.kind === F_RET ? LOOKUP_RET : fast.kind === F_CALL ? LOOKUP_CALL : LOOKUP_JMP;
    const sequence = lookupSequence(kind, operand, fast.arg, fast.next);
    const start = this.cursor;
    for (const instruction of sequence.instructions) {
      this.cursor = start + instruction.at;
      this.mark(K_LOOKUP, eip, fast.next, instruction.stage);
      this.extraAt[this.cursor] = instruction.extra;
    }
    const miss = start + sequence.miss;
    this.cursor = miss;
    this.mark(K_CALLOUT_END, eip, fast.next, C_BRANCH);
    this.extraAt[miss] = sequence.missExtra;
    this.fast.set(miss, fast);
    this.cursor = start;
    for (const b of sequence.bytes) this.emit(b);
    this.counters.lookups++;
  }

  private setRel(field: number, target: number): void {
    const rel = target - (field + 4);
    this.code[field] = rel;
    this.code[field + 1] = rel >> 8;
    this.code[field + 2] = rel >> 16;
    this.code[field + 3] = rel >> 24;
  }

  /**
   * Translates the instruction in `buf` (guest EIP `eip`, `length` bytes): ENDS, CONTINUES with
   * the next instruction, or the guest EIP translation continues at (a CALL's target).
   */
  private translateOne(eip: number, next: number, length: number): number {
    const buf = this.buf;
    let i = 0;
    let opsize16 = false;
    let csOverride = false;
    let gsOverride = false;
    for (;;) {
      const b = buf[i];
      if (b === 0x66) opsize16 = true;
      else if (b === 0x2e) csOverride = true;
      else if (b === 0x65) gsOverride = true;
      else if (b !== 0x67 && b !== 0xf0 && b !== 0xf2 && b !== 0xf3 && b !== 0x26 && b !== 0x36 && b !== 0x3e && b !== 0x64) break;
      i++;
    }
    let op = buf[i];
    if (op === 0x0f) op = 0x100 | buf[i + 1];
    const reg = (buf[i + (op > 0xff ? 2 : 1)] >> 3) & 7;
    const cls = calloutClass(op, reg);
    // Relative branches: re-targeted (a 16-bit operand size truncates EIP: emulated instead).
    if (!opsize16 && (op === 0xeb || op === 0xe9)) {
      const target = (next + (op === 0xeb ? (buf[i + 1] << 24) >> 24 : read32(buf, i + 1))) | 0;
      this.mark(K_IDENT, eip);
      this.emit(0xe9);
      this.branchField(target);
      return ENDS;
    }
    if (!opsize16 && ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f))) {
      const short = op < 0x100;
      const target = (next + (short ? (buf[i + 1] << 24) >> 24 : read32(buf, i + 2))) | 0;
      this.mark(K_IDENT, eip);
      this.emit(0x0f);
      this.emit(0x80 | (op & 0xf));
      this.branchField(target);
      return CONTINUES;
    }
    if (!opsize16 && op === 0xe8) {
      // The guest's return address is pushed and translation goes on at the target, in this
      // fragment: one CPU instruction for the guest's one, and RET finds the guest's address.
      this.mark(K_IDENT, eip);
      this.emit(0x68);
      this.emit32(next);
      return (next + read32(buf, i + 1)) | 0;
    }
    const relative = op === 0xe8 || op === 0xe9 || op === 0xeb || (op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f);
    // GS is the VMM's while the TC runs: guest code naming it is emulated (with the guest's GS).
    if (cls >= 0 || csOverride || gsOverride || (opsize16 && relative)) {
      const c = cls >= 0 && !gsOverride ? cls : C_OTHER;
      const fast = gsOverride ? null : this.fastOp(op, i, next);
      if (fast !== null && this.lookups && (fast.kind === F_RET || fast.kind === F_CALL || fast.kind === F_JMP)) {
        this.emitLookup(eip, fast, i, length);
        return ENDS;
      }
      if (fast !== null) this.fast.set(this.cursor, fast);
      const ends = (c === C_BRANCH && op !== 0xe0 && op !== 0xe1 && op !== 0xe2 && op !== 0xe3) || c === C_INT || op === 0x10b || relative;
      this.callout(eip, next, c, ends);
      return ends ? ENDS : CONTINUES;
    }
    this.mark(K_IDENT, eip);
    for (let p = 0; p < length; p++) this.emit(buf[p]);
    return CONTINUES;
  }
}

const ENDS = 0x7fffffff + 1;
const CONTINUES = ENDS + 1;

/** Segment overrides a fast call-out honours (GS-prefixed instructions are emulated). */
const SEGMENT_PREFIX: Record<number, number> = { 0x26: 0, 0x36: 2, 0x3e: 3, 0x64: 4 };

function read32(buf: Uint8Array, at: number): number {
  return buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24);
}

/**
 * The call-out class of an opcode (0x0F xx as 0x100 | xx; `reg` its ModRM reg field), or -1 for
 * an instruction copied unchanged: the sensitive and privileged instructions (Robin & Irvine's
 * list and the ring-0 set), every indirect or far transfer, INT/IRET, and I/O.
 */
export function calloutClass(op: number, reg: number): number {
  switch (op) {
    case 0xc2: case 0xc3: case 0xca: case 0xcb: case 0x9a: case 0xea: return C_BRANCH;
    // LOOPcc/JECXZ: emulated (a TC trampoline would retire instructions the guest never ran).
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: return C_BRANCH;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: case 0xf1: return C_INT;
    case 0xff: return reg >= 2 && reg <= 5 ? C_BRANCH : -1;
    case 0x9c: case 0x9d: return C_PUSHF_POPF;
    case 0xfa: case 0xfb: return C_CLI_STI;
    case 0xf4: return C_HLT;
    case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xec: case 0xed: case 0xee: case 0xef:
    case 0x6c: case 0x6d: case 0x6e: case 0x6f: return C_IO;
    case 0x8c: case 0x8e: case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
    case 0xc4: case 0xc5: case 0x1a0: case 0x1a1: case 0x1a8: case 0x1a9: case 0x1b2: case 0x1b4: case 0x1b5:
      return C_SEGMENT;
    case 0x100: case 0x102: case 0x103: return C_DESCRIPTOR;
    case 0x101: return reg === 7 ? C_INVLPG : reg === 4 || reg === 6 ? C_CONTROL : C_DESCRIPTOR;
    case 0x106: case 0x120: case 0x121: case 0x123: return C_CONTROL;
    case 0x122: return reg === 3 ? C_MOV_CR3 : C_CONTROL;
    case 0x130: case 0x132: case 0x133: return C_MSR;
    case 0x108: case 0x109: case 0x10b: case 0x134: case 0x135: case 0x105: case 0x107: case 0x1aa: return C_OTHER;
    default: return -1;
  }
}
