// Strategy `para`: the guest kernel runs at ring 1 on the emulated CPU, which this hypervisor owns
// the way Xen owns a real one: its GDT, IDT and exception entry. Every exception stops the CPU
// (x86-core's intercept set is the hypervisor's exception entry); software interrupts the guest
// may not issue through the hypervisor's DPL-0 gates arrive as #GP(vector*8+2), which is how
// `int 0x82` (a hypercall, from ring 1) and the guest's own system-call vectors are recognised.
import { Paging, PhysicalMemory } from '@ringvisor/mmu';
import type {
  PausedSpan, PvDomain, PvDomainConfig, Registers, SpecialRegisters, Vcpu, Vm, VmExit, VmSpec, VmmStrategy,
} from '@ringvisor/vmm-api';
import {
  CS, Cpu, cpuRegisters, cpuSpecialRegisters, MMU_PAGING_FEATURES, MmuPaging, setCpuRegisters, setCpuSpecialRegisters,
} from '@ringvisor/x86-core';
import { HYPERCALL_VECTOR } from './abi.js';
import { Domain } from './domain.js';
import { PvGuest } from './pv-guest.js';
import { isBzImage } from './pv64/bzimage.js';
import { kernelElf64, PvGuest64 } from './pv64/guest.js';
import { isElf64 } from './pv64/xen-elf64.js';
import type { Domain64 } from './pv64/domain.js';
import { RUNSTATE_blocked, RUNSTATE_offline, RUNSTATE_runnable, RUNSTATE_running } from './runstate.js';
import { mayRun, resume, shuttingDown, WATCHDOG_EXIT } from './sched-state.js';
import { NS_PER_TSC_TICK } from './time.js';

const NM = 7;
const CR0_TS = 8;
const GP = 13;
const PF = 14;
/** Register indices of the hypercall arguments: EBX, ECX, EDX, ESI, EDI, EBP. */
const ARG_REGS = [3, 1, 2, 6, 7, 5];

class ParaVcpu implements Vcpu {
  private readonly budgetExit = { reason: 'budget' as const };
  private readonly blockExit = { reason: 'hlt' as const, interruptsEnabled: true };
  /** Down when it last left `run()`, or never run and not vCPU 0: it waits for VCPUOP_up. */
  private parked: boolean;

  constructor(readonly index: number, private readonly vm: ParaVm) {
    this.parked = index !== 0;
  }

  /**
   * Its guest context: vCPU 0's is the VM's from the start; another's is made when the guest
   * initialises it (or a caller asks for its registers), so a vCPU never brought up costs no CPU.
   */
  private get made(): Domain | null {
    return this.index === 0 ? this.vm.domain : this.vm.guest!.vcpu(this.index)?.domain ?? null;
  }

  private get domain(): Domain {
    return this.made ?? this.vm.guest!.make(this.index).domain;
  }

  /** A 64-bit domain's runner for this vCPU (null while not made, unless `make`). */
  private runner64(make: boolean): PvGuest64 | null {
    const root = this.vm.guest64!;
    const runner = root.runner(this.index);
    if (runner !== null || !make) return runner;
    root.make(this.index);
    return root.runner(this.index);
  }

  get cpu(): Cpu {
    if (this.vm.guest64) return this.runner64(true)!.cpu;
    return this.index === 0 ? this.vm.cpu : this.domain.cpu;
  }

  get retired(): number {
    if (this.vm.guest64) return this.runner64(false)?.cpu.retired ?? 0;
    return this.index === 0 || this.made ? this.cpu.retired : 0;
  }

  get interruptible(): boolean {
    return false;
  }

  /** The vCPU's PV state once made (either ABI), or null. */
  private view(): Domain | Domain64 | null {
    return this.vm.guest64 ? this.runner64(false)?.domain ?? null : this.made;
  }

  /** Leaving run() blocked or down changes the runstate; leaving with the budget does not (see `preempted`). */
  run(budget: number): VmExit {
    const exit = this.vm.guest64 ? this.run64(budget) : this.run32(budget);
    if (exit.reason === 'budget') return exit;
    const view = this.view();
    view?.setRunstate(exit.reason === 'hlt' && view.up && view.stop === 'block' ? RUNSTATE_blocked : RUNSTATE_offline);
    return exit;
  }

