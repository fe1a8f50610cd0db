// One vCPU of strategy `full`. Two x86-core CPUs play two roles: `hw` is the plain i686 the VMM
// runs on ("the hardware": every exception vector and external interrupts intercepted, CR0.PG on
// shadow tables, the VMM's GDT/TSS, guest kernel code only from the translation cache at CPL 1,
// guest user code directly at CPL 3, real mode in virtual-8086 mode); `virt` holds the virtual CPU
// state (CPL 0 for the guest kernel, the guest's own GDT/IDT/CR0-4/EFLAGS) and is the VMM's
// instruction emulator: call-outs and trapped instructions run on it, one at a time, against guest
// memory, and it delivers exceptions and interrupts through the guest's IDT with the frame bare
// hardware pushes.
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, CR0_PG, KIND_RAM_CODE, KIND_ROM, PAGE_SHIFT, Paging, PhysicalMemory,
  SHADOW_HIDDEN, SHADOW_MMIO, SHADOW_OVERLAY, SHADOW_TRACED, SHADOW_TRUE, SHADOW_UNSUPPORTED, SHADOW_VMM_AREA, ShadowPaging, TLB_GLOBAL,
} from '@ringvisor/mmu';
import type {
  ExitStats, Registers, SegmentState, SpecialRegisters, Vcpu, VcpuState, VmExit, VmSpec,
} from '@ringvisor/vmm-api';
import {
  CS, Cpu, CpuFault, DS, ES, FS, GS, IA32_SYSENTER_CS, IA32_SYSENTER_EIP, IA32_SYSENTER_ESP, IA32_TIME_STAMP_COUNTER, LDTR,
  MMU_PAGING_FEATURES, MmuPaging, SS, TR, cpuFpuImage, cpuRegisters, setCpuFpuImage, type PagingUnit,
} from '@ringvisor/x86-core';
import { BranchTable, ST_DONE, ST_PUSHED, ST_REGS } from './branch-lookup.js';
import { MAPPING_GLOBAL } from './code-mappings.js';
import { DescriptorShadow } from './descriptor-shadows.js';
import { FullCounters } from './full-stats.js';
import {
  AREA_FRAMES, DATA_OFFSET, DATA_SIZE, GDT_OFFSET, GDT_PAGES, LDT_OFFSET, LDT_PAGES, SLOT_ECX, SLOT_EDX, SLOT_JUMP, TC_CS, TC_GS,
  TC_OFFSET, TC_SIZE, TSS_OFFSET, VMM_LINEAR,
} from './layout.js';
import { VirtualCpuMemory } from './memory-views.js';
import { UNUSABLE, truncate, truncated } from './segments.js';
import { DEBUG_REGISTERS, checkState } from './state-check.js';
import {
  CALLOUT_NAMES, C_INVLPG, C_IO, C_MOV_CR3, F_CALL, F_IN, F_JMP, F_MOV_FROM_SEG, F_MOV_TO_SEG, F_OUT, F_POP_SEG, F_PUSH_SEG, F_RET, F_CLI, F_STI, F_PUSHF, F_POPF,
  K_CALLOUT, K_CALLOUT_END, K_EXIT, K_IDENT, K_LOOKUP, K_STALE, TranslationCache, type CodeSource, type FastOp,
} from './translation-cache.js';

const IF = 0x200;
const TF = 0x100;
const RF = 0x10000;
const VIF = 0x80000;
const VIP = 0x100000;
const IOPL = 0x3000;
const VM = 0x20000;
const CR0_PE = 1;
/** CR0 bits the guest owns on the hardware too (x87 behaviour and SMSW): MP, EM, TS, ET, NE. */
const CR0_GUEST_BITS = 0x3e;
const CR0_HOST = (CR0_PE | 0x10000 | CR0_PG) >>> 0;
const CR4_TSD = 4;
const CR4_PSE = 0x10;
const CR4_PAE = 0x20;
const CR4_PGE = 0x80;
const EFER_LMA = 0x400;
const EFER_LME = 0x100;
const TC_LINEAR = (VMM_LINEAR + TC_OFFSET) | 0;
/** Code segment of the TC: base 0, 4 GiB, 32-bit, DPL 1, execute/read. */
const TC_CS_ACCESS = 0xc0bb;
/** GS while the TC runs: the VMM's data (layout.ts DATA_OFFSET), DPL 1, read/write. */
const TC_GS_ACCESS = 0xc0b3;
/** Port accesses end a run after this many instructions so devices see fresh time (as `none` does). */
const IO_SYNC_INSTRUCTIONS = 100;
/** A site trapping this often (traced page-table stores) is retranslated as a call-out. */
const ADAPTIVE_TRAPS = 64;
const NS_PER_TSC_TICK = 10;

const enum Regime { Kernel, User, V86, Emulate }

/** Exit objects are reused (VmExit allows it). */
const BUDGET_EXIT = { reason: 'budget' as const };

export interface FullVcpuParts {
  readonly host: PhysicalMemory;
  readonly guestRamEnd: number;
  /** Host-physical base of the VMM area's frames (1024 contiguous frames). */
  readonly areaPhys: number;
  readonly areaTable: number;
  allocFrame(): number;
  freeFrame(frame: number): void;
  /** MMIO accesses counted since the last call. */
  takeMmioCount(): number;
  readonly spec: VmSpec;
}

export class FullVcpu implements Vcpu {
  readonly hw: Cpu;
  readonly virt: Cpu;
  readonly shadow: ShadowPaging;
  readonly tc: TranslationCache;
  /** Guest EIP → TC entry for the TC's indirect-branch lookups (branch-lookup.ts). */
  private readonly branches: BranchTable;
  readonly counters = new FullCounters();
  private readonly hostPaging: Paging;
  private readonly gdtShadow: DescriptorShadow;
  /** Host-physical address of the shadow GDT's frames (overlaid at the guest's GDT while ring 3 runs). */
  private readonly gdtPhys: number;
  private readonly ldtShadow: DescriptorShadow;
  private readonly host: PhysicalMemory;
  private readonly spec: VmSpec;
  private readonly guestRamEnd: number;
  /** True while `hw` holds the current guest state (registers, EIP, flags); else `virt` does. */
  private hwLive = false;
  private regime = Regime.Emulate;
  /** Selectors loaded into the hardware for ring 3, to notice the guest loading others. */
  private readonly loadedSel = new Int32Array(6);
  /** The virtual CPU's controls as last given to the shadow pager. */
  private cr0 = -1;
  private cr3 = -1;
  private cr4 = -1;
  private efer = -1;
  /**
   * An interrupt shadow the hardware has yet to take over (vmm-api's interruptShadow): 1 after an
   * emulated STI, 2 after an emulated MOV SS / POP SS (which holds back a single-step trap too).
   */
  private shadowPending = 0;
  /** Guest code changed while the hardware ran: apply the invalidations at the next stop. */
  private readonly dirtyPages: number[] = [];
  private inHwRun = false;
  private refused: string | null = null;
  private interruptWindowRequested = false;
  private readonly hltExit = { reason: 'hlt' as const, interruptsEnabled: false };
  private readonly shutdownExit = { reason: 'shutdown' as const, cause: 'triple-fault' as const };
  private readonly irqWindowExit = { reason: 'irq-window' as const };
  private readonly code: CodeSource;
  /** `retired` when the current run() began. */
  private runStart = 0;
  private readonly takeMmioCount: () => number;
  private readonly areaPhys: number;
  private readonly areaTable: number;

