// One vCPU of a PV domain and its view of the domain: the guest context Xen keeps per vCPU (trap
// table, kernel stack, callbacks, GDT frames, page-table base, its vcpu_info, its block or poll),
// its CPU, and through `shared` what all the domain's vCPUs share (domain-shared.ts). Hypercalls
// run on the calling vCPU's Domain.
import type { PhysicalMemory } from '@ringvisor/mmu';
import type { ExitStats } from '@ringvisor/vmm-api';
import { CS, SS, type Cpu, type MmuPaging } from '@ringvisor/x86-core';
import {
  FIRST_RESERVED_GDT_ENTRY, FIRST_RESERVED_GDT_PAGE, GDT_PAGES, HYPERCALL_NAMES, PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_RW, SHARED_INFO, SHUTDOWN_crash,
} from './abi.js';
import { hiddenOf } from './descriptors.js';
import { DomainShared } from './domain-shared.js';
import { retypeGdtFrames } from './frames.js';
import { GuestAccess, GuestFault } from './guest-access.js';
import { gdtSlot, type HypervisorFrames } from './layout.js';
import type { PageTables } from './page-tables.js';
import { RUNSTATE_LAYOUT_32 } from './runstate.js';
import { domainShutdown, pollEventRaised } from './sched-state.js';
import { VcpuView } from './vcpu-view.js';

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

export class Domain extends VcpuView<DomainShared> {
  readonly access: GuestAccess;

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
  inMulticall = false;

  /** vCPU `vcpuId` of the domain `shared` (vCPU 0 makes it: `shared` null). */
  constructor(
    readonly memory: PhysicalMemory,
    readonly cpu: Cpu,
    readonly paging: MmuPaging,
    stats: ExitStats,
    shared: DomainShared | null = null,
    vcpuId = 0,
  ) {
    super(shared ?? new DomainShared(memory, stats), vcpuId, stats);
    this.shared.vcpus[vcpuId] = this;
    this.access = new GuestAccess(memory, this.tables.frames);
    this.mapGdt();
  }

  get tables(): PageTables {
    return this.shared.tables;
  }

  get hv(): HypervisorFrames {
    return this.shared.hv;
  }

  get xenL2Slots(): Uint32Array {
    return this.shared.xenL2Slots;
  }

  get vmAssist(): number {
    return this.shared.vmAssist;
  }

  set vmAssist(value: number) {
    this.shared.vmAssist = value;
  }

  countHypercall(nr: number): void {
    this.count(`hypercall ${HYPERCALL_NAMES[nr] ?? `#${nr}`}`);
  }

  /** Marks `mfn` as the domain's, or as a hypervisor page it may map. */
  assign(mfn: number, shared = false): void {
    this.shared.assign(mfn, shared);
  }

  /** Points this vCPU's 16 GDT pages in the hypervisor region at its frames and the reserved page. */
  mapGdt(): void {
    const { memory, hv } = this;
    const first = gdtSlot(this.vcpuId);
    for (let page = 0; page < GDT_PAGES; page++) {
      const frame = page < this.gdtFrames.length ? this.gdtFrames[page]
        : page === FIRST_RESERVED_GDT_PAGE ? hv.gdtReserved : hv.gdtEmpty;
      memory.write32(hv.hvL1 * PAGE_SIZE + (first + page) * 4, (frame * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A | PTE_D);
    }
    this.cpu.modeChanged();
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

  /** INVLPG on this vCPU's CPU. */
  invalidateOwnPage(linear: number): void {
    this.paging.invalidate(linear >>> 0);
    this.cpu.flushFetch();
  }

  /** Loads CR3 with a validated page directory. */
  loadBaseptr(mfn: number): void {
    this.baseptr = mfn;
    this.cpu.cr3 = mfn * PAGE_SIZE;
    this.access.cr3 = mfn * PAGE_SIZE;
    this.cpu.modeChanged();
  }

  /** This vCPU's vcpu_info in shared_info (x86-32 guests here never move it). */
  get vcpuInfoBase(): number {
    return this.shared.vcpuInfo(this.vcpuId);
  }

  get upcallMask(): number {
    return this.memory.read8(this.vcpuInfoBase + SHARED_INFO.upcallMask);
  }

  set upcallMask(value: number) {
    this.memory.write8(this.vcpuInfoBase + SHARED_INFO.upcallMask, value);
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

  /** An event channel raised a port of this vCPU: its poll for it wakes. */
  eventRaised(port: number, kicked: boolean): void {
    pollEventRaised(this, port, kicked);
  }

  writeRunstateArea(): void {
    const at = this.runstateArea;
    if (at === null) return;
    try {
      this.runstate.write(this.access, at, RUNSTATE_LAYOUT_32, null, this.shared.runstateUpdateFlag);
    } catch (error) {
      if (!(error instanceof GuestFault)) throw error;
    }
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
    const base = this.vcpuInfoBase;
    if (this.memory.read8(base + SHARED_INFO.upcallPending) === 0 || this.upcallMask !== 0) return;
    if (this.eventEip === 0) return;
    if (this.bounce(this.eventCs, this.eventEip, -1, true)) this.count('events delivered');
  }

  /** True when a blocked vCPU has an event to take. */
  eventPending(): boolean {
    return this.memory.read8(this.vcpuInfoBase + SHARED_INFO.upcallPending) !== 0;
  }

  /** The CR2 a #PF reports, where the guest reads it (vcpu_info.arch.cr2). */
  setGuestCr2(value: number): void {
    this.memory.write32(this.vcpuInfoBase + SHARED_INFO.cr2, value);
  }
}
