import type { InterruptController, IoBus } from '@ringvisor/vmm-api';
import { CpuFault, throwFault } from './fault.js';
import {
  AF, ARITH, CF, FIXED_ONE, IF, LAZY_ADC, LAZY_ADD, LAZY_LOGIC, LAZY_SBB, LAZY_SUB, OF, PARITY, PF,
  SETTABLE, SF, SIGN_BIT, SIZE_MASK, TF, VM, ZF,
} from './flags.js';
import { InterceptSet, StopDetail, type StopReason } from './intercepts.js';
import type { CpuMemory, InlineHighTlb, PagingUnit } from './memory.js';
import { step } from './execute.js';
import { BLOCK, DecodeCache, GEN, META, decodeRecord, runRecord } from './decoded-cache.js';
import { BlockCache, NEVER, blockSlot } from './block-cache.js';
import { type CompiledBlock, compileBlock } from './block-compiler.js';
import { instructionLength } from './decode.js';
import { deliverException, deliverInterrupt, type InterruptKind } from './system/interrupt.js';
import { FAST_READ_MASK, FAST_WRITE_MASK } from './system/descriptor.js';
import { TripleFault } from './system/triple-fault.js';
import { Fpu } from './fpu/fpu.js';
import { CpuFpuHost } from './fpu-host.js';
import { type CpuModel, MODEL_TRAITS, type ModelTraits } from './model.js';
import { LongState, runLong } from './long/run.js';
import type { LongBlocks } from './long/blocks.js';
import { longFetchedLength } from './long/decode-state.js';
import { SseState } from './sse/state.js';

export const ES = 0;
export const CS = 1;
export const SS = 2;
export const DS = 3;
export const FS = 4;
export const GS = 5;
export const LDTR = 6;
export const TR = 7;

/** `segAccess` bit marking a segment register loaded with a null selector (VMX "unusable"). */
const UNUSABLE = 1 << 16;

const CR0_PE = 1;
/** IA32_EFER.LMA: IA-32e mode active. */
export const EFER_LMA = 1 << 10;
/** `segAccess` bit 13: CS.L, a 64-bit code segment. */
const CS_L = 1 << 13;
/** Physical addresses at or above 4 GiB (reachable with PAE) are never RAM here. */
const FOUR_GIB = 0x100000000;
const CR0_PG = 1 << 31;

// Bits of `events`: work the run loop does at an instruction boundary instead of on every step.
/** Poll the interrupt controller (run entry, after port I/O or MMIO, after IF was set). */
export const EV_POLL_IRQ = 1;
/** An instruction asked `run()` to stop (intercept, HLT, shutdown). */
const EV_STOP = 2;
/** The instruction just executed (STI, MOV SS, POP SS) blocks interrupts until the next one retires. */
const EV_SHADOW = 4;
/** An injected event waits for delivery before the next instruction. */
const EV_INJECT = 8;
/** TF was set when the instruction began: raise #DB after it. */
const EV_TRAP = 16;
/** 64-bit mode was entered or left: `run()` picks the other interpreter loop. */
const EV_MODE = 32;

/** Thrown by `interceptStop` to abandon the instruction in progress; `run()` catches it. */
const INTERCEPTED = { intercepted: true };

/** Options a VMM or test gives the CPU. */
export interface CpuOptions {
  memory: CpuMemory;
  paging?: PagingUnit;
  io: IoBus;
  /** Cache decoded instructions (default true; needs the memory's code-write detection). */
  decodeCache?: boolean;
  /**
   * Compile hot runs of decoded instructions to JavaScript (default true; needs `decodeCache`).
   * Off, the CPU interprets every instruction: same results, same instruction counts.
   */
  compileBlocks?: boolean;
  interrupts?: InterruptController;
  /**
   * The CPU to behave as (default 'i686'). '80286' adds the 80286's real-mode differences the
   * SingleStepTests vectors exercise (model.ts); it is the i686 core otherwise, not a full 286.
   */
  model?: CpuModel;
}

/**
 * An i686-class x86 CPU (or, with `model: '80286'`, that core with the 80286's real-mode differences:
 * model.ts): the register file, lazy flags, memory access through segmentation and paging, and the
 * `run(budget)` loop. Instruction semantics live in `execute.ts`; protected-mode
 * system behaviour in `system/`; the field layout is the one CONTRACT.md promises.
 */
export class Cpu {
  /**
   * The register file: low dwords of RAX..RDI, R8..R15 (ModRM order, then REX's); reg16/reg8 view
   * the same buffer. 32-bit code uses entries 0-7 only and never touches `regHi`, so its paths are
   * the i686 core's; 64-bit code (src/long/) keeps the high dwords in `regHi` (README, "Long mode").
   */
  readonly reg32 = new Int32Array(16);
  readonly reg16 = new Uint16Array(this.reg32.buffer);
  readonly reg8 = new Uint8Array(this.reg32.buffer);
  /** High dwords of the 64-bit registers, written only by 64-bit code and the long-mode system paths. */
  readonly regHi = new Int32Array(16);
  eip = 0;
  /** RIP bits 63:32 (64-bit mode only; 0 elsewhere). */
  ripHi = 0;

  /** EFLAGS with the arithmetic bits named in `lazyMask` stale (they follow from the lazy operands). */
  flags = FIXED_ONE;
  lazyMask = 0;
  lazyOp = 0;
  lazyA = 0;
  lazyB = 0;
  lazyRes = 0;
  lazySize = 0;

  readonly seg = new Uint16Array(8);
  readonly segBase = new Int32Array(8);
  readonly segLimit = new Int32Array(8);
  readonly segAccess = new Int32Array(8);
  cpl = 0;
  cr0 = 0x60000010;
  cr2 = 0;
  /** CR2 bits 63:32 (a #PF at a 64-bit linear address). */
  cr2Hi = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  /** IA32_SYSENTER_CS/ESP/EIP bits 31:0 (src/sysenter.ts; bits 63:32 of ESP/EIP are in `long`). */
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  readonly dr = new Int32Array(8);
  /** The x87 (SDM Vol. 1, ch. 8), driven by the D8-DF escapes through `fpuHost`. */
  readonly fpu = new Fpu();
  readonly fpuHost = new CpuFpuHost(this);
  gdtrBase = 0;
  gdtrLimit = 0xffff;
  idtrBase = 0;
  idtrLimit = 0x3ff;

  /** Derived from CS.D and the mode by `codeSizeChanged`: 16- or 32-bit default operand/address size. */
  code32 = false;
  /** IA-32e mode with a 64-bit code segment (EFER.LMA and CS.L): `run()` uses src/long/'s interpreter. */
  mode64 = false;
  /** Mask applied to EIP as it advances: 0xffff for 16-bit code. */
  ipMask = 0xffff;
  pagingOn = false;
  /** Applied to linear addresses with paging off: bit 20 clear while the A20 gate is closed. */
  addressMask = -1;
  /** CPUID.1:EDX paging bits (PSE, PAE, PGE) the paging unit implements. */
  pagingFeatures = 0;
  /**
   * Every access goes through the paging unit, paging on or off: VMX non-root operation with EPT,
   * where even a guest without paging has its guest-physical addresses translated. Set it, then
   * call `modeChanged`.
   */
  translateAlways = false;

  // Per-instruction decode state, reset by `step`.
  startEip = 0;
  /** ESP at the instruction's start, restored when it faults after pushing. */
  startEsp = 0;
  /** RIP and RSP bits 63:32 at a 64-bit instruction's start. */
  startRipHi = 0;
  startRspHi = 0;
  segOverride = -1;
  opSize32 = false;
  addrSize32 = false;
  /** 0, 0xf3 (REP/REPE) or 0xf2 (REPNE). */
  rep = 0;
  lock = false;
  /** Effective address of the current memory operand. */
  eaSeg = 0;
  eaOff = 0;

  /** Instructions retired. */
  retired = 0;
  tscOffset = 0;
  halted = false;
  events = EV_POLL_IRQ;
  interruptWindowRequested = false;
  pendingVector = -1;
  pendingKind: InterruptKind = 'external';
  pendingErrorCode = -1;