  constructor(readonly index: number, parts: FullVcpuParts) {
    const { host, spec, guestRamEnd } = parts;
    this.host = host;
    this.spec = spec;
    this.guestRamEnd = guestRamEnd;
    this.takeMmioCount = parts.takeMmioCount;
    this.areaPhys = parts.areaPhys;
    this.areaTable = parts.areaTable;
    this.branches = new BranchTable(host.ram.subarray(parts.areaPhys + DATA_OFFSET, parts.areaPhys + DATA_OFFSET + DATA_SIZE));
    this.writeVmmFrames();
    this.hostPaging = new Paging(host, { maxPhysAddrBits: 36 });
    this.shadow = new ShadowPaging({
      host, guestRamEnd, allocFrame: parts.allocFrame, freeFrame: parts.freeFrame, hostTlb: this.hostPaging,
    });
    this.shadow.reserveVmmArea(VMM_LINEAR, [parts.areaTable | 3]);
    this.hw = new Cpu({ memory: host, io: spec.io, interrupts: spec.interrupts, paging: new MmuPaging(this.hostPaging) });
    this.hw.pagingFeatures = MMU_PAGING_FEATURES;
    const hw = this.hw;
    hw.intercepts.exceptions = 0xffffffff;
    hw.intercepts.externalInterrupts = true;
    // Guest RDTSC in the TC runs natively: the lookups' instructions of the current run are not the guest's.
    hw.uncounted = () => this.branches.pendingExtra();

    const virtPaging = new MmuPaging(new Paging(host, { maxPhysAddrBits: 36, tables: this.shadow.tables }));
    // Without the inline TLB, the virtual CPU checks its own page kinds on every access: stores
    // then always reach VirtualCpuMemory.write and the pager.
    const unit: PagingUnit = {
      translate: (linear, access, cpu) => virtPaging.translate(linear, access, cpu),
      flush: () => virtPaging.flush(),
      invalidate: (linear) => virtPaging.invalidate(linear),
    };
    this.virt = new Cpu({
      memory: new VirtualCpuMemory(host, this.shadow, guestRamEnd), io: spec.io, paging: unit,
      decodeCache: false, compileBlocks: false,
    });
    this.virt.pagingFeatures = MMU_PAGING_FEATURES;
    const clock = spec.clock;
    if (clock?.kind === 'host') {
      const source = () => Math.floor(clock.now() / NS_PER_TSC_TICK);
      hw.tscSource = source;
      this.virt.tscSource = source;
    }

    const ram = host.ram;
    this.tc = new TranslationCache(ram.subarray(parts.areaPhys + TC_OFFSET, parts.areaPhys + TC_OFFSET + TC_SIZE),
      (offset, length) => host.notifyWrite(parts.areaPhys + TC_OFFSET + offset, length), () => this.branches.clear());
    this.gdtPhys = parts.areaPhys + GDT_OFFSET;
    this.gdtShadow = new DescriptorShadow(host, this.shadow, this.gdtPhys, guestRamEnd, 0, GDT_PAGES);
    this.ldtShadow = new DescriptorShadow(host, this.shadow, parts.areaPhys + LDT_OFFSET, guestRamEnd, 0, LDT_PAGES);

    const shadow = this.shadow;
    const fetchPage = { linear: -1, gpa: -1 };
    this.code = {
      fetch: (linear) => {
        const page = linear >>> 12;
        if (fetchPage.linear !== page) {
          fetchPage.linear = page;
          const gpa = shadow.translateGuest(linear, ACCESS_FETCH, false);
          fetchPage.gpa = gpa < 0 || !this.fetchable(gpa) ? -1 : gpa - (linear & 0xfff);
        }
        return fetchPage.gpa < 0 ? -1 : host.read8(fetchPage.gpa + (linear & 0xfff));
      },
      page: (linear) => {
        const gpa = shadow.translateGuest(linear, ACCESS_FETCH, false);
        fetchPage.linear = -1;
        if (gpa >= 0 && gpa < guestRamEnd) host.markCode(gpa >>> PAGE_SHIFT);
        return gpa < 0 ? -1 : gpa >>> PAGE_SHIFT;
      },
      mapping: (linear) => {
        const gpa = shadow.peekFetch(linear);
        if (gpa < 0 || !this.fetchable(gpa)) return -1;
        return (gpa >>> PAGE_SHIFT) | ((shadow.peekFlags & TLB_GLOBAL) !== 0 ? MAPPING_GLOBAL : 0);
      },
    };
    // Guest stores into translated code (any writer: the CPU, the emulator, DMA).
    const previous = host.onCodeWrite;
    host.onCodeWrite = (page: number) => {
      previous?.(page);
      if (page * 4096 >= guestRamEnd || !this.tc.hasPage(page)) return;
      this.dirtyPages.push(page);
      if (this.inHwRun) this.hw.requestStop('budget');
      else this.applyInvalidations();
    };
    host.onLayoutChange(() => {
      hw.addressMask = host.addressMask;
      this.virt.addressMask = host.addressMask;
      hw.flushFetch();
    });
    hw.addressMask = this.virt.addressMask = host.addressMask;
  }

  /** The VMM area's page table and the VMM's TSS, as this VMM wants them. */
  private writeVmmFrames(): void {
    const host = this.host;
    for (let i = 0; i < AREA_FRAMES; i++) host.write32(this.areaTable + 4 * i, (this.areaPhys + i * 4096) | 3);
    // The VMM's TSS: no I/O bitmap (its base lies past the limit), so every port access above IOPL faults.
    host.ram.fill(0, this.areaPhys + TSS_OFFSET, this.areaPhys + TSS_OFFSET + 4096);
    host.write32(this.areaPhys + TSS_OFFSET + 0x64, 0x68 << 16);
    this.branches.reset();
  }

  private fetchable(gpa: number): boolean {
    if (gpa >= 0x1_0000_0000) return false;
    const kind = this.host.kind[gpa >>> PAGE_SHIFT];
    return (kind <= KIND_RAM_CODE && gpa < this.guestRamEnd) || kind === KIND_ROM;
  }

  /**
   * Instructions the guest retired: the hardware's and the emulator's, less the hardware's count for
   * the exceptions only the VMM saw (call-outs, hidden faults, trapped instructions the emulator then
   * ran), which the CPU counts as it counts a faulting instruction. The TSC follows the same count,
   * so the guest's time advances exactly as on the bare CPU.
   */
  get retired(): number {
    const counted = this.hw.retired + this.virt.retired - this.vmmExceptions;
    // Stopped inside a lookup: its own instructions so far are not the guest's (leaveLookup).
    if (this.hwLive && this.regime === Regime.Kernel && this.lookupPending()) return counted - this.tc.extraAt[(this.hw.eip - TC_LINEAR) | 0];
    return counted;
  }

  private vmmExceptions = 0;

  /** The exception just intercepted was the VMM's business: it retired nothing of the guest's. */
  private vmmOwned(): void {
    this.notGuest(1);
  }

  /** `n` instructions the CPU counted were the VMM's (a negative `n`: the VMM counted ahead). */
  private notGuest(n: number): void {
    this.vmmExceptions += n;
    if (this.hw.tscSource === null) this.hw.tscOffset -= n;
  }

  get interruptible(): boolean {
    return this.hwLive ? this.hw.interruptible : this.virt.interruptible && this.shadowPending === 0;
  }

  // ---- The run loop ---------------------------------------------------------------------------

