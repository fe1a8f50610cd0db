// One vCPU of a 64-bit PV domain and its view of the domain (what the vCPUs share is
// `Domain64Shared`, domain-shared.ts), as Xen's x86-64 PV runs it: the guest kernel and its
// processes both at CPL 3 in 64-bit mode; the hypervisor tracks which of the two the vCPU is in
// ("guest kernel mode") and switches the L4 (the kernel's, or the user one new_user_baseptr gave)
// and GS (SWAPGS semantics between the kernel's and the user's base) when it changes. Its GDT
// (the guest's frames below 0xe000, the reserved flat selectors above), the M2P table and the
// guest context Xen keeps per vCPU (trap table, callbacks, kernel stack) live here.
import type { PhysicalMemory } from '@ringvisor/mmu';
import type { ExitStats } from '@ringvisor/vmm-api';
import type { Cpu, MmuPaging } from '@ringvisor/x86-core';
import { FIRST_RESERVED_GDT_ENTRY, FIRST_RESERVED_GDT_PAGE, GDT_PAGES, HYPERCALL_NAMES, PAGE_SIZE, SHUTDOWN_crash } from '../abi.js';
import { retypeGdtFrames, TYPE_L4, TYPE_WRITABLE } from '../frames.js';
import { GuestFault } from '../guest-access.js';
import { RUNSTATE_LAYOUT_64 } from '../runstate.js';
import { domainShutdown, pollEventRaised } from '../sched-state.js';
import { VcpuView } from '../vcpu-view.js';
import { FLAT_KERNEL_CS, FLAT_KERNEL_SS, HYPERCALL_NAMES_64, SHARED_INFO_64 } from './abi.js';
import { DebugRegisters } from './debug-registers.js';
import { Domain64Shared } from './domain-shared.js';
import { GuestAccess64 } from './guest-access.js';
import { tableEntry, type HypervisorFrames64 } from './layout.js';
import type { PageTables64 } from './page-tables.js';

export interface TrapEntry64 {
  flags: number;
  cs: number;
  address: number;
}

export interface Callback64 {
  address: number;
  /** CALLBACKF_mask_events. */
  maskEvents: boolean;
}

const TWO_32 = 0x1_0000_0000;
const CS = 1;
const SS = 2;
const FS = 4;
const GS = 5;
const RSP = 4;
const RCX = 1;
const R11 = 11;
const EFLAGS_IF = 0x200;
const EFLAGS_IOPL = 0x3000;
/** TF, NT, RF and VM: cleared on entry to a handler (create_bounce_frame). */
const EFLAGS_TRAP_CLEAR = 0x100 | 0x4000 | 0x10000 | 0x20000;
const CODE64_DPL3 = 0xa0fb;
const DATA_DPL3 = 0xc0f3;
/** A 64-bit value (given as its signed number) in hex, as the guest's tools print it. */
export const hex64 = (value: number) => `0x${BigInt.asUintN(64, BigInt(value)).toString(16)}`;

export class Domain64 extends VcpuView<Domain64Shared> {
  readonly access: GuestAccess64;

  readonly traps: (TrapEntry64 | null)[] = new Array(256).fill(null);
  kernelSs = 0;
  kernelSp = 0;
  eventCallback: Callback64 | null = null;
  failsafeCallback: Callback64 | null = null;
  syscallCallback: Callback64 | null = null;
  gdtFrames: number[] = [];
  gdtEntries = 0;
  /** L4 frames of the two address spaces (-1: none; the user one holds no type reference when -1). */
  /** The vCPU's DR0-DR7 (set_debugreg/get_debugreg). */
  readonly debugRegisters = new DebugRegisters();
  kernelBase = -1;
  userBase = -1;
  /** True while the vCPU runs the guest kernel (Xen's TF_kernel_mode). */
  kernelMode = true;
  /** The GS base of the mode not running (the CPU's KERNEL_GS_BASE plays no part: the guest is never at CPL 0). */
  inactiveGs = 0;
  inMulticall = false;
  /** The virtual I/O privilege level (PHYSDEVOP_set_iopl). */
  iopl = 0;

  /** Machine address of its vcpu_info: its slot of shared_info until VCPUOP_register_vcpu_info moves it. */
  vcpuInfoBase: number;