  /** Runnable from its slice's end, offline while paused (Xen: a paused vCPU is not runnable), runnable again after. */
  preempted(agoNs: number, paused?: PausedSpan): void {
    const view = this.view();
    if (view === null || view.runstate.state !== RUNSTATE_running || view.clock === null) return;
    const now = view.clock.now();
    const at = (ago: number) => Math.max(view.runstate.entryTime, now - ago);
    view.setRunstate(RUNSTATE_runnable, at(agoNs));
    if (paused === undefined) return;
    view.setRunstate(RUNSTATE_offline, at(paused.fromAgoNs));
    view.setRunstate(RUNSTATE_runnable, at(paused.untilAgoNs));
  }

  private run32(budget: number): VmExit {
    const guest = this.vm.guest;
    if (!guest) return { reason: 'internal-error', detail: 'strategy para runs para-virtualized kernels only: no PV domain was built' };
    const domain = this.made;
    this.parked = domain === null || !domain.up;
    if (domain === null) return this.stopExit(this.vm.domain) ?? this.blockExit;
    if (this.parked) return this.stopExit(domain) ?? this.blockExit;
    const cpu = domain.cpu;
    const stats = this.vm.spec.stats;
    if (domain.entryFault !== '') domain.crash(domain.entryFault);
    if (domain.stop === 'block') {
      if (!mayRun(domain)) return this.blockExit;
      resume(domain);
    }
    domain.setRunstate(RUNSTATE_running);
    let remaining = budget;
    for (;;) {
      const ended = this.stopExit(domain);
      if (ended) return ended;
      domain.deliverEvents();
      if (domain.stop !== null) continue;
      if (remaining <= 0) return this.budgetExit;
      const before = cpu.retired;
      const reason = cpu.run(remaining);
      // Each hypervisor entry costs one unit, so a guest that only traps still ends its budget.
      remaining -= cpu.retired - before + 1;
      if (reason === 'budget') return this.budgetExit;
      if (reason !== 'exception') {
        stats.count('internal-error');
        return { reason: 'internal-error', detail: reason === 'internal-error' ? cpu.stop.detail : `unexpected stop: ${reason}` };
      }
      this.exception(guest, domain, cpu.stop.vector, cpu.stop.errorCode);
      if (domain.stop === 'block') {
        stats.count('hlt');
        return this.blockExit;
      }
      if (!domain.up && domain.stop === null) {
        // It took itself down (VCPUOP_down).
        this.parked = true;
        return this.blockExit;
      }
    }
  }

  /** run() for a 64-bit domain's vCPU: its runner's loop, once its guest brought it up. */
  private run64(budget: number): VmExit {
    const root = this.vm.guest64!;
    const runner = this.runner64(false);
    this.parked = runner === null || !runner.domain.up;
    if (runner === null) return root.endExit() ?? this.blockExit;
    if (this.parked) return runner.endExit() ?? this.blockExit;
    if (runner.domain.entryFault !== '') runner.domain.crash(runner.domain.entryFault);
    const exit = runner.run(budget);
    // It took itself down (VCPUOP_down).
    if (!runner.domain.up && runner.domain.stop === null) this.parked = true;
    return exit;
  }

  /** The exit for a domain that shut down or crashed, or null while it lives. */
  private stopExit(domain: Domain): VmExit | null {
    switch (domain.stop) {
      case 'poweroff': return { reason: 'shutdown', cause: 'power-off' };
      case 'reboot': return { reason: 'shutdown', cause: 'reset' };
      case 'watchdog': return WATCHDOG_EXIT;
      case 'crash': return { reason: 'internal-error', detail: `domain crashed: ${domain.crashReason}` };
      default: return null;
    }
  }

