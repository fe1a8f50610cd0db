// One PV domain with its single vCPU: the machine frames it owns, the hypervisor's structures the
// CPU uses while it runs (GDT, IDT, the hypervisor L2 slots), the guest context Xen keeps per vCPU
// (trap table, kernel stack, callbacks, GDT frames, page-table base) and the event state.
import type {
  PhysicalMemory,
} from '@ringvisor/mmu';
import type {
  ExitStats,
} from '@ringvisor/vmm-api';
import {
  CS, SS, type Cpu, type MmuPaging,
} from '@ringvisor/x86-core';
import {
  FIRST_RESERVED_GDT_ENTRY, FIRST_RESERVED_GDT_PAGE, FIRST_XEN_L2_SLOT, GDT_PAGES, HYPERCALL_NAMES, PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_RW, SHARED_INFO, SHUTDOWN_crash,
} from './abi.js';
import {
  checkDescriptor, hiddenOf, hypervisorGate, RESERVED_DESCRIPTORS,
} from './descriptors.js';
import {
  EventChannels,
} from './events.js';
import {
  OWNER_DOMAIN, OWNER_SHARED, retypeGdtFrames,
} from './frames.js';
import {
  GuestAccess,
} from './guest-access.js';
import {
  hypervisorFrames, IDT_SLOT, type HypervisorFrames,
} from './layout.js';
import {
  PageTables,
} from './page-tables.js';
import {
  domainShutdown, pollEventRaised, SchedState, type DomainStop,
} from './sched-state.js';

/** A guest context a bounce frame saves: where the guest was, or where an IRET failed to go. */
export interface InterruptedContext {
  eip: number;
  cs: number;
  eflags: number;
  esp: number;
  ss: number;
}

export interface TrapEntry {
  flags: number;
  cs: number;
  address: number;
}

const EFLAGS_IF = 0x200;
const EFLAGS_IOPL = 0x3000;
/** TF, NT, RF and VM: cleared on entry to a handler, as the CPU clears them on a trap. */
const EFLAGS_TRAP_CLEAR = 0x100 | 0x4000 | 0x10000 | 0x20000;
const UNUSABLE = 0x10000;

export class Domain {
  readonly tables: PageTables;
  readonly access: GuestAccess;
  readonly hv: HypervisorFrames;
  readonly xenL2Slots = new Uint32Array(1024 - FIRST_XEN_L2_SLOT);
  readonly events: EventChannels;
  /** Pseudo-physical to machine frames (the mfn_list the builder gives the guest). */
  p2m: Int32Array = new Int32Array(0);

  // The guest context Xen keeps per vCPU.
  readonly traps: (TrapEntry | null)[] = new Array(256).fill(null);
  kernelSs = 0;
  kernelSp = 0;
  eventCs = 0;
  eventEip = 0;
  failsafeCs = 0;
  failsafeEip = 0;
  /** Frames given by set_gdt and how many entries they hold. */
  gdtFrames: number[] = [];
  gdtEntries = 0;
  /** Machine frame of the page directory in CR3 (holds one L2 type reference). */
  baseptr = -1;
  vmAssist = 0;
  inMulticall = false;

  stop: DomainStop = null;
  crashReason = '';
  readonly sched = new SchedState();

  constructor(
    readonly memory: PhysicalMemory,
    readonly cpu: Cpu,
    readonly paging: MmuPaging,
    readonly stats: ExitStats,
  ) {
    const ramFrames = Math.floor(memory.ramEnd / PAGE_SIZE);
    this.hv = hypervisorFrames(ramFrames);
    this.tables = new PageTables(memory, ramFrames);
    this.tables.connect({ xenL2Slots: this.xenL2Slots, validateGdtPage: (mfn) => this.validateGdtPage(mfn) });
    this.access = new GuestAccess(memory, this.tables.frames);
    this.events = new EventChannels(this);
    this.buildHypervisorPages();
  }

  /** Counts a named event for `--stats` (vmm-api's named counters). */
  count(name: string, n = 1): void {
    this.stats.countNamed?.(name, n);
  }