  /** vCPU `vcpuId` of `shared` (vCPU 0 makes the domain: `shared` null). */
  constructor(
    readonly memory: PhysicalMemory, readonly cpu: Cpu, readonly paging: MmuPaging, stats: ExitStats,
    shared: Domain64Shared | null = null, vcpuId = 0,
  ) {
    super(shared ?? new Domain64Shared(memory, stats), vcpuId, stats);
    this.shared.vcpus[vcpuId] = this;
    this.access = new GuestAccess64(memory, this.tables.frames);
    this.vcpuInfoBase = this.shared.defaultVcpuInfo(vcpuId);
    this.mapGdt();
  }

  get tables(): PageTables64 {
    return this.shared.tables;
  }

  get hv(): HypervisorFrames64 {
    return this.shared.hv;
  }

  get xenL4Slots(): Int32Array {
    return this.shared.xenL4Slots;
  }

  countHypercall(nr: number): void {
    this.count(`hypercall ${HYPERCALL_NAMES[nr] ?? HYPERCALL_NAMES_64[nr] ?? `#${nr}`}`);
  }

  assign(mfn: number, shared = false): void {
    this.shared.assign(mfn, shared);
  }

  /** The guest's pseudo-physical frame for `mfn` in the M2P the guest reads (MMU_MACHPHYS_UPDATE). */
  setM2p(mfn: number, pfn: number): void {
    this.shared.setM2p(mfn, pfn);
  }

  /** Points this vCPU's 16 GDT pages (from its slot in the GDT's L1) at its frames and the reserved page. */
  mapGdt(): void {
    const { memory, hv } = this;
    const first = this.vcpuId * GDT_PAGES;
    for (let page = 0; page < GDT_PAGES; page++) {
      const frame = page < this.gdtFrames.length ? this.gdtFrames[page] : page === FIRST_RESERVED_GDT_PAGE ? hv.gdtReserved : hv.gdtEmpty;
      memory.write32(hv.gdtL1 * PAGE_SIZE + (first + page) * 8, tableEntry(frame, false, true));
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

  invalidateOwnPage(linear: number): void {
    this.paging.invalidate(linear);
    this.cpu.flushFetch();
  }

  /**
   * Xen's new_guest_cr3 for the kernel's L4 (MMUEXT_NEW_BASEPTR, or an emulated MOV to CR3): a frame
   * of the domain that validates as an L4, from kernel mode only. False when refused.
   */
  newKernelBase(mfn: number): boolean {
    const frames = this.tables.frames;
    if (!this.kernelMode || !frames.ownedByDomain(mfn) || !frames.getType(mfn, TYPE_L4)) return false;
    const old = this.kernelBase;
    this.kernelBase = mfn;
    this.loadAddressSpace();
    if (old >= 0) frames.putType(old);
    return true;
  }

  /** Loads CR3 with the L4 of the mode the vCPU is in. */
  loadAddressSpace(): void {
    const base = this.kernelMode || this.userBase < 0 ? this.kernelBase : this.userBase;
    this.cpu.cr3 = base * PAGE_SIZE;
    this.access.base = base;
    this.cpu.modeChanged();
  }

  /** Xen's toggle_guest_mode: the other L4 and the other GS base. */
  toggleGuestMode(): void {
    const cpu = this.cpu;
    const gs = cpu.long.segBaseHi[GS] * TWO_32 + (cpu.segBase[GS] >>> 0);
    this.setGsBase(this.inactiveGs);
    this.inactiveGs = gs;
    this.kernelMode = !this.kernelMode;
    this.loadAddressSpace();
  }

  setFsBase(value: number): void {
    const hi = Math.floor(value / TWO_32);
    this.cpu.segBase[FS] = (value - hi * TWO_32) | 0;
    this.cpu.long.segBaseHi[FS] = hi;
  }

  setGsBase(value: number): void {
    const hi = Math.floor(value / TWO_32);
    this.cpu.segBase[GS] = (value - hi * TWO_32) | 0;
    this.cpu.long.segBaseHi[GS] = hi;
  }

  get upcallMask(): number {
    return this.memory.read8(this.vcpuInfoBase + SHARED_INFO_64.upcallMask);
  }

  set upcallMask(value: number) {
    this.memory.write8(this.vcpuInfoBase + SHARED_INFO_64.upcallMask, value);
  }

  eventPending(): boolean {
    return this.memory.read8(this.vcpuInfoBase + SHARED_INFO_64.upcallPending) !== 0;
  }

  setGuestCr2(lo: number, hi: number): void {
    this.memory.write32(this.vcpuInfoBase + SHARED_INFO_64.cr2, lo);
    this.memory.write32(this.vcpuInfoBase + SHARED_INFO_64.cr2 + 4, hi);
  }

  /**
   * VCPUOP_register_vcpu_info {u64 mfn; u32 offset}: vcpu_info moves to a page of the domain (which
   * keeps the writable type for the domain's life, as Xen's mapping holds it), its contents copied.
   * Once only, as in Xen (-EINVAL for a second move, a foreign frame, or one that is a table).
   */
  registerVcpuInfo(mfn: number, offset: number): boolean {
    const frames = this.tables.frames;
    if (this.vcpuInfoBase !== this.shared.defaultVcpuInfo(this.vcpuId) || offset > PAGE_SIZE - 64 || offset % 8 !== 0) return false;
    if (!frames.ownedByDomain(mfn) || !frames.getType(mfn, TYPE_WRITABLE)) return false;
    const copy = new Uint8Array(64);
    this.memory.readBytes(this.vcpuInfoBase, copy);
    this.vcpuInfoBase = mfn * PAGE_SIZE + offset;
    this.memory.writeBytes(this.vcpuInfoBase, copy);
    return true;
  }

  /** Written through the kernel's L4 even while the vCPU is in user mode (Xen's update_guest_memory_policy). */
  writeRunstateArea(): void {
    const at = this.runstateArea;
    if (at === null) return;
    const access = this.access;
    const base = access.base;
    if (this.kernelBase >= 0) access.base = this.kernelBase;
    try {
      this.runstate.write(access, at, RUNSTATE_LAYOUT_64, null, this.shared.runstateUpdateFlag);
    } catch (error) {
      if (!(error instanceof GuestFault)) throw error;
    } finally {
      access.base = base;
    }
  }

  /** Xen's domain_crash: the vCPU stops with the reason (or the latched code's end). */
  crash(reason: string): void {
    domainShutdown(this, SHUTDOWN_crash, reason);
  }

  /** An event channel raised a port of this vCPU: its poll for it wakes. */
  eventRaised(port: number, kicked: boolean): void {
    pollEventRaised(this, port, kicked);
  }

  // ---- Registers ------------------------------------------------------------------------------

  reg(index: number): number {
    return this.cpu.regHi[index] * TWO_32 + (this.cpu.reg32[index] >>> 0);
  }

  setReg(index: number, value: number): void {
    const hi = Math.floor(value / TWO_32);
    this.cpu.reg32[index] = (value - hi * TWO_32) | 0;
    this.cpu.regHi[index] = hi;
  }

  get rip(): number {
    return this.cpu.ripHi * TWO_32 + (this.cpu.eip >>> 0);
  }

  set rip(value: number) {
    const hi = Math.floor(value / TWO_32);
    this.cpu.eip = value - hi * TWO_32;
    this.cpu.ripHi = hi;
  }

  /** Loads CS and SS with the flat 64-bit ring-3 caches (the kernel's and the user's are the same). */
  loadFlatSegments(cs: number, ss: number): void {
    const cpu = this.cpu;
    cpu.seg[CS] = cs;
    cpu.segBase[CS] = 0;
    cpu.segLimit[CS] = -1;
    cpu.segAccess[CS] = CODE64_DPL3;
    cpu.seg[SS] = ss;
    cpu.segBase[SS] = 0;
    cpu.segLimit[SS] = -1;
    cpu.segAccess[SS] = DATA_DPL3;
    cpu.cpl = 3;
    cpu.codeSizeChanged();
  }

  /** GDT descriptor `selector` as [low, high] dwords, or null when the GDT holds none there. */
  private descriptor(selector: number): [number, number] | null {
    const index = selector >>> 3;
    if ((selector & 4) !== 0 || selector < 4) return null;
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
   * Loads CS (a present code segment: 64-bit, or 32- or 16-bit for a compatibility-mode process)
   * and SS (present writable data) of DPL 3 from the GDT, as the IRET back to the guest would;
   * false, changing nothing, where that IRET would fault (L and D both set is reserved).
   */
  loadCodeAndStack(cs: number, ss: number): boolean {
    const code = this.descriptor(cs);
    const stack = this.descriptor(ss);
    const dpl3 = (hi: number) => (hi & 0x9000) === 0x9000 && ((hi >>> 13) & 3) === 3;
    if (code === null || !dpl3(code[1]) || (code[1] & 0x800) === 0 || (code[1] & 0x600000) === 0x600000) return false;
    if (stack === null || !dpl3(stack[1]) || (stack[1] & 0x800) !== 0 || (stack[1] & 0x200) === 0) return false;
    const cpu = this.cpu;
    for (const [reg, selector, [lo, hi]] of [[CS, cs, code], [SS, ss, stack]] as const) {
      cpu.seg[reg] = selector;
      cpu.segBase[reg] = ((hi & 0xff000000) | ((hi & 0xff) << 16) | (lo >>> 16)) | 0;
      const limit = (hi & 0xf0000) | (lo & 0xffff);
      cpu.segLimit[reg] = (hi & 0x800000) !== 0 ? (limit * 4096 + 4095) | 0 : limit;
      cpu.segAccess[reg] = (hi >>> 8) & 0xf0ff;
    }
    cpu.cpl = 3;
    cpu.codeSizeChanged();
    return true;
  }

  // ---- Entering the guest kernel --------------------------------------------------------------

  /**
   * Xen's create_bounce_frame for x86-64: from user mode, switch to kernel mode and the
   * stack_switch stack; align it to 16 and push SS, RSP, RFLAGS (IF = !upcall_mask), CS (RPL 0 for
   * the kernel; the saved upcall mask in bits 32-39), RIP, [error code], [`segments`], R11, RCX;
   * enter `address` on FLAT_KERNEL_CS/SS. False (domain crashed) when the frame cannot be written.
   */
  bounce(address: number, errorCode: number, maskEvents: boolean, segments?: readonly number[]): boolean {
    const cpu = this.cpu;
    const fromUser = !this.kernelMode;
    if (fromUser && this.kernelSp === 0) {
      this.crash('trap from user mode with no kernel stack (stack_switch)');
      return false;
    }
    const mask = this.upcallMask;
    const flags = cpu.getEflags() >>> 0;
    const rflags = ((flags & ~(EFLAGS_IF | EFLAGS_IOPL)) | (mask ? 0 : EFLAGS_IF)) >>> 0;
    const cs = (cpu.seg[CS] & (fromUser ? 0xffff : 0xfffc)) + mask * TWO_32;
    // Slots as [low, high] dwords: RCX and R11 may hold any 64-bit value (a JS number keeps 53 bits).
    const frame: number[] = [];
    const push = (value: number) => {
      const hi = Math.floor(value / TWO_32);
      frame.push(value - hi * TWO_32, hi);
    };
    frame.push(cpu.reg32[RCX], cpu.regHi[RCX], cpu.reg32[R11], cpu.regHi[R11]);
    for (const segment of segments ?? []) push(segment);
    if (errorCode >= 0) push(errorCode);
    for (const value of [this.rip, cs, rflags, this.reg(RSP), cpu.seg[SS]]) push(value);
    if (fromUser) this.toggleGuestMode();
    const rsp = Math.floor((fromUser ? this.kernelSp : this.reg(RSP)) / 16) * 16 - frame.length * 4;
    try {
      this.access.translate(rsp, true);
      this.access.translate(rsp + frame.length * 4 - 1, true);
      for (let i = 0; i < frame.length; i++) this.access.write32(rsp + i * 4, frame[i]);
    } catch {
      this.crash(`fault writing a trap frame at ${hex64(rsp)}`);
      return false;
    }
    this.setReg(RSP, rsp);
    this.rip = address;
    this.loadFlatSegments(FLAT_KERNEL_CS, FLAT_KERNEL_SS);
    cpu.setEflags((flags & ~EFLAGS_TRAP_CLEAR) | EFLAGS_IF);
    if (maskEvents) this.upcallMask = 1;
    return true;
  }

  /** A trap from the trap table, or a crash when the guest registered none. */
  deliverTrap(vector: number, errorCode: number): void {
    const trap = this.traps[vector];
    if (!trap || trap.address === 0) {
      this.crash(`unhandled trap ${vector}${errorCode >= 0 ? ` (error code 0x${errorCode.toString(16)})` : ''} at ${hex64(this.rip)}`);
      return;
    }
    this.bounce(trap.address, errorCode, (trap.flags & 4) !== 0);
  }

  /** Enters the event callback when an upcall is pending and not masked. */
  deliverEvents(): void {
    if (!this.eventPending() || this.upcallMask !== 0 || this.eventCallback === null) return;
    if (this.bounce(this.eventCallback.address, -1, true)) this.count('events delivered');
  }
}