  /** The hypervisor's exception entry: a hypercall, a software interrupt, or a trap to bounce. */
  private exception(guest: PvGuest, domain: Domain, vector: number, errorCode: number): void {
    const cpu = this.cpu;
    const stats = this.vm.spec.stats;
    if (vector === GP && errorCode >= 0 && (errorCode & 3) === 2) {
      const soft = errorCode >>> 3;
      const length = soft === 3 || soft === 4 ? this.softIntLength(soft) : 2;
      if (soft === HYPERCALL_VECTOR && cpu.cpl === 1) {
        stats.count('hypercall');
        cpu.eip = (cpu.eip + 2) >>> 0;
        const r = cpu.reg32;
        const nr = r[0] >>> 0;
        const result = guest.hypercall(nr, ARG_REGS.map((i) => r[i] >>> 0), this.index);
        if (typeof result === 'number') r[0] = result;
        else {
          // A continuation: run the same hypercall again with the arguments it left.
          cpu.eip = (cpu.eip - 2) >>> 0;
          result.continueWith.forEach((value, k) => {
            r[ARG_REGS[k]] = value;
          });
        }
        return;
      }
      const trap = domain.traps[soft];
      if (length > 0 && trap && trap.address !== 0 && (trap.flags & 3) >= cpu.cpl) {
        stats.count('exception');
        cpu.eip = (cpu.eip + length) >>> 0;
        domain.deliverTrap(soft, -1);
        return;
      }
    }
    stats.count('exception');
    if (vector === PF) domain.setGuestCr2(cpu.cr2);
    // #NM after fpu_taskswitch(1): the guest's handler runs with TS clear, as Xen clears it.
    if (vector === NM) cpu.cr0 &= ~CR0_TS;
    domain.deliverTrap(vector, errorCode);
  }

  /** INT3 and INTO are one byte, INT 3/INT 4 (CD xx) two; 0 when neither is at EIP. */
  private softIntLength(vector: number): number {
    try {
      const at = (this.cpu.segBase[CS] + this.cpu.eip) >>> 0;
      const byte = this.domain.access.read8(at);
      if (byte === (vector === 3 ? 0xcc : 0xce)) return 1;
      return byte === 0xcd ? 2 : 0;
    } catch {
      return 0;
    }
  }

  requestInterruptWindow(): void {
    // No external interrupts reach a PV guest: its events come through event channels.
  }

  injectInterrupt(): void {
    throw new Error('strategy para delivers events, not interrupts');
  }

  hasPendingEvent(): boolean {
    if (this.vm.guest64) {
      const runner = this.runner64(false);
      if (runner === null) return shuttingDown(this.vm.guest64.domain.stop);
      if (this.parked) return runner.domain.up || shuttingDown(runner.domain.stop);
      return runner.domain.stop !== null && mayRun(runner.domain);
    }
    if (!this.vm.guest) return false;
    const domain = this.made;
    // A vCPU that was down runs once it is up (or to report its domain's end); a blocked one for an
    // event, a woken poll, or its domain's end (a watchdog).
    if (domain === null) return shuttingDown(this.vm.domain.stop);
    if (this.parked) return domain.up || shuttingDown(domain.stop);
    return domain.stop !== null && mayRun(domain);
  }

  advanceTsc(ticks: number): void {
    if (this.vm.guest64 ? this.runner64(false) === null : this.index !== 0 && this.made === null) return;
    if (this.cpu.tscSource === null && Number.isSafeInteger(ticks) && ticks > 0) this.cpu.tscOffset += ticks;
  }

  getRegisters(): Registers {
    return cpuRegisters(this.cpu);
  }

  setRegisters(regs: Registers): void {
    setCpuRegisters(this.cpu, regs);
  }

  getSpecialRegisters(): SpecialRegisters {
    return cpuSpecialRegisters(this.cpu);
  }

  /**
   * Loads system state. The hypervisor's GDT, IDT and CR3 are its own: this is how the builder's
   * entry state reaches the CPU, not a way for anyone to change what the domain runs on.
   */
  setSpecialRegisters(sregs: SpecialRegisters): void {
    setCpuSpecialRegisters(this.cpu, sregs);
    this.cpu.cpl = sregs.cs.selector & 3;
    this.cpu.modeChanged();
  }
}

