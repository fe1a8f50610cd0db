// A 64-bit PV domain's vCPU with its own x86-64 CPU on the VM's memory; vCPU 0's object is also
// the built domain (the builder's entry state, the console and xenstore back ends on event
// channels), which the others share. The hypervisor's entry for a vCPU:
// SYSCALL (intercepted before it runs) is a hypercall from guest kernel mode and a bounce to the
// syscall callback from user mode; every exception stops the CPU and is bounced to the guest's
// trap table, except Xen's forced-emulation prefix (ud2; .ascii "xen"; cpuid) and the privileged
// operations Xen emulates, and a kernel write to one of its read-only L1 tables (ptwr.ts).
import { Paging, type PhysicalMemory } from '@ringvisor/mmu';
import type { ExitStats, PvDomain, PvDomainConfig, PvShutdownReason, Registers, SpecialRegisters, VmExit } from '@ringvisor/vmm-api';
import { Cpu, MMU_PAGING_FEATURES, MmuPaging, cpuRegisters, cpuSpecialRegisters, cpuid } from '@ringvisor/x86-core';
import { GUEST_DOMID, HC, MAX_VCPUS, PAGE_SIZE } from '../abi.js';
import type { SmpHost } from '../hypercalls/context.js';
import { ConsoleBackend } from '../backends/console.js';
import { GrantTable } from '../backends/grant-table.js';
import { VirtualBlockDevice } from '../backends/vbd.js';
import { Xenstore } from '../backends/xenstore.js';
import { TYPE_WRITABLE } from '../frames.js';
import { RUNSTATE_running } from '../runstate.js';
import { mayRun, resume, WATCHDOG_EXIT } from '../sched-state.js';
import { DomainTime, NS_PER_TSC_TICK } from '../time.js';
import {
  FLAT_KERNEL_CS, FLAT_KERNEL_SS, HC64, SEGBASE_FS, SEGBASE_GS_KERNEL, SEGBASE_GS_USER, SHARED_INFO_64, START_INFO_64,
} from './abi.js';
import { buildDomain64, type Built64 } from './builder.js';
import { isBzImage, unpackBzImage } from './bzimage.js';
import { Domain64 } from './domain.js';
import { Args64, type HypercallContext64 } from './hypercalls/context.js';
import { hypercall64 } from './hypercalls/dispatch.js';
import { gdtVirt64 } from './layout.js';
import { emulatePageTableWrite } from './ptwr.js';
import { parseXenElf64, type XenElf64Image } from './xen-elf64.js';

const UD = 6;
const NM = 7;
const GP = 13;
const PF = 14;
const CR0_TS = 8;
/** CPUID bits a PV guest must not see: leaf 1 EDX PSE and PSE-36, leaf 80000001H EDX 1 GiB pages. */
const PSE = 1 << 3;
const PSE36 = 1 << 17;
const PDPE1GB = 1 << 26;
/** CR4 bits a PV guest sets itself (TSD, DE); the rest are the hypervisor's. */
const CR4_GUEST_BITS = 0xc;
/** RDI, RSI, RDX, R10, R8, R9. */
const ARG_REGS = [7, 6, 2, 10, 8, 9];
const RAX = 0;
const RCX = 1;
const RSI = 6;
const RSP = 4;
const R11 = 11;
const TWO_32 = 0x1_0000_0000;
/** Xen's forced-emulation prefix followed by CPUID: ud2; .ascii "xen"; cpuid. */
const FORCED_CPUID = [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2];
const PHYSICAL_ADDRESS_BITS = 36;
const MSR_UCODE_REV = 0x8b;
const MSR_FS_BASE = 0xc0000100;
const MSR_GS_BASE = 0xc0000101;
const MSR_SHADOW_GS_BASE = 0xc0000102;

/** The kernel ELF inside `image` (a bzImage is unpacked first). */
export function kernelElf64(image: Uint8Array): XenElf64Image {
  return parseXenElf64(isBzImage(image) ? unpackBzImage(image) : image);
}