  run(budget: number): VmExit {
    if (this.refused !== null) return { reason: 'internal-error', detail: this.refused };
    // Both CPUs raise exceptions as thrown Errors: under this VMM they are the common path
    // (call-outs, hidden faults, trapped instructions), so no stack trace is captured meanwhile.
    const traces = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return this.runGuest(budget);
    } finally {
      Error.stackTraceLimit = traces;
    }
  }

  private runGuest(budget: number): VmExit {
    const start = this.retired;
    this.runStart = start;
    const pic = this.spec.interrupts;
    let exit: VmExit | null = null;
    for (;;) {
      const done = this.retired - start;
      if (done >= budget) break;
      if (!this.hwLive) {
        const virt = this.virt;
        if (this.interruptWindowRequested && this.virtualInterruptible()) {
          exit = this.irqWindowExit;
          break;
        }
        if (this.virtualInterruptible() && pic.pending()) this.deliverExternal(pic.acknowledge() & 0xff);
        if (virt.inShutdown) {
          exit = this.shutdownExit;
          break;
        }
        if (virt.halted) {
          this.hltExit.interruptsEnabled = (virt.getEflags() & IF) !== 0;
          exit = this.hltExit;
          break;
        }
        const regime = this.decide();
        if (this.refused !== null) {
          exit = { reason: 'internal-error', detail: this.refused };
          break;
        }
        if (regime === Regime.Emulate) {
          this.counters.interpreted++;
          const failed = this.emulate();
          if (failed !== null) {
            exit = failed;
            break;
          }
          continue;
        }
        this.load(regime, -1);
      }
      this.inHwRun = true;
      const reason = this.hw.run(budget - done);
      this.inHwRun = false;
      const extra = this.branches.takeExtra();
      if (extra !== 0) {
        this.notGuest(extra);
        this.counters.lookupInstructions += extra;
      }
      if (this.dirtyPages.length > 0) {
        this.toVirtual();
        this.applyInvalidations();
      }
      // 'none': a stop requested for a code write, left pending by an instruction that was intercepted.
      if (reason === 'budget' || reason === 'none') continue;
      if (reason === 'interrupt') {
        this.toVirtual();
        if (pic.pending()) this.deliverExternal(pic.acknowledge() & 0xff);
        continue;
      }
      if (reason === 'exception') {
        const failed = this.onException();
        if (failed !== null) {
          exit = failed;
          break;
        }
        if (this.pendingBudget) {
          this.pendingBudget = false;
          break;
        }
        continue;
      }
      this.toVirtual();
      exit = { reason: 'internal-error', detail: `strategy full: unexpected stop of the CPU: ${reason} ${this.hw.stop.detail}` };
      break;
    }
    this.flushStats(this.spec.stats);
    if (exit === null) return BUDGET_EXIT;
    this.spec.stats.count(exit.reason);
    return exit;
  }

  private virtualInterruptible(): boolean {
    return (this.virt.getEflags() & IF) !== 0 && this.shadowPending === 0 && this.virt.interruptible;
  }

  /** How the hardware can run the virtual state. */
  private decide(): Regime {
    const virt = this.virt;
    if ((virt.efer & (EFER_LMA | EFER_LME)) !== 0 && (virt.cr0 & CR0_PG) !== 0) {
      this.refused = 'strategy full: 64-bit guests are refused: long mode ignores segment limits, which protect the VMM here';
      return Regime.Emulate;
    }
    if ((virt.cr0 & CR0_PE) === 0) {
      for (let s = 0; s < 6; s++) {
        if (virt.segBase[s] !== virt.seg[s] << 4 || virt.segLimit[s] !== 0xffff) return Regime.Emulate;
      }
      return Regime.V86;
    }
    if ((virt.getEflags() & VM) !== 0) return Regime.Emulate;
    // Ring 3 runs on the hardware with GDTR on the guest's GDT, whose pages then show the shadow:
    // never pages of the VMM area (a GDT there, or wrapping past 4 GiB into it, is interpreted).
    if (virt.cpl === 3) return (virt.gdtrBase >>> 0) + virt.gdtrLimit < VMM_LINEAR ? Regime.User : Regime.Emulate;
    // Single-stepped kernel code is interpreted: the CPU would trap after the TC's own instructions
    // (a CALL's push, links, call-outs' surroundings), and the guest must see one trap per its own.
    if (virt.cpl === 0 && virt.code32 && (virt.getEflags() & TF) === 0) return Regime.Kernel;
    return Regime.Emulate;
  }

  // ---- World switch -----------------------------------------------------------------------------

  /** Loads the virtual state into the hardware for `regime`; `resumeAt` >= 0: a TC offset to continue at. */
  private load(regime: Regime, resumeAt: number): void {
    const hw = this.hw;
    const virt = this.virt;
    this.counters.worldSwitches++;
    this.regime = regime;
    hw.reg32.set(virt.reg32);
    let modeChange = false;
    const cr0 = (CR0_HOST | (virt.cr0 & CR0_GUEST_BITS)) | 0;
    const cr4 = this.shadow.hostCr4 | (virt.cr4 & CR4_TSD);
    const cr3 = this.shadow.root | 0;
    if (hw.cr0 !== cr0 || hw.cr4 !== cr4 || hw.cr3 !== cr3) {
      hw.cr0 = cr0;
      hw.cr4 = cr4;
      hw.cr3 = cr3;
      modeChange = true;
    }
    // The shadow GDT at the VMM's address (ring 1, v86); ring 3 gets the guest's GDTR below.
    hw.gdtrBase = VMM_LINEAR + GDT_OFFSET + this.gdtShadow.offset;
    hw.gdtrLimit = 0xffff;
    // The guest's IDT: the hardware never delivers through it at ring 1 (every vector is
    // intercepted); at ring 3 an INT n reads its gates, whose kernel targets are not present in
    // the shadow GDT, so the INT traps and is emulated. One inside the VMM area is not read.
    const idtEnd = virt.idtrBase + virt.idtrLimit;
    hw.idtrBase = virt.idtrBase;
    hw.idtrLimit = (virt.idtrBase >>> 0) >= VMM_LINEAR || idtEnd >= VMM_LINEAR ? 0 : virt.idtrLimit;
    hw.seg[TR] = virt.seg[TR];
    hw.segBase[TR] = VMM_LINEAR + TSS_OFFSET;
    hw.segLimit[TR] = 0x67;
    hw.segAccess[TR] = 0x8b;
    hw.seg[LDTR] = virt.seg[LDTR];
    hw.segBase[LDTR] = VMM_LINEAR + LDT_OFFSET;
    hw.segLimit[LDTR] = Math.min(virt.segLimit[LDTR] >>> 0, 0xffff);
    hw.segAccess[LDTR] = virt.segAccess[LDTR];
    const flags = virt.getEflags();
    if (regime === Regime.Kernel) {
      hw.cpl = 1;
      for (const s of DATA_SEGMENTS) this.loadTruncated(s);
      hw.seg[CS] = TC_CS;
      hw.segBase[CS] = 0;
      hw.segLimit[CS] = -1;
      hw.segAccess[CS] = TC_CS_ACCESS;
      hw.seg[GS] = TC_GS;
      hw.segBase[GS] = VMM_LINEAR + DATA_OFFSET;
      hw.segLimit[GS] = DATA_SIZE - 1;
      hw.segAccess[GS] = TC_GS_ACCESS;
      // Entries stand for targets under CS base 0 and a 4 GiB limit, popped from a 32-bit stack.
      if (!this.lookupsValid()) this.branches.clear();
      this.setHwFlags(flags & ~(IOPL | VM));
      const entry = resumeAt >= 0 ? resumeAt : this.tc.entryFor((virt.segBase[CS] + virt.eip) | 0, virt.segBase[CS], virt.segLimit[CS], this.code);
      hw.eip = (TC_LINEAR + entry) >>> 0;
    } else if (regime === Regime.User) {
      hw.cpl = 3;
      this.gdtShadow.sync(virt.gdtrBase, virt.gdtrLimit, virt.gdtrBase & 0xfff);
      // SGDT is unprivileged: ring 3 must see the guest's GDTR, so the CPU's descriptor reads at the
      // guest's GDT address go to the shadow's frames (supervisor-only; ring 3's own reads and
      // writes there fault and are emulated on the guest's memory, whose next sync follows them).
      if (this.shadow.setOverlay(virt.gdtrBase, virt.gdtrLimit + 1, this.gdtPhys)) {
        hw.gdtrBase = virt.gdtrBase;
        hw.gdtrLimit = virt.gdtrLimit;
      } else {
        hw.gdtrBase = VMM_LINEAR + GDT_OFFSET + this.gdtShadow.offset;
      }
      if ((virt.segAccess[LDTR] & 0x80) !== 0 && (virt.seg[LDTR] & 0xfffc) !== 0) this.ldtShadow.sync(virt.segBase[LDTR], virt.segLimit[LDTR]);
      // Untruncated: ring 3's accesses are user accesses, which the supervisor-only VMM area refuses.
      for (let s = 0; s < 6; s++) {
        hw.seg[s] = this.loadedSel[s] = virt.seg[s];
        hw.segBase[s] = virt.segBase[s];
        hw.segLimit[s] = virt.segLimit[s];
        hw.segAccess[s] = virt.segAccess[s];
      }
      this.setHwFlags(flags & ~VM);
      hw.eip = virt.eip;
    } else {
      hw.cpl = 3;
      for (let s = 0; s < 6; s++) {
        hw.seg[s] = virt.seg[s];
        hw.segBase[s] = virt.seg[s] << 4;
        hw.segLimit[s] = 0xffff;
        hw.segAccess[s] = s === CS ? 0xfb : 0xf3;
      }
      this.setHwFlags((flags & ~IOPL) | VM);
      hw.eip = virt.eip;
    }
    if (modeChange) hw.modeChanged();
    else hw.codeSizeChanged();
    if (this.shadowPending !== 0) {
      hw.recordedRetire = -1;
      hw.beginShadow(this.shadowPending === 2);
      hw.recordedRetire = 0;
      this.shadowPending = 0;
    }
    this.hwLive = true;
  }

  private setHwFlags(flags: number): void {
    this.hw.setEflags(flags);
  }

  private loadTruncated(s: number): void {
    const hw = this.hw;
    const virt = this.virt;
    hw.seg[s] = virt.seg[s];
    hw.segBase[s] = virt.segBase[s];
    truncate(virt.segBase[s], virt.segLimit[s], virt.segAccess[s]);
    hw.segLimit[s] = truncated.limit;
    hw.segAccess[s] = truncated.access;
  }

  /** Takes the guest state back from the hardware into the virtual CPU. */
  private toVirtual(): void {
    if (!this.hwLive) return;
    const hw = this.hw;
    const virt = this.virt;
    this.hwLive = false;
    if (this.regime === Regime.Kernel && this.lookupPending()) this.leaveLookup((hw.eip - TC_LINEAR) | 0);
    virt.reg32.set(hw.reg32);
    const hwFlags = hw.getEflags();
    const vflags = virt.getEflags();
    if (this.regime === Regime.Kernel) {
      virt.eip = this.tc.guestAt[(hw.eip - TC_LINEAR) | 0] >>> 0;
      virt.setEflags((hwFlags & ~(IOPL | VM)) | (vflags & IOPL));
    } else if (this.regime === Regime.User) {
      virt.eip = hw.eip;
      virt.setEflags(hwFlags);
      this.gdtShadow.writeBackAccessed();
      // The guest kernel (and the emulator's walks) see the guest's own memory at its GDT again.
      this.shadow.clearOverlay();
      for (let s = 0; s < 6; s++) {
        if (hw.seg[s] !== this.loadedSel[s] || (hw.segAccess[s] & 0x10000) !== 0) this.reloadVirtualSegment(s, hw.seg[s]);
      }
    } else {
      virt.eip = hw.eip;
      virt.setEflags((hwFlags & ~(IOPL | VM)) | (vflags & IOPL));
      for (let s = 0; s < 6; s++) {
        if (hw.seg[s] !== virt.seg[s]) virt.loadRealSegment(s, hw.seg[s]);
      }
    }
    virt.codeSizeChanged();
  }

  /**
   * The CPU stopped inside an indirect branch's lookup (or at its miss call-out): the lookup's own
   * instructions leave the count, and the guest state is put back to before the branch, or after
   * it at the final jump (branch-lookup.ts stages).
   */
  private leaveLookup(off: number): void {
    const hw = this.hw;
    const tc = this.tc;
    this.notGuest(tc.extraAt[off]);
    if (tc.kindAt[off] !== K_LOOKUP) return;
    const stage = tc.classAt[off];
    if (stage === ST_DONE) {
      hw.eip = this.branches.slot(SLOT_JUMP) >>> 0;
      return;
    }
    const r = hw.reg32;
    if (stage >= ST_REGS) {
      r[1] = this.branches.slot(SLOT_ECX);
      r[2] = this.branches.slot(SLOT_EDX);
    }
    if (stage === ST_PUSHED) r[4] = (r[4] + 4) | 0;
  }

  /** Lookups may use the branch table: the virtual CS has base 0 and a 4 GiB limit, the stack is 32-bit. */
  private lookupsValid(): boolean {
    const virt = this.virt;
    return virt.segBase[CS] === 0 && virt.segLimit[CS] === -1 && this.hw.stack32;
  }

  /**
   * Ring-3 code loaded a segment on the hardware (from the shadow, which only admits what bare
   * hardware admits at ring 3): the virtual CPU takes the guest's own descriptor for it.
   */
  private reloadVirtualSegment(s: number, selector: number): void {
    const virt = this.virt;
    virt.seg[s] = selector;
    if ((selector & 0xfffc) === 0) {
      virt.segBase[s] = 0;
      virt.segLimit[s] = 0;
      virt.segAccess[s] = 0x10000;
      return;
    }
    const ldt = (selector & 4) !== 0;
    const base = ldt ? virt.segBase[LDTR] : virt.gdtrBase;
    const linear = (base + (selector & 0xfff8)) | 0;
    const lo = this.readGuestLinear(linear);
    const hi = this.readGuestLinear(linear + 4);
    virt.segBase[s] = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
    const raw = (lo & 0xffff) | (hi & 0xf0000);
    virt.segLimit[s] = hi & 0x800000 ? (raw << 12) | 0xfff : raw;
    virt.segAccess[s] = ((hi >>> 8) & 0xf0ff) | 1;
  }

  private readGuestLinear(linear: number): number {
    const gpa = this.shadow.translateGuest(linear, ACCESS_READ, false);
    if (gpa < 0 || gpa + 4 > this.guestRamEnd) return 0;
    return this.host.read32(gpa);
  }

  // ---- Events -----------------------------------------------------------------------------------

  private onException(): VmExit | null {
    const hw = this.hw;
    const stop = hw.stop;
    const vector = stop.vector;
    if (this.regime === Regime.Kernel) {
      const off = (hw.eip - TC_LINEAR) | 0;
      const kind = off >= 0 && off < TC_SIZE ? this.tc.kindAt[off] : 0;
      if (vector === 6 && (kind === K_CALLOUT || kind === K_CALLOUT_END)) {
        // A call-out completed here retires as the guest's instruction: the CPU's count for the
        // call-out's fault stands for it.
        if (this.fastCallout(off)) return null;
        this.vmmOwned();
        return this.callout(off);
      }
      if (vector === 6 && (kind === K_EXIT || kind === K_STALE)) {
        this.vmmOwned();
        const virt = this.virt;
        const target = this.tc.guestAt[off];
        const field = this.tc.auxAt[off];
        const generation = this.tc.generation;
        const entry = this.tc.entryFor((virt.segBase[CS] + target) | 0, virt.segBase[CS], virt.segLimit[CS], this.code);
        if (kind === K_EXIT && field >= 0 && this.tc.generation === generation) {
          this.tc.patch(field, entry);
          this.counters.chainsPatched++;
        } else if (kind === K_STALE) {
          // Reached by a chain or a lookup: the table's entry for the target moves to the new fragment.
          this.counters.staleEntries++;
          if (this.lookupsValid()) this.branches.remember(target, TC_LINEAR + entry);
        }
        hw.eip = (TC_LINEAR + entry) >>> 0;
        return null;
      }
      if (kind === 0) {
        this.toVirtual();
        return { reason: 'internal-error', detail: `strategy full: exception ${vector} outside translated code at 0x${hw.eip.toString(16)}` };
      }
    }
    if (vector === 14) {
      const address = stop.address;
      const error = stop.errorCode;
      const access = error & 16 ? ACCESS_FETCH : error & 2 ? ACCESS_WRITE : ACCESS_READ;
      // The error code's U/S bit, not CPL: descriptor-table and TSS reads at ring 3 are supervisor accesses.
      const kind = this.shadow.fault(address, access, (error & 4) !== 0);
      if (kind !== SHADOW_HIDDEN && kind !== SHADOW_UNSUPPORTED && this.inLookup()) {
        // A lookup's access stands for the guest branch's: the emulator runs the branch, with the
        // guest's own fault if it has one (the lookup's access may differ in kind from the branch's).
        this.vmmOwned();
        this.toVirtual();
        return this.emulate();
      }
      if (kind !== SHADOW_TRUE) this.vmmOwned();
      switch (kind) {
        case SHADOW_HIDDEN:
          return null;
        case SHADOW_TRUE:
          this.toVirtual();
          this.virt.cr2 = address;
          return this.reflect(14, this.shadow.guestErrorCode);
        case SHADOW_TRACED:
          this.adapt();
          this.toVirtual();
          return this.emulate();
        case SHADOW_MMIO:
        case SHADOW_VMM_AREA:
        case SHADOW_OVERLAY:
          this.toVirtual();
          return this.emulate();
        case SHADOW_UNSUPPORTED:
        default:
          this.toVirtual();
          return { reason: 'internal-error', detail: `strategy full: ${this.shadow.unsupportedReason}` };
      }
    }
    this.toVirtual();
    if (vector === 13 || vector === 12 || vector === 11 || vector === 10) {
      // Trap-and-emulate: the virtual CPU runs the instruction with the guest's real privilege,
      // segments and tables; a fault it takes there is the guest's own.
      this.vmmOwned();
      this.countTrap();
      if (this.ioDue()) return null;
      return this.emulate();
    }
    // A single-step trap: DR6.BS says why, as the CPU set it.
    if (vector === 1) this.virt.dr[6] |= hw.dr[6] & 0x4000;
    return this.reflect(vector, stop.errorCode);
  }

  /** True when the TC stopped where a lookup has something to undo (branch-lookup.ts). */
  private lookupPending(): boolean {
    const off = (this.hw.eip - TC_LINEAR) | 0;
    return off >= 0 && off < TC_SIZE && this.tc.extraAt[off] !== 0;
  }

  /** True when the CPU stopped at an instruction of an indirect branch's lookup. */
  private inLookup(): boolean {
    const off = (this.hw.eip - TC_LINEAR) | 0;
    return this.regime === Regime.Kernel && off >= 0 && off < TC_SIZE && this.tc.kindAt[off] === K_LOOKUP;
  }

  /**
   * A call-out the VMM completes on the CPU's state (translation-cache.ts FastOp), with the guest's
   * own accesses made through the CPU at ring 1 (the same segment, paging and limit checks); false
   * when the slow path must run it on the virtual CPU (any fault, single-stepping, a 16-bit stack,
   * a branch target beyond CS's limit, a descriptor that is not a plain accessed data segment, a
   * port access due at the next run).
   */
  private fastCallout(off: number): boolean {
    const f = this.tc.fast.get(off);
    if (f === undefined) return false;
    const hw = this.hw;
    const virt = this.virt;
    if ((hw.getEflags() & TF) !== 0 || !hw.stack32) return false;
    const r = hw.reg32;
    const esp = r[4];
    const kind = f.kind;
    const invalidations = this.tc.counters.invalidations;
    let next = f.next;
    try {
      switch (kind) {
        case F_RET: case F_CALL: case F_JMP: {
          const target = kind === F_RET ? hw.read32(SS, esp) : this.operand32(f);
          if ((target >>> 0) > (virt.segLimit[CS] >>> 0)) return false;
          if (kind === F_CALL) hw.write32(SS, (esp - 4) | 0, f.next);
          r[4] = kind === F_RET ? (esp + 4 + f.arg) | 0 : kind === F_CALL ? (esp - 4) | 0 : esp;
          next = target;
          this.counters.fastBranches++;
          break;
        }
        case F_IN: case F_OUT: {
          // (The CPU counted the call-out's UD2: the guest's instructions before the access are one fewer.)
          if (this.doneInRun() - 1 >= IO_SYNC_INSTRUCTIONS) return false;
          const port = f.modrm >= 0 ? f.modrm : r[2] & 0xffff;
          const size = f.arg as 1 | 2 | 4;
          if (hw.ioCount[port]++ === 0) hw.ioTouched[hw.ioTouchedCount++] = port;
          if (kind === F_OUT) this.spec.io.write(port, size, size === 1 ? r[0] & 0xff : size === 2 ? r[0] & 0xffff : r[0] >>> 0);
          else {
            const v = this.spec.io.read(port, size);
            r[0] = size === 1 ? (r[0] & ~0xff) | (v & 0xff) : size === 2 ? (r[0] & ~0xffff) | (v & 0xffff) : v | 0;
          }
          break;
        }
        case F_PUSH_SEG:
          hw.write32(SS, (esp - 4) | 0, virt.seg[f.arg]);
          r[4] = (esp - 4) | 0;
          break;
        case F_MOV_FROM_SEG:
          r[f.modrm & 7] = virt.seg[f.arg];
          break;
        case F_POP_SEG: {
          const selector = hw.read32(SS, esp) & 0xffff;
          if (!this.loadDataSegment(f.arg, selector)) return false;
          r[4] = (esp + 4) | 0;
          break;
        }
        case F_MOV_TO_SEG:
          if (!this.loadDataSegment(f.arg, r[f.modrm & 7] & 0xffff)) return false;
          break;
        case F_CLI:
          hw.setEflags(hw.getEflags() & ~IF);
          break;
        case F_STI: {
          const flags = hw.getEflags();
          hw.setEflags(flags | IF);
          if ((flags & IF) === 0) this.shadowPending = 1;
          break;
        }
        case F_PUSHF:
          hw.write32(SS, (esp - 4) | 0, this.virtualFlags() & ~(VM | RF));
          r[4] = (esp - 4) | 0;
          break;
        case F_POPF: {
          // At CPL 0 every flag but VM, VIP and VIF loads; RF clears (x86-core's popEflags).
          const keep = VM | VIP | VIF;
          const value = ((hw.read32(SS, esp) & ~keep) | (this.virtualFlags() & keep) | 2) & ~RF;
          if ((value & TF) !== 0) return false;
          virt.setEflags((virt.getEflags() & ~IOPL) | (value & IOPL));
          hw.setEflags(value & ~IOPL);
          r[4] = (esp + 4) | 0;
          break;
        }
        default:
          return false;
      }
    } catch (e) {
      if (e instanceof CpuFault) return false;
      throw e;
    }
    const csBase = virt.segBase[CS];
    const linear = (csBase + next) | 0;
    // Straight on after the call-out, unless the branch went elsewhere or an access changed code.
    const branch = kind === F_RET || kind === F_CALL || kind === F_JMP;
    const entry = next === f.next && !branch && this.tc.counters.invalidations === invalidations &&
      this.tc.kindAt[off] === K_CALLOUT
      ? off + 2
      : this.tc.entryFor(linear, csBase, virt.segLimit[CS], this.code);
    if (branch && this.lookupsValid()) this.branches.remember(next, TC_LINEAR + entry);
    // A lookup's miss: its instructions before this call-out were not the guest's.
    const extra = this.tc.extraAt[off];
    if (extra !== 0) this.notGuest(extra);
    hw.eip = (TC_LINEAR + entry) >>> 0;
    if (this.shadowPending !== 0) {
      // STI: one more instruction before an interrupt may be taken.
      this.shadowPending = 0;
      hw.recordedRetire = -1;
      hw.beginShadow();
      hw.recordedRetire = 0;
    }
    this.counters.callouts[this.tc.classAt[off]]++;
    this.counters.fastCallouts++;
    return true;
  }

  /** The guest's EFLAGS while the CPU runs the TC: the CPU's, with the virtual IOPL. */
  private virtualFlags(): number {
    return (this.hw.getEflags() & ~(IOPL | VM)) | (this.virt.getEflags() & IOPL);
  }

  /** The r/m32 operand of CALL/JMP r/m32 (register, or memory through the CPU). */
  private operand32(f: FastOp): number {
    const r = this.hw.reg32;
    const mod = f.modrm >> 6;
    const rm = f.modrm & 7;
    if (mod === 3) return r[rm];
    let ea: number;
    let segment = DS;
    if (rm === 4) {
      const base = f.sib & 7;
      const index = (f.sib >> 3) & 7;
      ea = index === 4 ? 0 : r[index] << (f.sib >> 6);
      if (base === 5 && mod === 0) ea += f.disp;
      else {
        ea += r[base] + f.disp;
        if (base === 4 || base === 5) segment = SS;
      }
    } else if (rm === 5 && mod === 0) ea = f.disp;
    else {
      ea = r[rm] + f.disp;
      if (rm === 5) segment = SS;
    }
    return this.hw.read32(f.segment >= 0 ? f.segment : segment, ea | 0);
  }

  /**
   * MOV/POP into DS, ES, FS or GS at virtual CPL 0 as x86-core's loadDataSegment does it, for the
   * common case only: a null selector, or a present, accessed, readable code or data descriptor
   * (privilege checked) in a table below the VMM area. False leaves everything unchanged.
   */
  private loadDataSegment(s: number, selector: number): boolean {
    const virt = this.virt;
    if ((selector & 0xfffc) === 0) {
      virt.seg[s] = selector;
      virt.segBase[s] = 0;
      virt.segLimit[s] = 0;
      virt.segAccess[s] = UNUSABLE;
      if (s !== GS) this.loadTruncated(s);
      return true;
    }
    const ldt = (selector & 4) !== 0;
    if (ldt && (virt.segAccess[LDTR] & UNUSABLE) !== 0) return false;
    const base = ldt ? virt.segBase[LDTR] : virt.gdtrBase;
    const limit = ldt ? virt.segLimit[LDTR] : virt.gdtrLimit;
    const offset = selector & 0xfff8;
    if (offset + 7 > (limit >>> 0)) return false;
    const linear = (base + offset) >>> 0;
    if (linear + 8 > VMM_LINEAR) return false;
    const lo = this.hw.readLinear32(linear, false);
    const hi = this.hw.readLinear32(linear + 4, false);
    const type = (hi >>> 8) & 0xf;
    const dpl = (hi >>> 13) & 3;
    if ((hi & 0x1000) === 0 || (hi & 0x8000) === 0 || (type & 1) === 0) return false;
    const code = (type & 8) !== 0;
    if (code && (type & 2) === 0) return false;
    if (!(code && (type & 4) !== 0) && (selector & 3) > dpl) return false;
    virt.seg[s] = selector;
    virt.segBase[s] = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
    const raw = (lo & 0xffff) | (hi & 0xf0000);
    virt.segLimit[s] = hi & 0x800000 ? (raw << 12) | 0xfff : raw;
    virt.segAccess[s] = (hi >>> 8) & 0xf0ff;
    if (s !== GS) this.loadTruncated(s);
    return true;
  }

  /** Adaptive BT: an IDENT store that keeps trapping on traced page tables becomes a call-out. */
  private adapt(): void {
    if (this.regime !== Regime.Kernel) return;
    const off = (this.hw.eip - TC_LINEAR) | 0;
    const tc = this.tc;
    if (tc.kindAt[off] !== K_IDENT || ++tc.trapsAt[off] < ADAPTIVE_TRAPS) return;
    const linear = (this.virt.segBase[CS] + tc.guestAt[off]) | 0;
    const gpa = this.shadow.translateGuest(linear, ACCESS_FETCH, false);
    if (gpa < 0) return;
    tc.makeAdaptive(linear, gpa >>> PAGE_SHIFT);
    this.counters.adaptiveRetranslations++;
  }

  private countTrap(): void {
    const virt = this.virt;
    const at = (virt.segBase[CS] + virt.eip) | 0;
    let op = this.peekGuest(at);
    let i = 0;
    while ((op === 0x66 || op === 0x67 || op === 0xf0 || op === 0xf2 || op === 0xf3 || op === 0x26 || op === 0x2e ||
      op === 0x36 || op === 0x3e || op === 0x64 || op === 0x65) && i < 14) op = this.peekGuest((at + ++i) | 0);
    if (op === 0x0f) op = 0x100 | (this.peekGuest((at + i + 1) | 0) & 0xff);
    if (op >= 0) this.counters.traps[op & 0x1ff]++;
  }

  private peekGuest(linear: number): number {
    const gpa = (this.virt.cr0 & CR0_PG) !== 0 ? this.shadow.translateGuest(linear, ACCESS_READ, false) : linear & this.host.addressMask;
    if (gpa < 0 || !this.fetchable(gpa)) return -1;
    return this.host.read8(gpa);
  }

  /** Guest instructions retired in the current run() so far (as `none` counts them for its port-access rule). */
  private doneInRun(): number {
    return this.retired - this.runStart;
  }

  /** True when a port access should wait for the next run (fresh device time), leaving state as is. */
  private ioDue(): boolean {
    if (this.doneInRun() < IO_SYNC_INSTRUCTIONS) return false;
    const virt = this.virt;
    const at = (virt.segBase[CS] + virt.eip) | 0;
    let op = this.peekGuest(at);
    let i = 0;
    while ((op === 0x66 || op === 0x67 || op === 0xf2 || op === 0xf3 || op === 0x26 || op === 0x2e || op === 0x36 ||
      op === 0x3e || op === 0x64 || op === 0x65) && i < 14) op = this.peekGuest((at + ++i) | 0);
    if ((op >= 0xe4 && op <= 0xe7) || (op >= 0xec && op <= 0xef) || (op >= 0x6c && op <= 0x6f)) {
      this.pendingBudget = true;
      return true;
    }
    return false;
  }

  private pendingBudget = false;

  /** A call-out in the TC: emulate the guest instruction, then continue in place or by lookup. */
  private callout(off: number): VmExit | null {
    const tc = this.tc;
    const cls = tc.classAt[off];
    this.counters.callouts[cls]++;
    const virt = this.virt;
    if (cls === C_IO && this.doneInRun() >= IO_SYNC_INSTRUCTIONS) {
      // Leave the CPU at the call-out: the next run emulates it with the devices' time current.
      this.pendingBudget = true;
      return null;
    }
    const next = tc.auxAt[off];
    const csBase = virt.segBase[CS];
    this.toVirtual();
    const cr3Before = virt.cr3;
    // A store by the emulated instruction into translated code (its own fragment, maybe) made
    // fragments stale: the fall-through then goes through the lookup, which translates the new bytes.
    const invalidations = tc.counters.invalidations;
    const failed = this.emulate();
    if (failed !== null) return failed;
    if (cls === C_INVLPG) {
      const linear = (virt.segBase[virt.eaSeg] + virt.eaOff) | 0;
      this.shadow.invlpg(linear);
      tc.invlpg(linear, this.code);
    } else if (cls === C_MOV_CR3 && virt.cr3 === cr3Before) {
      this.shadow.flushNonGlobal();
      tc.flushTlb(false, this.code);
    }
    if (tc.kindAt[off] === K_CALLOUT && tc.counters.invalidations === invalidations && !virt.halted && !virt.inShutdown &&
      virt.eip === (next >>> 0) && virt.segBase[CS] === csBase && virt.cpl === 0 &&
      this.dirtyPages.length === 0 && !(this.virtualInterruptible() && this.spec.interrupts.pending()) &&
      this.decide() === Regime.Kernel) {
      this.load(Regime.Kernel, off + 2);
    }
    return null;
  }

  /** Runs one instruction on the virtual CPU (the VMM's emulator); null, or the exit it ended in. */
  private emulate(): VmExit | null {
    const virt = this.virt;
    const hw = this.hw;
    this.toVirtual();
    const counting = hw.tscSource === null;
    if (counting) virt.tscOffset = hw.retired + hw.tscOffset - virt.retired;
    const reason = virt.run(1);
    if (counting) hw.tscOffset = virt.retired + virt.tscOffset - hw.retired;
    this.shadowPending = (virt.getEflags() & IF) !== 0 && !virt.interruptible ? Math.max(virt.interruptShadow, 1) : 0;
    this.syncControls();
    if (reason === 'budget' || reason === 'hlt') return null;
    if (reason === 'shutdown') return this.shutdownExit;
    return { reason: 'internal-error', detail: `strategy full: the virtual CPU stopped: ${reason} ${virt.stop.detail}` };
  }

  /** Delivers exception `vector` to the guest through its IDT (with the frame bare hardware pushes). */
  private reflect(vector: number, errorCode: number): VmExit | null {
    this.counters.reflected[vector & 31]++;
    const virt = this.virt;
    virt.injectException(vector, errorCode);
    virt.run(0);
    this.shadowPending = 0;
    this.syncControls();
    return virt.inShutdown ? this.shutdownExit : null;
  }

  private deliverExternal(vector: number): void {
    this.toVirtual();
    this.counters.externalInterrupts++;
    const virt = this.virt;
    virt.injectInterrupt(vector);
    virt.run(0);
    this.shadowPending = 0;
    this.syncControls();
  }

  /** Forwards changes of the virtual CR0/CR3/CR4/EFER to the shadow pager. */
  private syncControls(): void {
    const virt = this.virt;
    const cr0 = virt.cr0 | 0;
    const cr3 = virt.cr3 | 0;
    const cr4 = virt.cr4 | 0;
    const efer = virt.efer | 0;
    if (cr0 === this.cr0 && cr3 === this.cr3 && cr4 === this.cr4 && efer === this.efer) return;
    if (cr0 !== this.cr0 || cr4 !== this.cr4 || efer !== this.efer) {
      // Linear addresses change meaning: translations keyed by them go.
      const flushed = ((cr0 ^ this.cr0) & (CR0_PG | CR0_PE)) !== 0 || ((cr4 ^ this.cr4) & (CR4_PSE | CR4_PAE)) !== 0;
      if (flushed) this.tc.flush();
      this.shadow.setGuestControl(cr0, cr3, cr4, efer);
      // A PGE toggle flushes every TLB entry, a CR3 load the non-global ones: the TC checks its pages then.
      if (!flushed && (((cr4 ^ this.cr4) & CR4_PGE) !== 0 || cr3 !== this.cr3)) this.tc.flushTlb(((cr4 ^ this.cr4) & CR4_PGE) !== 0, this.code);
      this.gdtShadow.invalidate();
      this.ldtShadow.invalidate();
    } else {
      this.shadow.setCr3(cr3);
      this.tc.flushTlb(false, this.code);
    }
    this.cr0 = cr0;
    this.cr3 = cr3;
    this.cr4 = cr4;
    this.efer = efer;
  }

  private applyInvalidations(): void {
    for (const page of this.dirtyPages) this.tc.invalidatePage(page);
    this.dirtyPages.length = 0;
  }

  /** Port and MMIO counts of both CPUs go to the shared statistics once per run. */
  private flushStats(stats: ExitStats): void {
    for (const cpu of [this.hw, this.virt]) {
      const counts = cpu.ioCount;
      for (let i = 0; i < cpu.ioTouchedCount; i++) {
        const port = cpu.ioTouched[i];
        for (let n = counts[port]; n > 0; n--) stats.count('io', port);
        counts[port] = 0;
      }
      cpu.ioTouchedCount = 0;
    }
    for (let n = this.takeMmioCount(); n > 0; n--) stats.count('mmio');
    // The technique's counters go to the shared statistics as named counters ("full <name>").
    if (stats.countNamed !== undefined) {
      for (const [name, value] of this.techniqueStats()) {
        const before = this.reported.get(name) ?? 0;
        if (value !== before) {
          stats.countNamed(`full ${name}`, value - before);
          this.reported.set(name, value);
        }
      }
    }
  }

  /** The values of `techniqueStats` last added to the shared statistics. */
  private readonly reported = new Map<string, number>();

  /**
   * The technique's counters for `--stats`: translation cache, call-outs by kind, traps by opcode,
   * reflected exceptions, shadow paging and descriptor-table syncs.
   */
  techniqueStats(): readonly (readonly [string, number])[] {
    const c = this.counters;
    const tc = this.tc.counters;
    const sh = this.shadow;
    const out: [string, number][] = [
      ['tc-blocks', tc.blocks], ['tc-bytes', tc.bytes], ['tc-flushes', tc.flushes], ['tc-invalidated', tc.invalidations], ['tc-remapped', tc.remapped],
      ['tc-chained', tc.chains], ['adaptive-retranslations', c.adaptiveRetranslations],
    ];
    for (let k = 0; k < CALLOUT_NAMES.length; k++) if (c.callouts[k] > 0) out.push([`callout-${CALLOUT_NAMES[k]}`, c.callouts[k]]);
    out.push(['fast-callouts', c.fastCallouts], ['fast-branches', c.fastBranches]);
    out.push(['tc-lookups', tc.lookups], ['lookup-instructions', c.lookupInstructions]);
    for (let op = 0; op < c.traps.length; op++) {
      if (c.traps[op] > 0) out.push([`trap-${op > 0xff ? '0f' : ''}${(op & 0xff).toString(16).padStart(2, '0')}`, c.traps[op]]);
    }
    for (let v = 0; v < 32; v++) if (c.reflected[v] > 0) out.push([`reflected-${v}`, c.reflected[v]]);
    out.push(
      ['external-interrupts', c.externalInterrupts], ['interpreted', c.interpreted],
      ['hidden-faults', sh.hiddenFaults], ['true-faults', sh.trueFaults], ['traced-faults', sh.tracedFaults],
      ['traced-writes', sh.tracedWrites], ['mmio-faults', sh.mmioFaults], ['shadows-built', sh.shadowsBuilt],
      ['shadow-roots-reused', sh.rootsReused], ['shadows-recycled', sh.shadowsRecycled],
      ['gdt-syncs', this.gdtShadow.syncs], ['ldt-syncs', this.ldtShadow.syncs], ['world-switches', c.worldSwitches],
    );
    return out;
  }

  /** Throws unless the translation cache is coherent (translation-cache.ts `check`). */
  checkTranslationCache(): void {
    this.tc.check();
  }

  // ---- vmm-api ----------------------------------------------------------------------------------

  requestInterruptWindow(enable: boolean): void {
    this.interruptWindowRequested = enable;
  }

  injectInterrupt(vector: number): void {
    this.deliverExternal(vector & 0xff);
  }

  advanceTsc(ticks: number): void {
    if (this.hw.tscSource === null && Number.isSafeInteger(ticks) && ticks > 0) this.hw.tscOffset += ticks;
  }

  /**
   * The guest's architectural state as the guest sees it: the virtual CPU's (its CPL, IF and IOPL,
   * CR0–CR4, descriptor tables and segment caches as it loaded them, debug registers, SYSENTER
   * MSRs, halt), never the deprivileged state the hardware holds; the FPU and the TSC are the
   * hardware's (guest x87/SSE code runs there, and the TSC counts on it). The VMM delivers events
   * at once, so none is ever pending.
   */
  exportState(): VcpuState {
    const hw = this.hw;
    const virt = this.virt;
    const hwShadow = this.hwLive ? hw.interruptShadow : 0;
    // Guest kernel code in the TC is read in place (its segments, loaded only by call-outs, are the
    // virtual CPU's already), so this instance goes on where it stopped, without a TC lookup.
    // (Not inside a lookup, whose state must be put back first.)
    const inPlace = this.hwLive && this.regime === Regime.Kernel && !this.lookupPending();
    if (!inPlace) {
      this.toVirtual();
      // A shadow the hardware was in (STI or MOV SS at ring 3) holds on when this instance goes on.
      if (hwShadow !== 0) this.shadowPending = hwShadow;
    }
    const shadow = inPlace ? hwShadow : this.shadowPending;
    const r = inPlace ? hw.reg32 : virt.reg32;
    return {
      regs: {
        eax: r[0] >>> 0, ecx: r[1] >>> 0, edx: r[2] >>> 0, ebx: r[3] >>> 0,
        esp: r[4] >>> 0, ebp: r[5] >>> 0, esi: r[6] >>> 0, edi: r[7] >>> 0,
        eip: inPlace ? this.tc.guestAt[(hw.eip - TC_LINEAR) | 0] >>> 0 : virt.eip >>> 0,
        eflags: inPlace ? this.virtualFlags() >>> 0 : virt.getEflags() >>> 0,
      },
      sregs: this.virtualSpecialRegisters(),
      debug: DEBUG_REGISTERS.map((i) => virt.dr[i] >>> 0),
      msrs: [
        { index: IA32_TIME_STAMP_COUNTER, value: BigInt(hw.readTsc()) },
        { index: IA32_SYSENTER_CS, value: BigInt(virt.sysenterCs >>> 0) },
        { index: IA32_SYSENTER_ESP, value: BigInt(virt.sysenterEsp >>> 0) },
        { index: IA32_SYSENTER_EIP, value: BigInt(virt.sysenterEip >>> 0) },
      ],
      fpu: cpuFpuImage(hw),
      halted: virt.halted,
      interruptShadow: shadow,
      pendingEvent: null,
      interruptWindow: this.interruptWindowRequested,
    };
  }

  /**
   * Loads `state` (state-check.ts refuses what no i686 could hold), possibly exported by another
   * instance of this VM over the same RAM and VMM frames: everything this instance derived from
   * guest memory or left in those frames is dropped and rebuilt from the state (`dropDerived`).
   * Whatever CPL the state claims, the guest runs at ring 1 or 3 as always.
   */
  importState(state: VcpuState): void {
    checkState(state);
    const hw = this.hw;
    const virt = this.virt;
    setCpuFpuImage(hw, state.fpu);
    setCpuFpuImage(virt, state.fpu);
    this.dropDerived();
    this.refused = null;
    this.setRegisters(state.regs);
    this.setSpecialRegisters(state.sregs);
    DEBUG_REGISTERS.forEach((i, at) => { virt.dr[i] = state.debug[at] | 0; });
    for (const { index, value } of state.msrs) {
      const v = Number(value);
      if (index === IA32_TIME_STAMP_COUNTER) {
        hw.tscOffset += v - hw.readTsc();
        virt.tscOffset += v - virt.readTsc();
      } else if (index === IA32_SYSENTER_CS) virt.sysenterCs = v | 0;
      else if (index === IA32_SYSENTER_ESP) virt.sysenterEsp = v | 0;
      else virt.sysenterEip = v | 0;
    }
    virt.halted = state.halted;
    this.shadowPending = state.interruptShadow;
    this.interruptWindowRequested = state.interruptWindow;
    const event = state.pendingEvent;
    if (event?.kind === 'external') this.deliverExternal(event.vector);
    else if (event?.kind === 'exception') this.reflect(event.vector, event.errorCode ?? -1);
  }

  /**
   * Forgets what this instance derived from guest memory and what it left in the VMM's frames:
   * another instance over the same frames (the vCPU ran on another physical CPU) may have changed
   * guest code, page tables and descriptor tables, and wrote its own translations, shadow tables
   * and shadow descriptors over this one's.
   */
  private dropDerived(): void {
    this.hwLive = false;
    this.pendingBudget = false;
    this.hw.interruptShadow = 0;
    this.virt.interruptShadow = 0;
    this.shadow.clearOverlay();
    this.shadow.reset();
    this.cr0 = this.cr3 = this.cr4 = this.efer = -1;
    this.writeVmmFrames();
    this.gdtShadow.reset();
    this.ldtShadow.reset();
    this.tc.flush();
    // Decoded and compiled code of every page goes: guest user code the hardware ran, and the TC's.
    this.host.notifyWrite(0, this.host.ramEnd);
    this.dirtyPages.length = 0;
    this.hw.modeChanged();
    this.virt.modeChanged();
  }

  getRegisters(): Registers {
    this.toVirtual();
    return cpuRegisters(this.virt);
  }

  setRegisters(regs: Registers): void {
    this.toVirtual();
    const virt = this.virt;
    const r = virt.reg32;
    r[0] = regs.eax; r[1] = regs.ecx; r[2] = regs.edx; r[3] = regs.ebx;
    r[4] = regs.esp; r[5] = regs.ebp; r[6] = regs.esi; r[7] = regs.edi;
    virt.eip = regs.eip >>> 0;
    virt.setEflags(regs.eflags);
    virt.halted = false;
  }

  getSpecialRegisters(): SpecialRegisters {
    this.toVirtual();
    return this.virtualSpecialRegisters();
  }

  /** The virtual CPU's segments, tables and control registers as they stand. */
  private virtualSpecialRegisters(): SpecialRegisters {
    const virt = this.virt;
    const segment = (s: number): SegmentState => ({
      selector: virt.seg[s], base: virt.segBase[s] >>> 0, limit: virt.segLimit[s] >>> 0, access: virt.segAccess[s],
    });
    return {
      es: segment(ES), cs: segment(CS), ss: segment(SS), ds: segment(DS), fs: segment(FS), gs: segment(GS),
      ldt: segment(LDTR), tr: segment(TR),
      gdt: { base: virt.gdtrBase >>> 0, limit: virt.gdtrLimit },
      idt: { base: virt.idtrBase >>> 0, limit: virt.idtrLimit },
      cr0: virt.cr0 >>> 0, cr2: virt.cr2 >>> 0, cr3: virt.cr3 >>> 0, cr4: virt.cr4 >>> 0, efer: virt.efer >>> 0,
    };
  }

  setSpecialRegisters(sregs: SpecialRegisters): void {
    this.toVirtual();
    const virt = this.virt;
    for (const [name, s] of SEGMENT_ORDER) {
      const state = sregs[name] as SegmentState;
      virt.seg[s] = state.selector;
      virt.segBase[s] = state.base | 0;
      virt.segLimit[s] = state.limit | 0;
      virt.segAccess[s] = state.access;
    }
    virt.gdtrBase = sregs.gdt.base >>> 0;
    virt.gdtrLimit = sregs.gdt.limit;
    virt.idtrBase = sregs.idt.base >>> 0;
    virt.idtrLimit = sregs.idt.limit;
    virt.cr0 = sregs.cr0 | 0;
    virt.cr2 = sregs.cr2 >>> 0;
    virt.cr3 = sregs.cr3 >>> 0;
    virt.cr4 = sregs.cr4 >>> 0;
    virt.efer = sregs.efer >>> 0;
    virt.cpl = (virt.cr0 & 1) === 0 ? 0 : virt.getEflags() & VM ? 3 : (sregs.ss.access >> 5) & 3;
    virt.modeChanged();
    virt.halted = false;
    virt.inShutdown = false;
    if ((virt.efer & (EFER_LMA | EFER_LME)) !== 0) {
      this.refused = 'strategy full: 64-bit guests are refused: long mode ignores segment limits, which protect the VMM here';
    }
    this.syncControls();
  }
}

/** Data segments the hardware takes from the guest in the TC (truncated); GS is the VMM's there. */
const DATA_SEGMENTS = [ES, SS, DS, FS];
const SEGMENT_ORDER: [keyof SpecialRegisters, number][] = [
  ['es', ES], ['cs', CS], ['ss', SS], ['ds', DS], ['fs', FS], ['gs', GS], ['ldt', LDTR], ['tr', TR],
];

