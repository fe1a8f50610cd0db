// A built domain with its back ends wired to event channels: what `Vm.buildPvDomain` returns, and
// what its vCPUs call for hypercalls (each with its own context: its Domain view and its timers).
import type { PvDomain, PvDomainConfig, PvShutdownReason, Registers, SpecialRegisters } from '@ringvisor/vmm-api';
import type { Cpu, MmuPaging } from '@ringvisor/x86-core';
import { GUEST_DOMID, MAX_VCPUS, PAGE_SIZE, START_INFO } from './abi.js';
import { ConsoleBackend } from './backends/console.js';
import { GrantTable } from './backends/grant-table.js';
import { VirtualBlockDevice } from './backends/vbd.js';
import { Xenstore } from './backends/xenstore.js';
import { buildDomain } from './builder.js';
import { TYPE_WRITABLE } from './frames.js';
import { Domain } from './domain.js';
import type { HypercallContext, SmpHost } from './hypercalls/context.js';
import { hypercall } from './hypercalls/dispatch.js';
import { DEFAULT_PERIOD_NS, DomainTime } from './time.js';
import { parseXenElf } from './xen-elf.js';


/** A new vCPU's CPU and its paging unit, made over the domain's memory. */
export type CpuFactory = () => { cpu: Cpu; paging: MmuPaging };

export class PvGuest implements PvDomain, SmpHost {
  readonly regs: Registers;
  readonly sregs: SpecialRegisters;
  readonly time: DomainTime;
  readonly grants: GrantTable;
  readonly console: ConsoleBackend;
  readonly xenstore: Xenstore;
  readonly vbd: VirtualBlockDevice | null;
  readonly maxVcpus: number;
  private continuation: number[] | null = null;
  /** Each made vCPU's hypercall context, by ID (vCPU 0's from the start). */
  private readonly contexts: (HypercallContext | undefined)[] = [];

  constructor(readonly domain: Domain, private readonly config: PvDomainConfig, private readonly makeCpu: CpuFactory) {
    const vcpus = config.vcpus ?? 1;
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) throw new RangeError(`a PV domain has 1 to ${MAX_VCPUS} vCPUs, not ${vcpus}`);
    this.maxVcpus = vcpus;
    domain.shared.maxVcpus = vcpus;
    const built = buildDomain(domain, config.image, config.cmdline ?? '');
    this.regs = built.regs;
    this.sregs = built.sregs;
    const memory = domain.memory;
    // The console and xenstore back ends write those pages: they hold them as writable pages for
    // the domain's life, so the guest can never make them page tables (xenconsoled's mapping does this in Xen).
    for (const mfn of [built.consoleMfn, built.storeMfn]) domain.tables.frames.getType(mfn, TYPE_WRITABLE);
    this.time = new DomainTime(domain, domain.cpu, config.clock);
    this.grants = new GrantTable(memory, domain.hv.grant, domain.tables.frames);
    const events = domain.events;
    let consolePort = 0;
    let storePort = 0;
    const ringEvents = (port: () => number) => ({
      notify: () => events.setPending(port()),
      refuse: () => domain.refuse(),
      countRequest: () => domain.count('ring requests'),
    });
    this.console = new ConsoleBackend(memory, built.consoleMfn * PAGE_SIZE, config.console, ringEvents(() => consolePort));
    this.xenstore = new Xenstore(memory, built.storeMfn * PAGE_SIZE, GUEST_DOMID, ringEvents(() => storePort));
    consolePort = events.allocateBackend(() => this.console.kick());
    storePort = events.allocateBackend(() => this.xenstore.kick());
    memory.write32(built.startInfoMachine + START_INFO.consoleEvtchn, consolePort);
    memory.write32(built.startInfoMachine + START_INFO.storeEvtchn, storePort);
    this.xenstore.populateHome(parseXenElf(config.image).guestOs || 'domU', vcpus);
    this.vbd = config.disk ? new VirtualBlockDevice(this.xenstore, this.grants, domain, config.disk, 'x86_32-abi') : null;
    this.contexts[0] = this.contextOf(domain, this.time);
    domain.initialised = true;
    domain.up = true;
  }

  private contextOf(domain: Domain, time: DomainTime): HypercallContext {
    domain.clock = time;
    return {
      domain, time, smp: this, grants: this.grants, console: this.console, nested: false,
      continueWith: (args) => {
        this.continuation = args;
      },
      consoleWrite: (bytes) => {
        this.config.console.write(bytes);
      },
    };
  }

  vcpu(id: number): HypercallContext | null {
    return this.contexts[id] ?? null;
  }

  make(id: number): HypercallContext {
    if (!Number.isInteger(id) || id < 0 || id >= this.maxVcpus) throw new RangeError(`the domain has no vCPU ${id}`);
    const existing = this.contexts[id];
    if (existing) return existing;
    const { cpu, paging } = this.makeCpu();
    // Its time-stamp counter starts where vCPU 0's is (the hosts keep them together from then on).
    cpu.tscOffset = this.domain.cpu.readTsc() - cpu.readTsc();
    const domain = new Domain(this.domain.memory, cpu, paging, this.domain.stats, this.domain.shared, id);
    const context = this.contextOf(domain, new DomainTime(domain, cpu, this.config.clock));
    this.contexts[id] = context;
    return context;
  }

  /** Starts the clock-dependent parts once the vCPU state is loaded (the TSC counts from here). */
  start(): void {
    this.time.start(Date.now());
    this.time.setPeriodic(DEFAULT_PERIOD_NS);
  }

  /**
   * Runs hypercall `nr` for the vCPU. Returns null for a continuation (the arguments to reload and
   * the instruction to run again), else the result for EAX.
   */
  hypercall(nr: number, args: readonly number[], vcpu = 0): number | { continueWith: number[] } {
    const context = this.contexts[vcpu];
    if (!context) throw new RangeError(`vCPU ${vcpu} was never made`);
    context.domain.countHypercall(nr);
    this.continuation = null;
    const result = hypercall(context, nr, args);
    if (this.continuation !== null) return { continueWith: this.continuation };
    return result;
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
}