class ParaVm implements Vm {
  readonly memory: PhysicalMemory;
  guest: PvGuest | null = null;
  /** A 64-bit domain runs on its own x86-64 CPU (built with it); the i686 one is never made then. */
  guest64: PvGuest64 | null = null;
  private i686: { cpu: Cpu; paging: MmuPaging; domain: Domain } | null = null;

  constructor(readonly spec: VmSpec) {
    const ramEnd = spec.regions.filter((r) => !r.rom && r.base < 2 ** 32).reduce((end, r) => Math.max(end, r.base + r.size), 0);
    const ramBuffer = ramEnd > 0 ? spec.ramBacking?.({ base: 0, size: ramEnd }) : undefined;
    this.memory = new PhysicalMemory({ regions: spec.regions, fallback: spec.mmio, ...(ramBuffer ? { ramBuffer } : {}) });
  }

  /** The i686 hypervisor (its first CPU, its domain), made on first use unless a 64-bit domain was built. */
  private get x86_32(): { cpu: Cpu; paging: MmuPaging; domain: Domain } {
    if (this.i686) return this.i686;
    const { cpu, paging } = this.newCpu();
    this.i686 = { cpu, paging, domain: new Domain(this.memory, cpu, paging, this.spec.stats) };
    return this.i686;
  }

  /** An i686 CPU over the domain's memory, every exception vector stopping it (the hypervisor's entry). */
  private newCpu(): { cpu: Cpu; paging: MmuPaging } {
    const spec = this.spec;
    const paging = new MmuPaging(new Paging(this.memory, { maxPhysAddrBits: 32 }));
    // No interrupt controller: a PV guest gets events, never the board's interrupts.
    const cpu = new Cpu({ memory: this.memory, io: spec.io, paging, model: 'i686' });
    cpu.pagingFeatures = MMU_PAGING_FEATURES;
    cpu.intercepts.exceptions = 0xffffffff | 0;
    const clock = spec.clock;
    if (clock?.kind === 'host') cpu.tscSource = () => Math.floor(clock.now() / NS_PER_TSC_TICK);
    return { cpu, paging };
  }

  get cpu(): Cpu {
    return this.guest64 ? this.guest64.cpu : this.x86_32.cpu;
  }

  get domain(): Domain {
    return this.x86_32.domain;
  }

  /** vCPU 0 any time; another once a domain with that many vCPUs is built (down until its guest brings it up). */
  createVcpu(index: number): Vcpu {
    const max = this.guest?.maxVcpus ?? this.guest64?.maxVcpus ?? 1;
    if (index !== 0 && (!Number.isInteger(index) || index < 0 || index >= max)) {
      throw new RangeError(`strategy para: no vCPU ${index} (the domain's vCPUs are set by its configuration)`);
    }
    return new ParaVcpu(index, this);
  }

  buildPvDomain(config: PvDomainConfig): PvDomain {
    if (this.guest || this.guest64) throw new Error('a PV domain was already built in this VM');
    if (isElf64(config.image) || isBzImage(config.image)) {
      const elf = kernelElf64(config.image);
      this.guest64 = new PvGuest64(this.memory, this.spec.stats, config, elf, this.spec.clock?.kind === 'host');
      this.guest64.start();
      return this.guest64;
    }
    const guest = new PvGuest(this.domain, config, () => this.newCpu());
    this.guest = guest;
    // The entry state goes to the CPU now, so the clock snapshot sees the TSC it starts from.
    const vcpu = new ParaVcpu(0, this);
    vcpu.setSpecialRegisters(guest.sregs);
    vcpu.setRegisters(guest.regs);
    guest.start();
    return guest;
  }

  destroy(): void {
    // Nothing outside the JS heap is held.
  }
}

/** Strategy `para`: Xen's x86-32 PV ABI on the emulated CPU. */
export const paraStrategy: VmmStrategy = {
  name: 'para',
  description: "para-virtualization: Xen's x86-32 PV ABI (guest kernel at ring 1, hypercalls, validated direct paging)",
  unavailableReason: () => null,
  createVm: (spec: VmSpec): Vm => new ParaVm(spec),
};