  /**
   * Devices read the VMM's clock, which learns of retired instructions only when `run()` returns.
   * When this is above 0, a port access after at least this many instructions of the current run
   * first ends the run (reason 'budget', EIP at the access), so the device sees the guest time of the
   * access to within this many instructions: timer calibration against the PIT then agrees with the
   * TSC. 0 (the default) never ends a run early.
   */
  ioSyncInstructions = 0;

  readonly intercepts = new InterceptSet();
  /** `intercepts.anyOpcode`, sampled when `run()` starts. */
  checkOpcodes = false;
  /** Detail of the last stop; reused by every `run()`. */
  readonly stop = new StopDetail();

  /** Port accesses per port since the counters were last cleared (cheap exit statistics). */
  readonly ioCount = new Uint32Array(0x10000);
  /** The ports whose `ioCount` went from 0 to 1, so a reader need not scan all 64 Ki counters. */
  readonly ioTouched = new Uint16Array(0x10000);
  ioTouchedCount = 0;

  readonly mem: CpuMemory;
  /** `mem.ram` and `mem.kind`, held directly for the fast paths. */
  readonly ram: Uint8Array;
  /** `ram` as dwords, for aligned 32-bit accesses (null when the buffer offset is not aligned). */
  readonly ram32: Int32Array | null;
  readonly kind: Uint8Array;
  /** The paging unit; null until the VMM gives one (CR0.PG then raises #GP). */
  paging: PagingUnit | null;
  io: IoBus;
  interrupts: InterruptController | null;

  // The instruction-fetch page cache: linear page number and its RAM offset.
  /** Decoded instructions by physical page; null when the memory cannot report writes to code. */
  readonly decoded: DecodeCache | null;
  /** Compiled blocks (block-cache.ts); null when compilation is off. */
  readonly blockCache: BlockCache | null;
  /** The record table of the fetch window's physical page, the page and its current generation. */
  private windowRecords: Int32Array | null = null;
  private windowPage = -1;
  private windowGen = 0;

  // The instruction-fetch window: EIP values in [fetchLo, fetchHi) lie in one RAM page inside CS's
  // limit, and the byte at EIP is ram[fetchDelta + EIP]. Empty (fetchLo > fetchHi) when invalid.
  private fetchLo = 1;
  private fetchHi = 0;
  private fetchDelta = 0;

  // Last, so the hot fields above keep their places in the object.
  /** The CPU this one behaves as. */
  readonly model: CpuModel;
  /** What the model decides (model.ts), read where each behaviour lives. */
  readonly traits: ModelTraits;
  /** IA-32e state beyond the i686's (MSRs, 64-bit table and segment bases): src/long/. */
  readonly long = new LongState();
  /** 64-bit mode's compiled blocks (src/long/blocks.ts), made on first use when `blockCache` is on. */
  longBlocks: LongBlocks | null = null;
  /** Moved by every `flushFetch`: a code translation cached since an earlier value may be stale. */
  fetchEpoch = 0;
  /** XMM registers and MXCSR (src/sse/; used by the models with SSE). */
  readonly sse = new SseState();

  constructor(options: CpuOptions) {
    this.model = options.model ?? 'i686';
    const traits = MODEL_TRAITS[this.model] as ModelTraits | undefined;
    if (traits === undefined) throw new Error(`x86-core: unknown CPU model '${String(options.model)}'`);
    this.traits = traits;
    this.mem = options.memory;
    this.ram = options.memory.ram;
    const ram = this.ram;
    this.ram32 = ram.byteOffset % 4 === 0 ? new Int32Array(ram.buffer, ram.byteOffset, ram.length >>> 2) : null;
    this.kind = options.memory.kind;
    this.paging = options.paging ?? null;
    const inline = this.paging?.inlineTlb ?? null;
    this.tlb = inline === null ? null : inline.entries;
    const high = this.paging?.inlineHighTlb ?? null;
    this.highTlb = high;
    for (let access = 0; access < 32; access++) {
      const index = ((access & 16 ? 2 : access & 2 ? 1 : 0) << 1) | (access & 4 ? 1 : 0);
      if (inline !== null) this.tlbHitMask[access] = inline.hitMask[index];
      if (high !== null) this.highHitMask[access] = high.hitMask[index];
    }
    const memory = options.memory;
    if (options.decodeCache !== false && typeof memory.markCode === 'function' && 'onCodeWrite' in memory) {
      const cache = new DecodeCache();
      this.decoded = cache;
      // Chained, so every CPU sharing the memory hears about every write to code.
      const previous = memory.onCodeWrite ?? null;
      memory.onCodeWrite = (page: number) => {
        previous?.(page);
        cache.invalidate(page);
        if (page === this.windowPage) this.windowGen = cache.pageGen[page];
      };
    } else this.decoded = null;
    this.blockCache = this.decoded !== null && options.compileBlocks !== false ? new BlockCache(this.decoded) : null;
    this.io = options.io;
    this.interrupts = options.interrupts ?? null;
    this.reset();
  }

  /** The power-on state (SDM Vol. 3A, 9.1.1): real mode at F000:FFF0, CS base 0xFFFF0000. */
  reset(): void {
    this.inShutdown = false;
    this.reg32.fill(0);
    this.regHi.fill(0);
    this.ripHi = 0;
    this.reg32[2] = 0x600;
    this.flags = FIXED_ONE;
    this.lazyMask = 0;
    for (let s = 0; s < 6; s++) this.loadRealSegment(s, 0);
    this.seg[CS] = 0xf000;
    this.segBase[CS] = 0xffff0000 | 0;
    this.segAccess[CS] = 0x9b;
    this.segAccess[LDTR] = 0x82;
    this.segLimit[LDTR] = 0xffff;
    this.segAccess[TR] = 0x8b;
    this.segLimit[TR] = 0xffff;
    this.eip = 0xfff0;
    this.cr0 = 0x60000010;
    this.cr2 = this.cr2Hi = this.cr3 = this.cr4 = this.efer = 0;
    this.sysenterCs = this.sysenterEsp = this.sysenterEip = 0;
    this.long.reset();
    this.sse.reset();
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0 | 0;
    this.dr[7] = 0x400;
    this.gdtrBase = this.idtrBase = 0;
    this.gdtrLimit = this.idtrLimit = 0xffff;
    this.cpl = 0;
    this.halted = false;
    // x87 after RESET (SDM Vol. 3A, Table 9-1): control word 0040H, every register tagged zero.
    this.fpu.reset();
    this.fpu.cw = 0x0040;
    this.fpu.regs.fill(0);
    this.fpu.tagWord = 0x5555;
    this.modeChanged();
  }

  // ---- Mode bookkeeping -------------------------------------------------------------------

  /** After CS's D bit or the mode changes. */
  codeSizeChanged(): void {
    const mode64 = (this.efer & EFER_LMA) !== 0 && (this.segAccess[CS] & CS_L) !== 0;
    if (mode64 !== this.mode64) {
      this.mode64 = mode64;
      this.events |= EV_MODE;
      if (!mode64) this.ripHi = 0;
    }
    this.code32 = (this.cr0 & CR0_PE) !== 0 && (this.flags & VM) === 0 && (this.segAccess[CS] & 0x4000) !== 0;
    this.ipMask = this.code32 ? -1 : 0xffff;
    this.flushFetch();
  }

  /** After CR0.PE/PG, CR3, CR4 or EFLAGS.VM change. */
  modeChanged(): void {
    this.pagingOn = ((this.cr0 & CR0_PG) !== 0 && (this.cr0 & CR0_PE) !== 0) || this.translateAlways;
    this.paging?.flush();
    this.tlbStale = true;
    this.flushFetch();
    this.codeSizeChanged();
  }

  get protectedMode(): boolean {
    return (this.cr0 & CR0_PE) !== 0;
  }

  get v86Mode(): boolean {
    return (this.flags & VM) !== 0;
  }

  loadRealSegment(s: number, selector: number): void {
    this.seg[s] = selector;
    this.segBase[s] = selector << 4;
    this.segLimit[s] = 0xffff;
    this.segAccess[s] = s === CS ? 0x9b : 0x93;
  }

  // ---- Flags ------------------------------------------------------------------------------

  getCF(): number {
    if ((this.lazyMask & CF) === 0) return this.flags & CF;
    const m = SIZE_MASK[this.lazySize];
    switch (this.lazyOp) {
      case LAZY_ADD: return (this.lazyRes & m) >>> 0 < (this.lazyA & m) >>> 0 ? 1 : 0;
      case LAZY_SUB: return (this.lazyA & m) >>> 0 < (this.lazyB & m) >>> 0 ? 1 : 0;
      case LAZY_ADC: return this.adcCarry(m);
      case LAZY_SBB: return this.sbbBorrow(m);
      default: return 0;
    }
  }