/** vCPU 0 of the domain, whose back ends and vCPU list the others share. */
interface FirstVcpu {
  readonly guest: PvGuest64;
  readonly id: number;
}

export class PvGuest64 implements PvDomain, SmpHost<HypercallContext64> {
  readonly cpu: Cpu;
  readonly domain: Domain64;
  readonly built: Built64;
  readonly time: DomainTime;
  readonly console: ConsoleBackend;
  readonly xenstore: Xenstore;
  readonly grants: GrantTable;
  readonly vbd: VirtualBlockDevice | null;
  readonly context: HypercallContext64;
  /** max_vcpus, and the domain's vCPUs made so far by ID (one list, vCPU 0's). */
  readonly maxVcpus: number;
  private readonly vcpus: (PvGuest64 | undefined)[];
  private readonly memory: PhysicalMemory;
  private readonly args = new Args64();
  private continuation: number[] | null = null;

  /** vCPU 0 builds the domain from `elf`; another (`first` given) joins vCPU 0's, down and uninitialised. */
  constructor(
    memory: PhysicalMemory, private readonly stats: ExitStats, private readonly config: PvDomainConfig, elf: XenElf64Image | null,
    private readonly clockIsHost: boolean, first: FirstVcpu | null = null,
  ) {
    this.memory = memory;
    const paging = new MmuPaging(new Paging(memory, { maxPhysAddrBits: PHYSICAL_ADDRESS_BITS }));
    this.cpu = new Cpu({ memory, io: { read: () => 0xffffffff, write: () => undefined }, paging, model: 'x86-64' });
    this.cpu.pagingFeatures = MMU_PAGING_FEATURES;
    this.cpu.intercepts.exceptions = 0xffffffff | 0;
    this.cpu.intercepts.interceptOpcode(0x105);
    const clock = config.clock;
    if (clockIsHost) this.cpu.tscSource = () => Math.floor(clock.now() / NS_PER_TSC_TICK);
    if (first !== null) {
      const root = first.guest;
      const domain = new Domain64(memory, this.cpu, paging, stats, root.domain.shared, first.id);
      this.domain = domain;
      this.maxVcpus = root.maxVcpus;
      this.vcpus = root.vcpus;
      this.vcpus[first.id] = this;
      this.enterLongMode();
      // Its time-stamp counter starts where vCPU 0's is.
      this.cpu.tscOffset = root.cpu.readTsc() - this.cpu.readTsc();
      ({ built: this.built, grants: this.grants, console: this.console, xenstore: this.xenstore, vbd: this.vbd } = root);
      this.time = new DomainTime(domain, this.cpu, clock, SHARED_INFO_64);
      domain.clock = this.time;
      domain.upcallMask = 1;
      this.context = this.contextOf(root);
      return;
    }
    if (elf === null) throw new Error('vCPU 0 builds the domain: it needs the kernel');
    const vcpus = config.vcpus ?? 1;
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) throw new RangeError(`a PV domain has 1 to ${MAX_VCPUS} vCPUs, not ${vcpus}`);
    this.maxVcpus = vcpus;
    this.vcpus = [this];
    const domain = new Domain64(memory, this.cpu, paging, stats);
    domain.shared.maxVcpus = vcpus;
    domain.initialised = true;
    domain.up = true;
    this.domain = domain;
    this.enterLongMode();
    this.built = buildDomain64(domain, elf, config.cmdline ?? '', config.initrd ?? null);
    for (const mfn of [this.built.consoleMfn, this.built.storeMfn]) domain.tables.frames.getType(mfn, TYPE_WRITABLE);
    this.time = new DomainTime(domain, this.cpu, clock, SHARED_INFO_64);
    domain.clock = this.time;
    this.grants = new GrantTable(memory, domain.hv.grant, domain.tables.frames);
    let consolePort = 0;
    let storePort = 0;
    const ringEvents = (port: () => number) => ({
      notify: () => domain.events.setPending(port()),
      refuse: () => domain.refuse(),
      countRequest: () => domain.count('ring requests'),
    });
    this.console = new ConsoleBackend(memory, this.built.consoleMfn * PAGE_SIZE, config.console, ringEvents(() => consolePort));
    this.xenstore = new Xenstore(memory, this.built.storeMfn * PAGE_SIZE, GUEST_DOMID, ringEvents(() => storePort));
    consolePort = domain.events.allocateBackend(() => this.console.kick());
    storePort = domain.events.allocateBackend(() => this.xenstore.kick());
    memory.write32(this.built.startInfoMachine + START_INFO_64.consoleEvtchn, consolePort);
    memory.write32(this.built.startInfoMachine + START_INFO_64.storeEvtchn, storePort);
    this.xenstore.populateHome(elf.guestOs || 'domU', vcpus);
    this.vbd = config.disk ? new VirtualBlockDevice(this.xenstore, this.grants, domain, config.disk, 'x86_64-abi') : null;
    domain.upcallMask = 1;
    domain.rip = this.built.entry;
    domain.setReg(RSP, this.built.stackTop);
    domain.setReg(RSI, this.built.startInfo);
    this.context = this.contextOf(this);
  }

  private contextOf(root: PvGuest64): HypercallContext64 {
    return {
      domain: this.domain, time: this.time, grants: this.grants, console: this.console, nested: false, smp: root,
      continueWith: (args) => { this.continuation = args; },
      consoleWrite: (bytes) => { this.config.console.write(bytes); },
    };
  }

  /** vCPU `id`'s runner, or null while the guest has not made it (vCPU 0's object only). */
  runner(id: number): PvGuest64 | null {
    return this.vcpus[id] ?? null;
  }

  vcpu(id: number): HypercallContext64 | null {
    return this.vcpus[id]?.context ?? null;
  }

  make(id: number): HypercallContext64 {
    if (!Number.isInteger(id) || id < 0 || id >= this.maxVcpus) throw new RangeError(`the domain has no vCPU ${id}`);
    const existing = this.vcpus[id];
    if (existing) return existing.context;
    return new PvGuest64(this.memory, this.stats, this.config, null, this.clockIsHost, { guest: this, id }).context;
  }

  /** IA-32e mode with paging, the kernel's flat CS/SS at CPL 3, this vCPU's GDT in the hypervisor's slot, no IDT. */
  private enterLongMode(): void {
    const cpu = this.cpu;
    cpu.cr0 = 0x80010033;
    // PAE, OSFXSR, OSXMMEXCPT: SSE is usable, as Xen gives a PV guest.
    cpu.cr4 = 0x620;
    // SCE, LME, LMA, NXE.
    cpu.efer = 0xd01;
    const gdt = gdtVirt64(this.domain.vcpuId);
    const hi = Math.floor(gdt / TWO_32);
    cpu.gdtrBase = (gdt - hi * TWO_32) >>> 0;
    cpu.long.gdtrBaseHi = hi;
    cpu.gdtrLimit = 0xffff;
    // An empty IDT: every INT n at CPL 3 is #GP(n*8+2), which the hypervisor sees first.
    cpu.idtrBase = 0;
    cpu.idtrLimit = 0;
    for (const reg of [0, 3, 4, 5]) {
      cpu.seg[reg] = 0;
      cpu.segBase[reg] = 0;
      cpu.segLimit[reg] = 0;
      cpu.segAccess[reg] = 0x10000;
    }
    // A TSS with no room for an I/O bitmap: every IN/OUT at CPL 3 is #GP(0), for the hypervisor to judge.
    cpu.seg[7] = 0;
    cpu.segBase[7] = 0;
    cpu.segLimit[7] = 0;
    cpu.segAccess[7] = 0x8b;
    this.domain.loadFlatSegments(FLAT_KERNEL_CS, FLAT_KERNEL_SS);
    cpu.setEflags(0x202);
    cpu.modeChanged();
  }

  start(): void {
    this.time.start(Date.now());
  }

  get regs(): Registers {
    return cpuRegisters(this.cpu);
  }

  get sregs(): SpecialRegisters {
    return cpuSpecialRegisters(this.cpu);
  }

  consoleInput(bytes: Uint8Array): number {
    return this.console.input(bytes);
  }

  consoleOutputRoom(): void {
    this.console.outputRoom();
  }

  requestShutdown(reason: PvShutdownReason): void {
    this.xenstore.requestShutdown(reason);
  }

  setOnlineVcpus(count: number): void {
    if (!Number.isInteger(count) || count < 1 || count > this.maxVcpus) throw new RangeError(`the domain has 1 to ${this.maxVcpus} vCPUs online, not ${count}`);
    this.xenstore.setVcpuAvailability(this.maxVcpus, count);
  }

  /** Runs hypercall `nr` with `args` (RDI.. as numbers): the value for RAX, or the continuation's arguments. */
  hypercall(nr: number, args: readonly number[]): number | { continueWith: number[] } {
    const a = this.args;
    for (let i = 0; i < 6; i++) {
      const v = args[i] ?? 0;
      const hi = Math.floor(v / TWO_32);
      a.lo[i] = (v - hi * TWO_32) | 0;
      a.hi[i] = hi;
    }
    return this.call(nr, a);
  }

  private call(nr: number, a: Args64): number | { continueWith: number[] } {
    this.domain.countHypercall(nr);
    this.continuation = null;
    const result = hypercall64(this.context, nr, a);
    return this.continuation !== null ? { continueWith: this.continuation } : result;
  }

  /** The exit for a domain that shut down or crashed, or null while it lives. */
  endExit(): VmExit | null {
    switch (this.domain.stop) {
      case 'poweroff': return { reason: 'shutdown', cause: 'power-off' };
      case 'reboot': return { reason: 'shutdown', cause: 'reset' };
      case 'watchdog': return WATCHDOG_EXIT;
      case 'crash': return { reason: 'internal-error', detail: `domain crashed: ${this.domain.crashReason}` };
      default: return null;
    }
  }

  /** The vCPU's run loop (ParaVcpu.run for a 64-bit domain). */
  run(budget: number): VmExit {
    const domain = this.domain;
    const cpu = this.cpu;
    if (domain.stop === 'block') {
      if (!mayRun(domain)) return { reason: 'hlt', interruptsEnabled: true };
      resume(domain);
    }
    domain.setRunstate(RUNSTATE_running);
    let remaining = budget;
    for (;;) {
      const ended = this.endExit();
      if (ended) return ended;
      domain.deliverEvents();
      if (domain.stop !== null) continue;
      if (remaining <= 0) return { reason: 'budget' };
      const before = cpu.retired;
      const reason = cpu.run(remaining);
      remaining -= cpu.retired - before + 1;
      if (reason === 'budget') return { reason: 'budget' };
      if (reason === 'opcode') this.syscall(cpu.stop.length);
      else if (reason === 'exception') this.exception(cpu.stop.vector, cpu.stop.errorCode);
      else {
        this.stats.count('internal-error');
        return { reason: 'internal-error', detail: reason === 'internal-error' ? cpu.stop.detail : `unexpected stop: ${reason}` };
      }
      if (domain.stop === 'block') {
        this.stats.count('hlt');
        return { reason: 'hlt', interruptsEnabled: true };
      }
      // It took itself down (VCPUOP_down): the host sees it halted until VCPUOP_up.
      if (!domain.up && domain.stop === null) return { reason: 'hlt', interruptsEnabled: true };
    }
  }

  /** SYSCALL: a hypercall from kernel mode (RCX and R11 clobbered as the instruction does), else the guest's system call. */
  private syscall(length: number): void {
    const domain = this.domain;
    const cpu = this.cpu;
    const at = domain.rip;
    const next = at + length;
    domain.setReg(RCX, next);
    domain.setReg(R11, cpu.getEflags() >>> 0);
    domain.rip = next;
    if (!domain.kernelMode) {
      const callback = domain.syscallCallback;
      if (callback === null || callback.address === 0) {
        domain.deliverTrap(UD, -1);
        return;
      }
      domain.count('guest system calls');
      domain.bounce(callback.address, -1, callback.maskEvents);
      return;
    }
    this.stats.count('hypercall');
    const a = this.args;
    for (let i = 0; i < 6; i++) {
      a.lo[i] = cpu.reg32[ARG_REGS[i]];
      a.hi[i] = cpu.regHi[ARG_REGS[i]];
    }
    const nr = cpu.reg32[RAX] >>> 0;
    const result = this.call(nr, a);
    if (typeof result === 'number') {
      // The iret hypercall set RIP, RSP and RAX itself, from its frame.
      if (nr !== HC.iret) domain.setReg(RAX, result);
    } else {
      domain.rip = at;
      result.continueWith.forEach((value, k) => domain.setReg(ARG_REGS[k], value));
    }
  }

  private exception(vector: number, errorCode: number): void {
    const domain = this.domain;
    const cpu = this.cpu;
    this.stats.count('exception');
    if (vector === UD && this.forcedCpuid()) return;
    if (vector === GP && errorCode === 0 && this.privilegedOp()) return;
    if (vector === GP && errorCode >= 0 && (errorCode & 7) === 2) {
      // INT n through the empty IDT: the guest's trap table decides (Xen's permit_softint).
      const soft = errorCode >>> 3;
      const trap = domain.traps[soft];
      const length = this.byteAt(domain.rip) === 0xcc ? 1 : 2;
      if (trap && trap.address !== 0 && (trap.flags & 3) >= (domain.kernelMode ? 1 : 3)) {
        domain.rip += length;
        domain.deliverTrap(soft, -1);
        return;
      }
    }
    if (vector === PF) {
      const linear = (cpu.cr2Hi | 0) * TWO_32 + (cpu.cr2 >>> 0);
      if (emulatePageTableWrite(domain, linear, errorCode, (at) => this.byteAt(at))) return;
      domain.setGuestCr2(cpu.cr2, cpu.cr2Hi);
    }
    if (vector === NM) cpu.cr0 &= ~CR0_TS;
    domain.deliverTrap(vector, errorCode);
  }

  /**
   * Xen's emulate_privileged_op, the part a 64-bit kernel uses at start of day: RDMSR/WRMSR of the
   * segment-base MSRs from guest kernel mode (FS_BASE, GS_BASE the kernel's, SHADOW_GS_BASE the
   * user's) and of the microcode revision (reads 0). Other MSRs stay #GP for the guest (Linux reads them with rdmsr_safe).
   */
  private privilegedOp(): boolean {
    const domain = this.domain;
    const start = domain.rip;
    if (this.portIo(start)) return true;
    if (!domain.kernelMode) return false;
    const rex = this.byteAt(start) >= 0x40 && this.byteAt(start) <= 0x4f ? this.byteAt(start) : 0;
    const at = rex !== 0 ? start + 1 : start;
    if (this.byteAt(at) !== 0x0f) return false;
    const op = this.byteAt(at + 1);
    if (op === 0x20) return this.readControlRegister(at, rex);
    if (op === 0x22) return this.writeControlRegister(at, rex);
    if (op !== 0x30 && op !== 0x32) return false;
    const cpu = this.cpu;
    const msr = cpu.reg32[RCX] >>> 0;
    if (msr === MSR_UCODE_REV) {
      // Xen answers the microcode revision with 0 and ignores writes (Linux writes 0, then reads).
      if (op === 0x32) {
        domain.setReg(RAX, 0);
        domain.setReg(2, 0);
      }
      domain.count('emulated msr');
      domain.rip = at + 2;
      return true;
    }
    const which = msr === MSR_FS_BASE ? SEGBASE_FS : msr === MSR_GS_BASE ? SEGBASE_GS_KERNEL : msr === MSR_SHADOW_GS_BASE ? SEGBASE_GS_USER : -1;
    if (which < 0) return false;
    domain.count('emulated msr');
    if (op === 0x30) {
      const value = (cpu.reg32[2] | 0) * TWO_32 + (cpu.reg32[0] >>> 0);
      if (this.hypercall(HC64.set_segment_base, [which, value]) !== 0) return false;
    } else {
      const value = which === SEGBASE_FS ? cpu.long.segBaseHi[4] * TWO_32 + (cpu.segBase[4] >>> 0)
        : which === SEGBASE_GS_KERNEL ? cpu.long.segBaseHi[5] * TWO_32 + (cpu.segBase[5] >>> 0) : domain.inactiveGs;
      const hi = Math.floor(value / TWO_32);
      domain.setReg(RAX, value - hi * TWO_32);
      domain.setReg(2, (hi >>> 0));
    }
    domain.rip = at + 2;
    return true;
  }

  /**
   * MOV from CR0, CR2, CR3 or CR4 (0F 20 /r, register form): the values Xen shows a PV kernel (CR2
   * from vcpu_info, CR3 the current L4's machine address, CR0/CR4 the vCPU's).
   */
  private readControlRegister(at: number, rex: number): boolean {
    const domain = this.domain;
    const cpu = this.cpu;
    const modrm = this.byteAt(at + 2);
    if (modrm < 0xc0) return false;
    const cr = ((modrm >>> 3) & 7) | ((rex & 4) << 1);
    const gpr = (modrm & 7) | ((rex & 1) << 3);
    let value: number;
    switch (cr) {
      case 0: value = cpu.cr0 >>> 0; break;
      case 2: value = (this.memory.read32(domain.vcpuInfoBase + SHARED_INFO_64.cr2 + 4) | 0) * TWO_32 + (this.memory.read32(domain.vcpuInfoBase + SHARED_INFO_64.cr2) >>> 0); break;
      case 3: value = domain.access.base * PAGE_SIZE; break;
      case 4: value = cpu.cr4 >>> 0; break;
      default: return false;
    }
    domain.count('emulated control register reads');
    domain.setReg(gpr, value);
    domain.rip = at + 3;
    return true;
  }

  /**
   * IN/OUT (not the string forms), CLI and STI with the virtual IOPL PHYSDEVOP_set_iopl gave (Xen's
   * iopl_ok: at least 1 for the kernel, 3 for user mode): a domain without devices reads all-ones and
   * its writes go nowhere, as Xen's guest_io_read/write answer for ports it was not given; CLI and
   * STI are skipped, as Xen's emulation does.
   */
  private portIo(start: number): boolean {
    const domain = this.domain;
    if (domain.iopl < (domain.kernelMode ? 1 : 3)) return false;
    const cpu = this.cpu;
    const wide = this.byteAt(start) === 0x66;
    const at = wide ? start + 1 : start;
    const op = this.byteAt(at);
    if ((op === 0xfa || op === 0xfb) && !wide) {
      // CLI/STI: Xen skips them (masking events is the guest's business through vcpu_info).
      domain.count('skipped cli/sti');
      domain.rip = start + 1;
      return true;
    }
    let length: number;
    if (op >= 0xe4 && op <= 0xe7) length = 2;
    else if (op >= 0xec && op <= 0xef) length = 1;
    else return false;
    if ((op & 2) === 0) {
      const size = (op & 1) === 0 ? 1 : wide ? 2 : 4;
      const ones = size === 4 ? -1 : (1 << (size * 8)) - 1;
      if (size === 4) {
        cpu.reg32[RAX] = -1;
        cpu.regHi[RAX] = 0;
      } else cpu.reg32[RAX] = (cpu.reg32[RAX] & ~ones) | ones;
    }
    domain.count('emulated port I/O');
    domain.rip = at + length;
    return true;
  }

  /**
   * MOV to CR0 or CR4 (0F 22 /r), as Xen's emulation takes them: CR0 may change TS only (anything
   * else is #GP); a CR4 write keeps the hypervisor's bits (Xen logs and ignores attempts to change
   * them) and takes TSD and DE from the guest; CR3 is new_guest_cr3 with the L4's machine address
   * (a frame that is not the domain's or does not validate as an L4 is #GP).
   */
  private writeControlRegister(at: number, rex: number): boolean {
    const cpu = this.cpu;
    const modrm = this.byteAt(at + 2);
    if (modrm < 0xc0) return false;
    const cr = ((modrm >>> 3) & 7) | ((rex & 4) << 1);
    const value = cpu.reg32[(modrm & 7) | ((rex & 1) << 3)] >>> 0;
    if (cr === 0) {
      if (((value ^ cpu.cr0) & ~CR0_TS) !== 0 || cpu.regHi[(modrm & 7) | ((rex & 1) << 3)] !== 0) return false;
      cpu.cr0 = (cpu.cr0 & ~CR0_TS) | (value & CR0_TS);
    } else if (cr === 3) {
      const reg = (modrm & 7) | ((rex & 1) << 3);
      const mfn = (cpu.regHi[reg] >>> 0) * (TWO_32 / PAGE_SIZE) + Math.floor(value / PAGE_SIZE);
      if (!this.domain.newKernelBase(mfn)) return false;
    } else if (cr === 4) {
      cpu.cr4 = (cpu.cr4 & ~CR4_GUEST_BITS) | (value & CR4_GUEST_BITS);
      cpu.modeChanged();
    } else return false;
    this.domain.count('emulated control register writes');
    this.domain.rip = at + 3;
    return true;
  }

  private byteAt(linear: number): number {
    try {
      return this.domain.access.read8(linear);
    } catch {
      return -1;
    }
  }

  /** ud2; "xen"; cpuid in guest kernel mode: the CPUID the hypervisor shows its guests. */
  private forcedCpuid(): boolean {
    const domain = this.domain;
    const at = domain.rip;
    for (let i = 0; i < FORCED_CPUID.length; i++) if (this.byteAt(at + i) !== FORCED_CPUID[i]) return false;
    if (!domain.kernelMode) return false;
    domain.count('emulated cpuid');
    const cpu = this.cpu;
    const leaf = cpu.reg32[RAX] >>> 0;
    const r = cpu.reg32;
    if (leaf >= 0x40000000 && leaf < 0x40000100) {
      // Xen's leaves: the signature "XenVMMXenVMM", the version, one hypercall page.
      const values = leaf === 0x40000000 ? [0x40000002, 0x566e6558, 0x65584d4d, 0x4d4d566e]
        : leaf === 0x40000001 ? [0x40011, 0, 0, 0]
          : leaf === 0x40000002 ? [1, 0x40000000, 0, 0] : [0, 0, 0, 0];
      [r[0], r[3], r[1], r[2]] = values;
    } else {
      cpuid(cpu);
      // Xen's PV policy: the hypervisor-present bit; no superpages (PSE, PSE-36, 1 GiB pages), which
      // a PV guest may not map (its L2/L3 entries with PS are refused).
      if (leaf === 1) {
        r[1] |= 1 << 31;
        r[2] &= ~(PSE | PSE36);
      } else if (leaf === 0x80000001) r[2] &= ~PDPE1GB;
    }
    for (const reg of [0, 1, 2, 3]) cpu.regHi[reg] = 0;
    domain.rip = at + FORCED_CPUID.length;
    return true;
  }
}