  countHypercall(nr: number): void {
    this.count(`hypercall ${HYPERCALL_NAMES[nr] ?? `#${nr}`}`);
  }

  /** A guest request the hypervisor refused after validation (Xen logs these with MEM_LOG). */
  refuse(): void {
    this.count('validation refusals');
  }

  /** Marks `mfn` as the domain's, or as a hypervisor page it may map. */
  assign(mfn: number, shared = false): void {
    this.tables.frames.owner[mfn] = shared ? OWNER_SHARED : OWNER_DOMAIN;
  }

  private buildHypervisorPages(): void {
    const { memory, hv } = this;
    for (const [selector, lo, hi] of RESERVED_DESCRIPTORS) {
      const at = hv.gdtReserved * PAGE_SIZE + ((selector >>> 3) - FIRST_RESERVED_GDT_ENTRY) * 8;
      memory.write32(at, lo);
      memory.write32(at + 4, hi);
    }
    const [gateLo, gateHi] = hypervisorGate();
    for (let v = 0; v < 256; v++) {
      memory.write32(hv.idt * PAGE_SIZE + v * 8, gateLo);
      memory.write32(hv.idt * PAGE_SIZE + v * 8 + 4, gateHi);
    }
    this.mapGdt();
    memory.write32(hv.hvL1 * PAGE_SIZE + IDT_SLOT * 4, (hv.idt * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A | PTE_D);
    this.xenL2Slots[0] = (hv.hvL1 * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A | PTE_D;
    this.assign(hv.sharedInfo, true);
    for (const frame of hv.grant) this.assign(frame, true);
  }

  /** Points the GDT's 16 pages in the hypervisor region at the guest's frames and the reserved page. */
  mapGdt(): void {
    const { memory, hv } = this;
    for (let page = 0; page < GDT_PAGES; page++) {
      const frame = page < this.gdtFrames.length ? this.gdtFrames[page]
        : page === FIRST_RESERVED_GDT_PAGE ? hv.gdtReserved : hv.gdtEmpty;
      memory.write32(hv.hvL1 * PAGE_SIZE + page * 4, (frame * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A | PTE_D);
    }
    this.flushTlb();
  }

  private validateGdtPage(mfn: number): boolean {
    for (let i = 0; i < 512; i++) {
      const at = mfn * PAGE_SIZE + i * 8;
      if (checkDescriptor(this.memory.read32(at), this.memory.read32(at + 4)) === null) return false;
    }
    return true;
  }

  /** set_gdt's effect: type the new frames as GDT pages, release the old ones. */
  setGdt(frames: number[], entries: number): boolean {
    const taken = retypeGdtFrames(this.tables.frames, this.gdtFrames, frames);
    if (taken === null) return false;
    this.gdtFrames = taken;
    this.gdtEntries = entries;
    this.mapGdt();
    return true;
  }

  // ---- The CPU's view -----------------------------------------------------------------------

  /** Every translation the CPU caches goes (after page-table changes the guest did not flush itself). */
  flushTlb(): void {
    this.cpu.modeChanged();
  }

  invalidatePage(linear: number): void {
    this.paging.invalidate(linear >>> 0);
    this.cpu.flushFetch();
  }

  /** Loads CR3 with a validated page directory. */
  loadBaseptr(mfn: number): void {
    this.baseptr = mfn;
    this.cpu.cr3 = mfn * PAGE_SIZE;
    this.access.cr3 = mfn * PAGE_SIZE;
    this.flushTlb();
  }

  get sharedInfoBase(): number {
    return this.hv.sharedInfo * PAGE_SIZE;
  }

  /** vcpu_info[0], at the start of shared_info (x86-32 guests here never move it). */
  get vcpuInfoBase(): number {
    return this.hv.sharedInfo * PAGE_SIZE;
  }

  get upcallMask(): number {
    return this.memory.read8(this.sharedInfoBase + SHARED_INFO.upcallMask);
  }

  set upcallMask(value: number) {
    this.memory.write8(this.sharedInfoBase + SHARED_INFO.upcallMask, value);
  }

  /** Reads descriptor `selector` from the GDT the CPU uses; null when it has none there. */
  private readDescriptor(selector: number): [number, number] | null {
    if ((selector & 4) !== 0) return null;
    const index = selector >>> 3;
    let at: number;
    if (index >= FIRST_RESERVED_GDT_ENTRY) {
      if (index >= FIRST_RESERVED_GDT_ENTRY + 512) return null;
      at = this.hv.gdtReserved * PAGE_SIZE + (index - FIRST_RESERVED_GDT_ENTRY) * 8;
    } else {
      if (index >= this.gdtEntries) return null;
      at = this.gdtFrames[index >>> 9] * PAGE_SIZE + (index & 511) * 8;
    }
    return [this.memory.read32(at) >>> 0, this.memory.read32(at + 4) >>> 0];
  }

  /**
   * Loads a segment register as the CPU would for a transfer to `ring` (IRET, a trap): CS must be
   * code of that privilege, SS writable data of it; a data register that does not qualify is
   * nulled. False when CS or SS cannot be loaded (Xen's return to the guest would fault).
   */
  loadSegment(reg: number, selector: number, ring: number): boolean {
    const cpu = this.cpu;
    selector &= 0xffff;
    const desc = selector >= 4 ? this.readDescriptor(selector) : null;
    const hi = desc ? desc[1] : 0;
    const present = (hi & 0x8000) !== 0;
    const system = (hi & 0x1000) === 0;
    const code = (hi & 0x800) !== 0;
    const dpl = (hi >>> 13) & 3;
    const rpl = selector & 3;
    let ok: boolean;
    if (reg === CS) ok = desc !== null && present && !system && code && rpl === ring && ((hi & 0x400) !== 0 ? dpl <= ring : dpl === ring);
    else if (reg === SS) ok = desc !== null && present && !system && !code && (hi & 0x200) !== 0 && rpl === ring && dpl === ring;
    else {
      ok = desc !== null && present && !system && (!code || (hi & 0x200) !== 0) && ((code && (hi & 0x400) !== 0) || dpl >= Math.max(ring, rpl));
      if (!ok) {
        cpu.seg[reg] = 0;
        cpu.segBase[reg] = 0;
        cpu.segLimit[reg] = 0;
        cpu.segAccess[reg] = UNUSABLE;
        return true;
      }
    }
    if (!ok || !desc) return false;
    const hidden = hiddenOf(desc[0], desc[1]);
    cpu.seg[reg] = selector;
    cpu.segBase[reg] = hidden.base | 0;
    cpu.segLimit[reg] = hidden.limit | 0;
    cpu.segAccess[reg] = hidden.access;
    return true;
  }

  // ---- Entering the guest kernel: traps, events, iret --------------------------------------

  /** Ends the domain (Xen's domain_crash): the vCPU stops with the reason (or the latched code's end). */
  crash(reason: string): void {
    domainShutdown(this, SHUTDOWN_crash, reason);
  }

  /** An event channel raised a port: a vCPU polling for it wakes. */
  eventRaised(port: number, kicked: boolean): void {
    pollEventRaised(this, port, kicked);
  }

  /**
   * Xen's create_bounce_frame: pushes the interrupted context (the CPU's, or `from`) on the guest
   * kernel's stack (the stack_switch stack when it was in ring 2 or 3) as a 386 pushes it for a
   * ring-1 handler, with the virtual interrupt flag (!upcall_mask) in EFLAGS.IF and the saved mask
   * in bits 16-23 of the CS word, `segments` (DS, ES, FS, GS: the failsafe frame) below it, and
   * enters `cs:eip`.
   */
  bounce(cs: number, eip: number, errorCode: number, maskEvents: boolean, from?: InterruptedContext, segments?: readonly number[]): boolean {
    const cpu = this.cpu;
    const r = cpu.reg32;
    const ctx = from ?? { eip: cpu.eip >>> 0, cs: cpu.seg[CS], eflags: cpu.getEflags() >>> 0, esp: r[4] >>> 0, ss: cpu.seg[SS] };
    const fromOuter = (from ? from.cs & 3 : cpu.cpl) >= 2;
    const mask = this.upcallMask;
    const eflags = ((ctx.eflags & ~(EFLAGS_IF | EFLAGS_IOPL)) | (mask ? 0 : EFLAGS_IF)) >>> 0;
    const csWord = ((ctx.cs & 0xffff) | (mask << 16)) >>> 0;
    const frame = fromOuter ? [ctx.eip, csWord, eflags, ctx.esp, ctx.ss] : [ctx.eip, csWord, eflags];
    if (errorCode >= 0) frame.unshift(errorCode >>> 0);
    if (segments) frame.unshift(...segments);
    if (fromOuter && (this.kernelSs & 3) === 0) {
      this.crash('trap from ring 3 with no kernel stack (stack_switch)');
      return false;
    }
    const saved = this.saveSegment(SS);
    if (fromOuter && !this.loadSegment(SS, this.kernelSs, 1)) {
      this.crash(`bad kernel stack segment 0x${this.kernelSs.toString(16)}`);
      return false;
    }
    let esp = fromOuter ? this.kernelSp >>> 0 : ctx.esp >>> 0;
    const ssBase = cpu.segBase[SS] >>> 0;
    try {
      for (let i = frame.length - 1; i >= 0; i--) {
        esp = (esp - 4) >>> 0;
        this.access.write32((ssBase + esp) >>> 0, frame[i]);
      }
    } catch {
      this.restoreSegment(SS, saved);
      this.crash(`fault writing a trap frame at 0x${esp.toString(16)}`);
      return false;
    }
    if (!this.loadSegment(CS, (cs & ~3) | 1, 1)) {
      this.restoreSegment(SS, saved);
      this.crash(`bad handler code segment 0x${cs.toString(16)}`);
      return false;
    }
    r[4] = esp | 0;
    cpu.eip = eip >>> 0;
    cpu.cpl = 1;
    cpu.setEflags((ctx.eflags & ~EFLAGS_TRAP_CLEAR) | EFLAGS_IF);
    if (maskEvents) this.upcallMask = 1;
    cpu.codeSizeChanged();
    return true;
  }

  saveSegment(reg: number): [number, number, number, number] {
    const cpu = this.cpu;
    return [cpu.seg[reg], cpu.segBase[reg], cpu.segLimit[reg], cpu.segAccess[reg]];
  }

  restoreSegment(reg: number, saved: [number, number, number, number]): void {
    const cpu = this.cpu;
    [cpu.seg[reg], cpu.segBase[reg], cpu.segLimit[reg], cpu.segAccess[reg]] = saved;
  }

  /** A trap from the trap table (set_trap_table), or a crash when the guest registered none. */
  deliverTrap(vector: number, errorCode: number): void {
    const trap = this.traps[vector];
    if (!trap || trap.address === 0) {
      this.crash(`unhandled trap ${vector}${errorCode >= 0 ? ` (error code 0x${errorCode.toString(16)})` : ''} at 0x${(this.cpu.eip >>> 0).toString(16)}`);
      return;
    }
    this.bounce(trap.cs, trap.address, errorCode, (trap.flags & 4) !== 0);
  }

  /** Enters the event callback when an upcall is pending and not masked (Xen's test_all_events). */
  deliverEvents(): void {
    const base = this.sharedInfoBase;
    if (this.memory.read8(base + SHARED_INFO.upcallPending) === 0 || this.upcallMask !== 0) return;
    if (this.eventEip === 0) return;
    if (this.bounce(this.eventCs, this.eventEip, -1, true)) this.count('events delivered');
  }

  /** True when a blocked vCPU has an event to take. */
  eventPending(): boolean {
    return this.memory.read8(this.sharedInfoBase + SHARED_INFO.upcallPending) !== 0;
  }

  /** The CR2 a #PF reports, where the guest reads it (vcpu_info.arch.cr2). */
  setGuestCr2(value: number): void {
    this.memory.write32(this.sharedInfoBase + SHARED_INFO.cr2, value);
  }
}