  // While CF is lazy after ADC/SBB, `flags` still holds the carry-in they consumed.
  private adcCarry(m: number): number {
    const a = (this.lazyA & m) >>> 0;
    const r = (this.lazyRes & m) >>> 0;
    return r < a || (r === a && (this.flags & CF) !== 0) ? 1 : 0;
  }

  private sbbBorrow(m: number): number {
    const a = (this.lazyA & m) >>> 0;
    const b = (this.lazyB & m) >>> 0;
    return a < b || (a === b && (this.flags & CF) !== 0) ? 1 : 0;
  }

  getZF(): boolean {
    if ((this.lazyMask & ZF) === 0) return (this.flags & ZF) !== 0;
    return (this.lazyRes & SIZE_MASK[this.lazySize]) === 0;
  }

  getSF(): boolean {
    if ((this.lazyMask & SF) === 0) return (this.flags & SF) !== 0;
    return (this.lazyRes & SIGN_BIT[this.lazySize]) !== 0;
  }

  getOF(): boolean {
    if ((this.lazyMask & OF) === 0) return (this.flags & OF) !== 0;
    const s = SIGN_BIT[this.lazySize];
    const a = this.lazyA;
    const b = this.lazyB;
    const r = this.lazyRes;
    switch (this.lazyOp) {
      case LAZY_ADD:
      case LAZY_ADC:
        return ((a ^ r) & (b ^ r) & s) !== 0;
      case LAZY_SUB:
      case LAZY_SBB:
        return ((a ^ b) & (a ^ r) & s) !== 0;
      default:
        return false;
    }
  }

  getPF(): boolean {
    if ((this.lazyMask & PF) === 0) return (this.flags & PF) !== 0;
    return PARITY[this.lazyRes & 0xff] !== 0;
  }

  getAF(): boolean {
    if ((this.lazyMask & AF) === 0) return (this.flags & AF) !== 0;
    if (this.lazyOp === LAZY_LOGIC) return false;
    return ((this.lazyA ^ this.lazyB ^ this.lazyRes) & AF) !== 0;
  }

  /** Folds the lazy arithmetic flags into `flags`. */
  materializeFlags(): void {
    const mask = this.lazyMask;
    if (mask === 0) return;
    let f = this.flags & ~mask;
    if (mask & CF && this.getCF()) f |= CF;
    if (mask & PF && this.getPF()) f |= PF;
    if (mask & AF && this.getAF()) f |= AF;
    if (mask & ZF && this.getZF()) f |= ZF;
    if (mask & SF && this.getSF()) f |= SF;
    if (mask & OF && this.getOF()) f |= OF;
    this.flags = f;
    this.lazyMask = 0;
  }

  getEflags(): number {
    this.materializeFlags();
    return this.flags;
  }

  /** Loads every flag; callers apply the IOPL/IF/VM masks of their instruction. */
  setEflags(value: number): void {
    const old = this.flags;
    this.flags = (value & SETTABLE) | FIXED_ONE;
    this.lazyMask = 0;
    if ((value & IF) !== 0 && (old & IF) === 0) this.events |= EV_POLL_IRQ;
    if (((old ^ value) & VM) !== 0) this.modeChanged();
    if ((value & TF) !== 0) this.events |= EV_POLL_IRQ;
  }

  /** Sets the status flags directly (for instructions that define all of them eagerly). */
  setArith(bits: number): void {
    this.flags = (this.flags & ~ARITH) | (bits & ARITH);
    this.lazyMask = 0;
  }

  /** Records a result whose SF/ZF/PF follow from it and whose CF/OF/AF are given. */
  setLogicFlags(result: number, size: number, cfOfAf: number): void {
    this.flags = (this.flags & ~ARITH) | (cfOfAf & (CF | OF | AF));
    this.lazyOp = LAZY_LOGIC;
    this.lazyRes = result;
    this.lazySize = size;
    this.lazyMask = PF | ZF | SF;
  }

  setCF(on: boolean): void {
    this.materializeFlags();
    this.flags = on ? this.flags | CF : this.flags & ~CF;
  }

  // ---- Instruction fetch ------------------------------------------------------------------

  fetch8(): number {
    const e = this.eip;
    if (e >= this.fetchLo && e < this.fetchHi) {
      this.eip = e + 1;
      return this.ram[this.fetchDelta + e];
    }
    return this.fetchSlow();
  }

  fetch16(): number {
    const e = this.eip;
    if (e >= this.fetchLo && e + 2 <= this.fetchHi) {
      this.eip = e + 2;
      const i = this.fetchDelta + e;
      return this.ram[i] | (this.ram[i + 1] << 8);
    }
    const lo = this.fetch8();
    return lo | (this.fetch8() << 8);
  }

  fetch32(): number {
    const e = this.eip;
    if (e >= this.fetchLo && e + 4 <= this.fetchHi) {
      this.eip = e + 4;
      const i = this.fetchDelta + e;
      const ram = this.ram;
      return ram[i] | (ram[i + 1] << 8) | (ram[i + 2] << 16) | (ram[i + 3] << 24);
    }
    const lo = this.fetch16();
    return lo | (this.fetch16() << 16);
  }

  /**
   * Fetches the byte at CS:EIP outside the window: checks CS's limit (#GP(0)), translates, and opens
   * a new window when the page is RAM. The window never includes EIP 0xffff of 16-bit code, where
   * IP wraps.
   */
  private fetchSlow(): number {
    const e = this.eip;
    const limit = this.segLimit[CS] >>> 0;
    if (e > limit) throwFault(13, 0);
    const lin = (this.segBase[CS] + e) | 0;
    this.eip = ((e + 1) & this.ipMask) >>> 0;
    const phys = this.pagingOn ? this.translate(lin, 16 | this.userAccess()) : (lin & this.addressMask) >>> 0;
    if (phys < FOUR_GIB && this.kind[phys >>> 12] <= 1) {
      this.setWindow(e, lin, phys, limit);
      return this.ram[phys];
    }
    return this.readSlow(phys, 1);
  }

  /**
   * Opens the fetch window at EIP when that cannot fault: inside CS's limit, paging off or a TLB hit,
   * a RAM page. False otherwise (the full decoder's fetch then walks, faults or reads MMIO). Lets
   * a jump or call into another page keep running from decoded records.
   */
  private openWindow(e: number): boolean {
    const limit = this.segLimit[CS] >>> 0;
    if (e > limit) return false;
    const lin = (this.segBase[CS] + e) | 0;
    let phys: number;
    if (this.pagingOn) {
      const tlb = this.tlb;
      if (tlb === null || this.tlbStale) return false;
      const entry = tlb[lin >>> 12];
      if ((entry & this.tlbHitMask[16 | this.userAccess()]) !== 1) return false;
      phys = ((entry & ~0xfff) ^ lin) >>> 0;
    } else phys = (lin & this.addressMask) >>> 0;
    if (phys >= FOUR_GIB || this.kind[phys >>> 12] > 1) return false;
    this.setWindow(e, lin, phys, limit);
    return true;
  }

  private setWindow(e: number, lin: number, phys: number, limit: number): void {
    // Integer arithmetic only, so these fields stay small integers for V8.
    const pageStart = e - (lin & 0xfff);
    let hi = pageStart + 0x1000;
    if (hi > limit + 1) hi = limit + 1;
    if (!this.code32 && hi > 0xffff) hi = 0xffff;
    this.fetchLo = pageStart > 0 ? pageStart : 0;
    this.fetchHi = hi;
    this.fetchDelta = phys - e;
    if (this.decoded !== null) {
      this.windowPage = phys >>> 12;
      this.windowGen = this.decoded.pageGen[this.windowPage];
      this.windowRecords = this.decoded.page(this.windowPage, this.code32);
    }
  }

  /** Drops the fetch window (CS, paging, A20 or memory layout changed). */
  flushFetch(): void {
    this.fetchEpoch = (this.fetchEpoch + 1) | 0;
    this.fetchLo = 1;
    this.fetchHi = 0;
    this.windowRecords = null;
    this.windowPage = -1;
  }

  /**
   * Runs the instruction at EIP from its decoded record when it has one (decoding it on first use);
   * false when it must go through the full decoder (outside the fetch window, prefixes such as REP
   * or LOCK, or an instruction the cache does not run).
   */
  stepDecoded(): boolean {
    let table = this.windowRecords;
    const e = this.eip;
    if (table === null || e < this.fetchLo || e >= this.fetchHi) {
      if (!this.openWindow(e)) return false;
      table = this.windowRecords;
      if (table === null || e < this.fetchLo || e >= this.fetchHi) return false;
    }
    const c = this.decoded as DecodeCache;
    const phys = this.fetchDelta + e;
    let rec = table[phys & 0xfff];
    const data = c.data;
    if (rec === 0 || data[rec + GEN] !== this.windowGen) {
      // Mark the page first: a write from now on invalidates what is decoded here.
      this.mem.markCode?.(phys >>> 12);
      rec = decodeRecord(this, c, table, phys, this.fetchHi - e);
    }
    const meta = c.data[rec + META];
    if (meta === 0) return false;
    this.runDecoded(c, rec, e, meta);
    return true;
  }

  /**
   * `stepDecoded` with the block tier, after `loop` found no block in the by-address table: runs
   * the block its record names (putting it back in the table), or counts runs of the entry and
   * compiles it once hot; blocks run only with the events clear and at most `left` instructions
   * left. Returns the instructions retired, 0 when the full decoder must run one.
   */
  private stepCached(left: number): number {
    let table = this.windowRecords;
    const e = this.eip;
    if (table === null || e < this.fetchLo || e >= this.fetchHi) {
      if (!this.openWindow(e)) return 0;
      table = this.windowRecords;
      if (table === null || e < this.fetchLo || e >= this.fetchHi) return 0;
    }
    const phys = this.fetchDelta + e;
    const blocks = this.blockCache as BlockCache;
    const c = this.decoded as DecodeCache;
    let rec = table[phys & 0xfff];
    const data = c.data;
    if (rec === 0 || data[rec + GEN] !== this.windowGen) {
      this.mem.markCode?.(phys >>> 12);
      rec = decodeRecord(this, c, table, phys, this.fetchHi - e);
    }
    const meta = data[rec + META];
    if (meta === 0) return 0;
    if (this.events === 0) {
      const b = data[rec + BLOCK];
      if (b > 0) {
        const block = blocks.blocks[b];
        if (block !== null && block.at === rec) {
          // Pushed out of its by-address slot by another block: put it back.
          blocks.byAddress[blockSlot(phys, this.code32)] = block;
          if (block.count <= left && e + block.bytes <= this.fetchHi) return block.fn(this, e, left);
        } else data[rec + BLOCK] = 0;
      } else if (b > blocks.hot(this.windowGen)) data[rec + BLOCK] = b - 1;
      else if (b !== NEVER) {
        const block = this.compileAt(rec, table, phys, e);
        if (block !== null && block.count <= left) return block.fn(this, e, left);
        // Compiling decodes the records after this one, which may recycle this one for another
        // instruction (its fields then describe that one): the interpreter runs this one instead.
        if (table[phys & 0xfff] !== rec || data[rec + GEN] !== this.windowGen) return 0;
      }
    }
    this.runDecoded(c, rec, e, meta);
    return 1;
  }

  /** Runs decoded record `rec` (its META word `meta`) as the instruction at EIP `e`. */
  private runDecoded(c: DecodeCache, rec: number, e: number, meta: number): void {
    this.startEip = e;
    this.startEsp = this.reg32[4];
    this.opSize32 = (meta & 16) !== 0;
    this.addrSize32 = (meta & 32) !== 0;
    this.eip = e + (meta & 15);
    runRecord(this, c, rec);
  }

  /**
   * Compiles the block entered at EIP `e` (record `rec` of `table`, physical `phys`); `inline` again
   * with its memory accesses inline, replacing the one compiled first (which finishes the run it is
   * entered for).
   */
  private compileAt(rec: number, table: Int32Array, phys: number, e: number, inline = false): CompiledBlock | null {
    const c = this.decoded as DecodeCache;
    const gen = this.windowGen;
    const limit = Math.min(0x1000 - (phys & 0xfff), this.fetchHi - e);
    const block = compileBlock(c, rec, phys, limit, (p: number, available: number) => {
      const r = table[p & 0xfff];
      return r !== 0 && c.data[r + GEN] === gen ? r : decodeRecord(this, c, table, p, available);
    }, this.code32, gen, this.pagingOn, inline);
    // Compiling decodes records, which may recycle this one: install only if it still stands.
    if (table[phys & 0xfff] !== rec || c.data[rec + GEN] !== gen || (inline && block === null)) return null;
    const blocks = this.blockCache as BlockCache;
    if (block !== null && block.runs === 0) block.runs = blocks.inlineRuns;
    blocks.record(rec, block);
    return block;
  }

  /** Compiles a block run `inlineRuns` times again, with its memory accesses inline. */
  private compileInline(block: CompiledBlock, phys: number, e: number): void {
    const table = this.windowRecords;
    if (table !== null && table[phys & 0xfff] === block.at) this.compileAt(block.at, table, phys, e, true);
  }

  /** Drops decoded instructions of a physical page written behind the memory's back (tests, loaders). */
  codeWritten(page: number): void {
    const cache = this.decoded;
    if (cache === null) return;
    cache.invalidate(page);
    if (page === this.windowPage) this.windowGen = cache.pageGen[page];
  }

  // ---- Linear memory (through paging) -----------------------------------------------------

  readLinear8(lin: number, user?: boolean): number {
    const phys = this.pagingOn ? this.translate(lin, user === undefined ? this.userAccess() : user ? 4 : 0) : (lin & this.addressMask) >>> 0;
    if (phys < FOUR_GIB && this.kind[phys >>> 12] <= 1) return this.ram[phys];
    return this.readSlow(phys, 1);
  }

  readLinear16(lin: number, user?: boolean): number {
    if ((lin & 0xfff) === 0xfff) return this.readLinear8(lin, user) | (this.readLinear8((lin + 1) | 0, user) << 8);
    const phys = this.pagingOn ? this.translate(lin, user === undefined ? this.userAccess() : user ? 4 : 0) : (lin & this.addressMask) >>> 0;
    if (phys < FOUR_GIB && this.kind[phys >>> 12] <= 1) {
      const ram = this.ram;
      return ram[phys] | (ram[phys + 1] << 8);
    }
    return this.readSlow(phys, 2);
  }

  readLinear32(lin: number, user?: boolean): number {
    if ((lin & 0xfff) > 0xffc) return this.readLinear16(lin, user) | (this.readLinear16((lin + 2) | 0, user) << 16);
    const phys = this.pagingOn ? this.translate(lin, user === undefined ? this.userAccess() : user ? 4 : 0) : (lin & this.addressMask) >>> 0;
    if (phys < FOUR_GIB && this.kind[phys >>> 12] <= 1) {
      if ((phys & 3) === 0 && this.ram32 !== null) return this.ram32[phys >>> 2];
      const ram = this.ram;
      return ram[phys] | (ram[phys + 1] << 8) | (ram[phys + 2] << 16) | (ram[phys + 3] << 24);
    }
    return this.readSlow(phys, 4) | 0;
  }

  writeLinear8(lin: number, value: number, user?: boolean): void {
    const phys = this.pagingOn ? this.translate(lin, 2 | (user === undefined ? this.userAccess() : user ? 4 : 0)) : (lin & this.addressMask) >>> 0;
    if (phys < FOUR_GIB && this.kind[phys >>> 12] === 0) this.ram[phys] = value;
    else this.writeSlow(phys, 1, value & 0xff);
  }

  writeLinear16(lin: number, value: number, user?: boolean): void {
    if ((lin & 0xfff) === 0xfff) {
      this.checkWritable(lin, user);
      this.checkWritable((lin + 1) | 0, user);
      this.writeLinear8(lin, value, user);
      this.writeLinear8((lin + 1) | 0, value >> 8, user);
      return;
    }
    const phys = this.pagingOn ? this.translate(lin, 2 | (user === undefined ? this.userAccess() : user ? 4 : 0)) : (lin & this.addressMask) >>> 0;
    if (phys < FOUR_GIB && this.kind[phys >>> 12] === 0) {
      const ram = this.ram;
      ram[phys] = value;
      ram[phys + 1] = value >> 8;
    } else this.writeSlow(phys, 2, value & 0xffff);
  }

  writeLinear32(lin: number, value: number, user?: boolean): void {
    if ((lin & 0xfff) > 0xffc) {
      this.checkWritable(lin, user);
      this.checkWritable(((lin | 0xfff) + 1) | 0, user);
      this.writeLinear16(lin, value, user);
      this.writeLinear16((lin + 2) | 0, value >>> 16, user);
      return;
    }
    const phys = this.pagingOn ? this.translate(lin, 2 | (user === undefined ? this.userAccess() : user ? 4 : 0)) : (lin & this.addressMask) >>> 0;
    if (phys < FOUR_GIB && this.kind[phys >>> 12] === 0) this.storeRam32(phys, value);
    else this.writeSlow(phys, 4, value >>> 0);
  }

  /** A dword into RAM at `phys` (a page the CPU may write directly). */
  private storeRam32(phys: number, value: number): void {
    if ((phys & 3) === 0 && this.ram32 !== null) {
      this.ram32[phys >>> 2] = value;
      return;
    }
    const ram = this.ram;
    ram[phys] = value;
    ram[phys + 1] = value >> 8;
    ram[phys + 2] = value >> 16;
    ram[phys + 3] = value >> 24;
  }

  /**
   * Translates the page of `lin` for a write without writing, so a split access faults before its
   * first half lands (a later page with CR2 at its first byte, as a split read reports it).
   */
  private checkWritable(lin: number, user?: boolean): void {
    if (this.pagingOn) this.translate(lin, 2 | (user === undefined ? this.userAccess() : user ? 4 : 0));
  }

  // ---- Read-modify-write operands -----------------------------------------------------------
  // ADD/ADC/.../NOT/NEG/INC/DEC, shifts and rotates, SHLD/SHRD, BTS/BTR/BTC, XCHG, XADD, CMPXCHG(8B)
  // on memory read their destination with write intent (each writes it whatever the result; ARPL,
  // which the SDM has write only when the RPL changes, reads plainly and writes only then): the segment is checked for a write
  // and the page translated for a write (W=1 in a #PF error code, the dirty bit set) before anything
  // is read, so a fault leaves every register and flag as the instruction found them and a retry
  // after the handler starts afresh. The write then goes to the same physical bytes, and cannot
  // fault: MMIO sees one read and one write.

  /** Physical address of the operand's first byte. */
  private rmwPhys = 0;
  /** For an operand split across pages: physical address of its first byte on the second page, else -1. */
  private rmwPhys2 = -1;
  /** For a split operand: its bytes on the first page. */
  private rmwSplit = 0;

  /** Checks `seg:off` for a write of `size` bytes and translates it for a write; returns the physical address. */
  beginRmw(s: number, off: number, size: number): number {
    const lin = this.linearWrite(s, off, size);
    let phys: number;
    if ((lin & 0xfff) + size > 0x1000) return this.beginRmwSplit(lin);
    if (this.pagingOn) phys = this.translate(lin, 2 | this.userAccess());
    else phys = (lin & this.addressMask) >>> 0;
    this.rmwPhys = phys;
    this.rmwPhys2 = -1;
    return phys;
  }

  /**
   * Checks that `size` bytes (at most a page) at seg:off can be written — segment, limit and the page
   * or two they lie in, translated for a write — without writing: an instruction that stores many
   * bytes (FSAVE, FXSAVE, an x87 store) then faults before it changes anything.
   */
  probeWrite(s: number, off: number, size: number): void {
    this.beginRmw(s, off, size);
  }

  private beginRmwSplit(lin: number): number {
    const next = ((lin | 0xfff) + 1) | 0;
    let phys: number;
    if (this.pagingOn) {
      const access = 2 | this.userAccess();
      phys = this.translate(lin, access);
      this.rmwPhys2 = this.translate(next, access);
    } else {
      phys = (lin & this.addressMask) >>> 0;
      this.rmwPhys2 = (next & this.addressMask) >>> 0;
    }
    this.rmwPhys = phys;
    this.rmwSplit = 0x1000 - (lin & 0xfff);
    return phys;
  }

  readRmw8(s: number, off: number): number {
    const phys = this.beginRmw(s, off, 1);
    if (phys < FOUR_GIB && this.kind[phys >>> 12] <= 1) return this.ram[phys];
    return this.readSlow(phys, 1);
  }

  readRmw16(s: number, off: number): number {
    const phys = this.beginRmw(s, off, 2);
    if (this.rmwPhys2 < 0 && phys < FOUR_GIB && this.kind[phys >>> 12] <= 1) return this.ram[phys] | (this.ram[phys + 1] << 8);
    return this.rmwRead(0, 2);
  }

  readRmw32(s: number, off: number): number {
    const phys = this.beginRmw(s, off, 4);
    if (this.rmwPhys2 < 0 && phys < FOUR_GIB && this.kind[phys >>> 12] <= 1) {
      if ((phys & 3) === 0 && this.ram32 !== null) return this.ram32[phys >>> 2];
      const ram = this.ram;
      return ram[phys] | (ram[phys + 1] << 8) | (ram[phys + 2] << 16) | (ram[phys + 3] << 24);
    }
    return this.rmwRead(0, 4);
  }

  writeRmw8(value: number): void {
    const phys = this.rmwPhys;
    if (phys < FOUR_GIB && this.kind[phys >>> 12] === 0) this.ram[phys] = value;
    else this.writeSlow(phys, 1, value & 0xff);
  }

  writeRmw16(value: number): void {
    const phys = this.rmwPhys;
    if (this.rmwPhys2 < 0 && phys < FOUR_GIB && this.kind[phys >>> 12] === 0) {
      this.ram[phys] = value;
      this.ram[phys + 1] = value >> 8;
    } else this.rmwWrite(0, 2, value);
  }

  writeRmw32(value: number): void {
    const phys = this.rmwPhys;
    if (this.rmwPhys2 < 0 && phys < FOUR_GIB && this.kind[phys >>> 12] === 0) this.storeRam32(phys, value);
    else this.rmwWrite(0, 4, value);
  }

  /** Reads `size` bytes at byte `delta` of the operand `beginRmw` checked (MMIO, ROM, split operands). */
  rmwRead(delta: number, size: 1 | 2 | 4): number {
    const split = this.rmwSplit;
    if (this.rmwPhys2 < 0 || delta + size <= split || delta >= split) {
      const phys = this.rmwPhys2 < 0 || delta < split ? this.rmwPhys + delta : this.rmwPhys2 + delta - split;
      return phys < FOUR_GIB && this.kind[phys >>> 12] <= 1 ? this.ramValue(phys, size) : this.readSlow(phys, size) | 0;
    }
    let v = 0;
    for (let i = 0; i < size; i++) {
      const at = delta + i;
      const phys = at < split ? this.rmwPhys + at : this.rmwPhys2 + at - split;
      v |= (phys < FOUR_GIB && this.kind[phys >>> 12] <= 1 ? this.ram[phys] : this.readSlow(phys, 1)) << (8 * i);
    }
    return size === 4 ? v : v >>> 0;
  }

  /** Writes `size` bytes at byte `delta` of the operand `beginRmw` checked. */
  rmwWrite(delta: number, size: 1 | 2 | 4, value: number): void {
    const split = this.rmwSplit;
    if (this.rmwPhys2 < 0 || delta + size <= split || delta >= split) {
      const phys = this.rmwPhys2 < 0 || delta < split ? this.rmwPhys + delta : this.rmwPhys2 + delta - split;
      if (phys < FOUR_GIB && this.kind[phys >>> 12] === 0) {
        for (let i = 0; i < size; i++) this.ram[phys + i] = value >> (8 * i);
      } else this.writeSlow(phys, size, size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff));
      return;
    }
    for (let i = 0; i < size; i++) {
      const at = delta + i;
      const phys = at < split ? this.rmwPhys + at : this.rmwPhys2 + at - split;
      const byte = (value >> (8 * i)) & 0xff;
      if (phys < FOUR_GIB && this.kind[phys >>> 12] === 0) this.ram[phys] = byte;
      else this.writeSlow(phys, 1, byte);
    }
  }

  /** A little-endian value of `size` bytes from RAM at `phys`. */
  private ramValue(phys: number, size: number): number {
    const ram = this.ram;
    if (size === 1) return ram[phys];
    if (size === 2) return ram[phys] | (ram[phys + 1] << 8);
    return ram[phys] | (ram[phys + 1] << 8) | (ram[phys + 2] << 16) | (ram[phys + 3] << 24);
  }

  /** Linear to physical through the page tables; raises #PF (CR2 set) when the walk fails. */
  translate(lin: number, access: number): number {
    const tlb = this.tlb;
    if (tlb !== null && !this.tlbStale) {
      // The paging unit's TLB, looked up inline: a hit needs no call.
      const e = tlb[lin >>> 12];
      if ((e & this.tlbHitMask[access]) === 1) return ((e & ~0xfff) ^ lin) >>> 0;
    }
    const paging = this.paging;
    if (paging === null) throwFault(13, 0);
    const phys = paging.translate(lin >>> 0, access, this);
    this.tlbStale = false;
    return phys;
  }

  /**
   * Physical address of canonical 64-bit `linear` (a signed number) for `access`: the inline TLB
   * below 4 GiB, the paging unit's high cache inline above, a walk on a miss (#PF, #GP(0) without
   * 4-level paging).
   */
  translateCanonical(linear: number, access: number): number {
    if (linear >= 0 && linear < FOUR_GIB) return this.translate(linear | 0, access);
    const high = this.highTlb;
    if (high !== null && !this.tlbStale) {
      const page = Math.floor(linear / 4096);
      const slot = page & (high.tags.length - 1);
      if (high.tags[slot] === page && (high.flags[slot] & this.highHitMask[access]) === 1) return high.physical[slot] + linear - page * 4096;
    }
    const paging = this.paging;
    if (paging === null || paging.translateLong === undefined) throwFault(13, 0);
    const phys = paging.translateLong(linear, access, this);
    this.tlbStale = false;
    return phys;
  }

  /** The paging unit's cache above 4 GiB (when it offers one) and its hit masks by access bits (64-bit blocks read both inline). */
  readonly highTlb: InlineHighTlb | null;
  readonly highHitMask = new Int32Array(32);

  /** The paging unit's TLB (when it offers one) and, by access bits (W 2, U 4, fetch 16), the entry bits a hit needs clear. */
  readonly tlb: Int32Array | null;
  readonly tlbHitMask = new Int32Array(32);
  /** Set when the control registers changed: the TLB is only valid again after the unit re-synced. */
  private tlbStale = true;

  /** ROM, MMIO and unbacked physical addresses. Devices may raise interrupts: poll after. */
  readSlow(phys: number, size: 1 | 2 | 4): number {
    this.events |= EV_POLL_IRQ;
    if ((phys & 0xfff) + size > 0x1000) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.mem.read(phys + i, 1) << (8 * i);
      return v;
    }
    return this.mem.read(phys, size);
  }

  writeSlow(phys: number, size: 1 | 2 | 4, value: number): void {
    this.events |= EV_POLL_IRQ;
    this.mem.write(phys, size, value);
  }

  /** 4 (a user-mode page access) at CPL 3, else 0. */
  userAccess(): number {
    return this.cpl === 3 ? 4 : 0;
  }

  // ---- Segmented memory -------------------------------------------------------------------

  /**
   * The linear address of `seg:off` for a read of `size` bytes, after the limit check. Null
   * (unusable) segments, expand-down data and code segments (type bits 2 and 3) take the slow check.
   */
  linear(s: number, off: number, size: number): number {
    if ((off >>> 0) + size - 1 > this.segLimit[s] >>> 0 || (this.segAccess[s] & FAST_READ_MASK) !== 0) {
      this.checkReadSlow(s, off, size);
    }
    return (this.segBase[s] + off) | 0;
  }

  /**
   * In protected mode (not virtual-8086) an execute-only code segment cannot be read: a CS override
   * or a data register holding one raises #GP(0) (SDM Vol. 3A 5.4.1, "Execute-only code segment").
   */
  private checkReadSlow(s: number, off: number, size: number): void {
    if ((this.segAccess[s] & (UNUSABLE | 0x1a)) === 0x18 && (this.cr0 & CR0_PE) !== 0 && (this.flags & VM) === 0) {
      throwFault(13, 0);
    }
    this.checkLimitSlow(s, off, size);
  }

  /**
   * `linear` for a write: in protected mode (not virtual-8086) the segment must also be a writable
   * data segment (SDM Vol. 3A 5.4.1: #GP(0), #SS(0) for SS). Expand-up writable data segments pass
   * with the same two tests as a read.
   */
  linearWrite(s: number, off: number, size: number): number {
    if ((off >>> 0) + size - 1 > this.segLimit[s] >>> 0 || (this.segAccess[s] & FAST_WRITE_MASK) !== 2) {
      this.checkWriteSlow(s, off, size);
    }
    return (this.segBase[s] + off) | 0;
  }

  private checkWriteSlow(s: number, off: number, size: number): void {
    const access = this.segAccess[s];
    // Real and virtual-8086 mode check limits only, whatever the hidden access rights say.
    if ((access & UNUSABLE) === 0 && (access & 0xa) !== 2 && (this.cr0 & CR0_PE) !== 0 && (this.flags & VM) === 0) {
      throwFault(s === SS ? 12 : 13, 0);
    }
    this.checkLimitSlow(s, off, size);
  }

  /**
   * For compiled blocks' inline accesses, at block entry: 1 when linear addresses are physical
   * (paging off), 2 when the TLB can be read inline, 0 when every access must take the calls.
   */
  get inlineTranslation(): number {
    if (this.ram32 === null) return 0;
    if (!this.pagingOn) return 1;
    return this.tlb !== null && !this.tlbStale ? 2 : 0;
  }

  /** #SS for the stack segment, #GP(0) otherwise, unless the access is inside the segment after all. */
  private checkLimitSlow(s: number, off: number, size: number): void {
    const access = this.segAccess[s];
    const o = off >>> 0;
    const limit = this.segLimit[s] >>> 0;
    if ((access & UNUSABLE) === 0) {
      if ((access & 0x1c) === 0x14) {
        // Expand-down data segment: valid offsets lie above the limit, up to 0xffff or 0xffffffff.
        const top = access & 0x4000 ? 0xffffffff : 0xffff;
        if (o > limit && o + size - 1 <= top) return;
      } else if (o + size - 1 <= limit) return;
    }
    throwFault(s === SS ? 12 : 13, 0);
  }

  read8(s: number, off: number): number {
    return this.readLinear8(this.linear(s, off, 1));
  }

  read16(s: number, off: number): number {
    return this.readLinear16(this.linear(s, off, 2));
  }

  read32(s: number, off: number): number {
    return this.readLinear32(this.linear(s, off, 4));
  }

  write8(s: number, off: number, value: number): void {
    this.writeLinear8(this.linearWrite(s, off, 1), value);
  }

  write16(s: number, off: number, value: number): void {
    this.writeLinear16(this.linearWrite(s, off, 2), value);
  }

  write32(s: number, off: number, value: number): void {
    this.writeLinear32(this.linearWrite(s, off, 4), value);
  }

  // ---- Stack ------------------------------------------------------------------------------

  get stack32(): boolean {
    return (this.segAccess[SS] & 0x4000) !== 0;
  }

  push16(value: number): void {
    if (this.segAccess[SS] & 0x4000) {
      const sp = (this.reg32[4] - 2) | 0;
      this.write16(SS, sp, value);
      this.reg32[4] = sp;
    } else {
      const sp = (this.reg16[8] - 2) & 0xffff;
      this.write16(SS, sp, value);
      this.reg16[8] = sp;
    }
  }

  push32(value: number): void {
    if (this.segAccess[SS] & 0x4000) {
      const sp = (this.reg32[4] - 4) | 0;
      this.write32(SS, sp, value);
      this.reg32[4] = sp;
    } else {
      const sp = (this.reg16[8] - 4) & 0xffff;
      this.write32(SS, sp, value);
      this.reg16[8] = sp;
    }
  }

  pop16(): number {
    if (this.segAccess[SS] & 0x4000) {
      const v = this.read16(SS, this.reg32[4]);
      this.reg32[4] = (this.reg32[4] + 2) | 0;
      return v;
    }
    const v = this.read16(SS, this.reg16[8]);
    this.reg16[8] = this.reg16[8] + 2;
    return v;
  }

  pop32(): number {
    if (this.segAccess[SS] & 0x4000) {
      const v = this.read32(SS, this.reg32[4]);
      this.reg32[4] = (this.reg32[4] + 4) | 0;
      return v;
    }
    const v = this.read32(SS, this.reg16[8]);
    this.reg16[8] = this.reg16[8] + 4;
    return v;
  }

  /** Reads the stack at `delta` bytes above the top without popping. */
  peek16(delta: number): number {
    return this.read16(SS, this.stack32 ? (this.reg32[4] + delta) | 0 : (this.reg16[8] + delta) & 0xffff);
  }

  peek32(delta: number): number {
    return this.read32(SS, this.stack32 ? (this.reg32[4] + delta) | 0 : (this.reg16[8] + delta) & 0xffff);
  }

  // ---- Running ----------------------------------------------------------------------------

  /**
   * Executes up to `budget` instructions. Returns why it stopped; `stop` holds the detail. An
   * intercepted event stops before its instruction takes effect, with EIP still at it.
   */
  run(budget: number): StopReason {
    const stop = this.stop;
    stop.reset();
    this.checkOpcodes = this.intercepts.anyOpcode;
    this.events |= EV_POLL_IRQ;
    if (this.inShutdown) {
      stop.reason = 'shutdown';
      stop.detail = 'triple-fault';
      return stop.reason;
    }
    let done = 0;
    while (stop.reason === 'none') {
      if (this.events !== 0 && this.boundary(done)) break;
      if (this.halted) {
        stop.reason = 'hlt';
        break;
      }
      if (done >= budget) {
        // A trap armed by this boundary belongs to the instruction not yet run: the next run()'s
        // boundary arms it again instead of delivering it before that instruction.
        this.events &= ~EV_TRAP;
        stop.reason = 'budget';
        break;
      }
      try {
        done = this.mode64 ? runLong(this, budget, done) : this.loop(budget, done);
      } catch (e) {
        if (e === INTERCEPTED) {
          done = this.recordedRetire;
          // A memory-access stop (`stopAccess`) rewinds here: a compiled block sets startEip and
          // startEsp only as the stop unwinds through it.
          if (this.stop.length < 0) {
            this.rewind();
            this.stop.length = instructionLength(this);
          }
          break;
        }
        // A delivered fault counts against the budget, so a guest faulting forever still returns.
        done = this.recordedRetire + 1;
        if (e instanceof CpuFault) this.fault(e, true);
        // A task switch delivers faults after its commit point itself, so that delivery can escalate
        // to a triple fault from inside the instruction.
        else if (e instanceof TripleFault) this.shutdown('triple-fault');
        else this.internalError(e);
      }
    }
    this.retired += done;
    // Outside run() `retired` says it all: a VMM reading the TSC between runs must not count these twice.
    this.recordedRetire = 0;
    return stop.reason;
  }

  /** Instructions done so far in this `run()` (for RDTSC and for recovering from a fault). */
  recordedRetire = 0;

  /** The hot loop: runs instructions until the budget ends or an event needs the boundary work. */
  private loop(budget: number, done: number): number {
    const cached = this.decoded !== null && !this.checkOpcodes;
    if (cached && this.blockCache !== null) return this.loopBlocks(budget, done);
    while (done < budget) {
      this.recordedRetire = done;
      if (!cached || !this.stepDecoded()) step(this);
      done++;
      if (this.events !== 0) break;
    }
    return done;
  }

  /** `loop` with compiled blocks (a function of its own, so each loop is optimised for itself). */
  private loopBlocks(budget: number, done: number): number {
    const blocks = this.blockCache as BlockCache;
    while (done < budget) {
      this.recordedRetire = done;
      // The common case first, small enough to stay inline here: a compiled block at EIP.
      const e = this.eip;
      if (this.events === 0 && e >= this.fetchLo && e < this.fetchHi) {
        const phys = this.fetchDelta + e;
        const block = blocks.byAddress[blockSlot(phys, this.code32)];
        if (block !== null && block.phys === phys && block.gen === this.windowGen && block.code32 === this.code32 &&
          block.count <= budget - done && e + block.bytes <= this.fetchHi) {
          if (--block.runs === 0) this.compileInline(block, phys, e);
          done += block.fn(this, e, budget - done);
          if (this.events !== 0) break;
          continue;
        }
      }
      const n = this.stepCached(budget - done);
      if (n === 0) {
        step(this);
        done++;
      } else done += n;
      if (this.events !== 0) break;
    }
    return done;
  }

  /** Instruction-boundary work; true when `run()` must return. */
  private boundary(done: number): boolean {
    const stop = this.stop;
    let ev = this.events;
    if (ev & EV_MODE) this.events = ev &= ~EV_MODE;
    if (ev & EV_STOP) {
      this.events = ev & ~EV_STOP;
      return true;
    }
    // A load of SS holds the single-step trap of its instruction back to the end of the next one
    // (SDM Vol. 3A 6.8.3, Vol. 2 "MOV": debug exceptions are inhibited at that boundary too): one
    // #DB, after both.
    if (ev & EV_TRAP && !(ev & EV_SHADOW && this.shadowHoldsTrap && this.retired + done < this.shadowEnd)) {
      this.events = ev &= ~EV_TRAP;
      // Single-step trap: DR6.BS says why #DB was raised (SDM Vol. 3B 17.2.3). After a HLT it
      // ends the halt, as any delivered event does ("a debug exception ... will resume execution",
      // SDM Vol. 2 HLT): the handler runs with the return address after the HLT.
      this.dr[6] |= 0x4000;
      this.halted = false;
      // The trap is an exception like any other for the VMM's exception intercepts (the EIP is
      // after the instruction, as the handler would see it).
      if ((this.intercepts.exceptions & 2) !== 0) {
        stop.reason = 'exception';
        stop.vector = 1;
        stop.errorCode = -1;
        stop.address = 0;
        stop.length = 0;
        return true;
      }
      this.raiseEvent(1, 'exception', -1);
      if (stop.reason !== 'none') return true;
    }
    if (ev & EV_INJECT) {
      this.events = ev &= ~EV_INJECT;
      const vector = this.pendingVector;
      this.pendingVector = -1;
      this.halted = false;
      this.raiseEvent(vector, this.pendingKind, this.pendingErrorCode);
      if (stop.reason !== 'none') return true;
    }
    if (ev & EV_SHADOW) {
      // The shadow covers exactly the one instruction after STI / MOV SS, even across run() calls;
      // the instruction in it is single-stepped like any other.
      if (this.retired + done < this.shadowEnd) {
        if (this.flags & TF) this.events |= EV_TRAP;
        return false;
      }
      this.events = ev = (ev & ~EV_SHADOW) | EV_POLL_IRQ;
    }
    if (ev & EV_POLL_IRQ) {
      this.events = ev & ~EV_POLL_IRQ;
      if ((this.flags & IF) !== 0) {
        if (this.interruptWindowRequested) {
          stop.reason = 'irq-window';
          return true;
        }
        const pic = this.interrupts;
        if (pic !== null && pic.pending()) {
          if (this.intercepts.externalInterrupts) {
            stop.reason = 'interrupt';
            return true;
          }
          this.halted = false;
          this.raiseEvent(pic.acknowledge() & 0xff, 'external', -1);
          if (stop.reason !== 'none') return true;
        }
      }
    }
    if (this.flags & TF) this.events |= EV_TRAP;
    return false;
  }

  /** Instruction count at which the current interrupt shadow ends. */
  private shadowEnd = 0;
  /** The shadow is a load of SS's: it holds back the single-step trap as well. */
  private shadowHoldsTrap = false;

  /**
   * STI (setting IF) and loads of SS block interrupts until the next instruction has retired; a load
   * of SS (`ssLoad`) also delays its own single-step trap to then.
   */
  beginShadow(ssLoad = false): void {
    this.events |= EV_SHADOW;
    this.shadowEnd = this.retired + this.recordedRetire + 2;
    this.shadowHoldsTrap = ssLoad;
  }

  /**
   * Blocking of interrupts by the instruction just retired (VMX interruptibility state bits 1:0):
   * 0 none, 1 by STI, 2 by MOV SS / POP SS. Setting it starts a shadow over the next instruction.
   * Between `run()` calls only.
   */
  get interruptShadow(): number {
    if ((this.events & EV_SHADOW) === 0 || this.retired >= this.shadowEnd) return 0;
    return this.shadowHoldsTrap ? 2 : 1;
  }

  set interruptShadow(kind: number) {
    if (kind === 0) {
      this.events &= ~EV_SHADOW;
      return;
    }
    this.events |= EV_SHADOW;
    this.shadowEnd = this.retired + 1;
    this.shadowHoldsTrap = kind === 2;
  }

  /** True when an external interrupt could be delivered at this boundary. */
  get interruptible(): boolean {
    return (this.flags & IF) !== 0 && (this.events & EV_SHADOW) === 0;
  }

  /** Delivers an exception or interrupt through the IVT/IDT (system/ escalates to #DF and triple fault). */
  private raiseEvent(vector: number, kind: InterruptKind, errorCode: number): void {
    // An intercept stopping the delivery rewinds to here, not to the last instruction's start.
    this.startEip = this.eip;
    this.startEsp = this.reg32[4];
    this.startRipHi = this.ripHi;
    this.startRspHi = this.regHi[4];
    try {
      deliverInterrupt(this, vector, kind, errorCode < 0 ? 0 : errorCode);
      this.codeSizeChanged();
    } catch (e) {
      if (e === INTERCEPTED) this.interruptedDelivery(vector, kind, errorCode);
      else if (e instanceof TripleFault) this.shutdown('triple-fault');
      else if (e instanceof CpuFault) this.fault(e);
      else this.internalError(e);
    }
  }

  /** Back to the instruction's (or the event delivery's) start: RIP and RSP, all 64 bits in 64-bit mode. */
  private rewind(): void {
    this.eip = this.startEip;
    this.reg32[4] = this.startEsp;
    if (this.mode64) {
      this.ripHi = this.startRipHi;
      this.regHi[4] = this.startRspHi;
    }
  }

  /** Handles an exception raised by an instruction (`retired`: counted as retired) or a delivery: intercept it, or deliver it. */
  private fault(e: CpuFault, retired = false): void {
    this.rewind();
    // A faulting instruction did not complete, so it takes no single-step trap (SDM Vol. 3B
    // 17.3.1.4); if it runs again with TF set, the boundary before it arms the trap again.
    this.events &= ~EV_TRAP;
    let vector = e.vector;
    if (vector === 12 && this.traits.realModeStackFaultIsGp && (this.cr0 & CR0_PE) === 0) vector = 13;
    const stop = this.stop;
    if (vector < 32 && (this.intercepts.exceptions & (1 << vector)) !== 0) {
      stop.reason = 'exception';
      stop.vector = vector;
      stop.errorCode = e.hasErrorCode ? e.errorCode : -1;
      stop.address = vector === 14 ? this.cr2 : 0;
      stop.length = 0;
      stop.faultRetired = retired;
      return;
    }
    try {
      deliverException(this, vector, e.errorCode);
      this.codeSizeChanged();
    } catch (inner) {
      if (inner === INTERCEPTED) this.interruptedDelivery(vector, 'exception', e.hasErrorCode ? e.errorCode : -1);
      else if (inner instanceof TripleFault) this.shutdown('triple-fault');
      else this.internalError(inner);
    }
  }

  /** An intercept (an EPT exit) stopped the delivery of an event: `run()` returns (its reason is set) with it recorded. */
  private interruptedDelivery(vector: number, kind: InterruptKind, errorCode: number): void {
    const stop = this.stop;
    // The event is delivered again from where its delivery started.
    this.rewind();
    stop.length = 0;
    stop.deliveringVector = vector;
    stop.deliveringKind = kind;
    stop.deliveringErrorCode = errorCode;
  }

  /** Stops the machine (triple fault): `run()` returns 'shutdown'. */
  shutdown(cause: 'triple-fault'): void {
    this.stop.reason = 'shutdown';
    this.stop.detail = cause;
    this.inShutdown = true;
    this.events |= EV_STOP;
  }

  /** Set by a triple fault: the CPU stays shut down (every run() says so) until `reset()`. */
  inShutdown = false;

  private internalError(e: unknown): void {
    this.stop.reason = 'internal-error';
    this.stop.detail = e instanceof Error ? e.message : String(e);
    this.events |= EV_STOP;
  }

  /** Asks `run()` to return `reason` at the end of the current instruction. */
  requestStop(reason: StopReason): void {
    this.stop.reason = reason;
    this.events |= EV_STOP;
  }

  /**
   * Stops before the current instruction takes effect: EIP and ESP go back to its start, so the VMM
   * may resume (re-execute), emulate and `skipInstruction`, or inject an event.
   */
  interceptStop(reason: StopReason): never {
    this.rewind();
    this.holdStepTrap();
    this.stop.reason = reason;
    // In 64-bit mode an intercept fires once its instruction is fetched: its length is what was read.
    this.stop.length = this.mode64 ? longFetchedLength() : instructionLength(this);
    throw INTERCEPTED;
  }

  /**
   * Stops at a memory access the paging unit refuses for the VMM (an EPT exit): like
   * `interceptStop`, but the rewind to the instruction happens once the stop has unwound out of
   * whatever ran the instruction (a compiled block records where it was only then).
   */
  stopAccess(reason: StopReason): never {
    this.holdStepTrap();
    this.stop.reason = reason;
    this.stop.length = -1;
    throw INTERCEPTED;
  }

  /** Advances EIP past an instruction the VMM emulated (which takes its single-step trap, if armed). */
  skipInstruction(length: number): void {
    this.eip = ((this.eip + length) & this.ipMask) >>> 0;
    this.halted = false;
    if (this.stepTrapHeld) this.events |= EV_TRAP;
    this.stepTrapHeld = false;
  }

  /** The stopped instruction's single-step trap, held until the VMM completes it (`skipInstruction`). */
  private stepTrapHeld = false;

  /**
   * An instruction stopped for the VMM did not complete: its single-step trap must not fire before
   * it runs again (the boundary before it arms the trap again) or in whatever the VMM runs next.
   */
  private holdStepTrap(): void {
    this.stepTrapHeld = (this.events & EV_TRAP) !== 0;
    this.events &= ~EV_TRAP;
  }

  /** Queues an exception for delivery before the next instruction (errorCode -1: none). */
  injectException(vector: number, errorCode = -1): void {
    this.pendingVector = vector & 0xff;
    this.pendingKind = 'exception';
    this.pendingErrorCode = errorCode;
    this.events |= EV_INJECT;
  }

  /**
   * Queues any kind of event for delivery before the next instruction (VMX event injection): a
   * software interrupt or exception is delivered as its instruction would, returning to EIP.
   */
  injectEvent(vector: number, kind: InterruptKind, errorCode = -1): void {
    this.pendingVector = vector & 0xff;
    this.pendingKind = kind;
    this.pendingErrorCode = errorCode;
    this.events |= EV_INJECT;
  }

  /** Queues an external interrupt for delivery before the next instruction. */
  injectInterrupt(vector: number): void {
    this.pendingVector = vector & 0xff;
    this.pendingKind = 'external';
    this.pendingErrorCode = -1;
    this.events |= EV_INJECT;
  }

  /**
   * Where the TSC comes from when it follows a host clock (ticks, monotonic); null: it counts
   * retired instructions.
   */
  tscSource: (() => number) | null = null;

  /**
   * Time-stamp counter: instructions retired (or `tscSource`'s ticks) plus the offset
   * WRMSR(IA32_TIME_STAMP_COUNTER) set. `delta`: instructions retired since `recordedRetire`
   * (a compiled block's progress), which only an instruction-counting TSC adds.
   */
  readTsc(delta = 0): number {
    const source = this.tscSource;
    if (source !== null) return source() + this.tscOffset;
    const uncounted = this.uncounted;
    return this.retired + this.recordedRetire + delta + this.tscOffset - (uncounted === null ? 0 : uncounted());
  }

  /**
   * Instructions retired in the current run that an instruction-counting TSC must not count: a
   * VMM's own code run in the guest's context (vmm-full's in-TC lookups), which the VMM takes off
   * the count only when the run ends.
   */
  uncounted: (() => number) | null = null;
}

