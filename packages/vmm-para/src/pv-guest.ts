// A built domain with its back ends wired to event channels: what `Vm.buildPvDomain` returns, and
// what the vCPU calls for hypercalls.
import type { PvDomain, PvDomainConfig, PvShutdownReason, Registers, SpecialRegisters } from '@ringvisor/vmm-api';
import { GUEST_DOMID, PAGE_SIZE, START_INFO } from './abi.js';
import { ConsoleBackend } from './backends/console.js';
import { GrantTable } from './backends/grant-table.js';
import { VirtualBlockDevice } from './backends/vbd.js';
import { Xenstore } from './backends/xenstore.js';
import { buildDomain } from './builder.js';
import { TYPE_WRITABLE } from './frames.js';
import type { Domain } from './domain.js';
import type { HypercallContext } from './hypercalls/context.js';
import { hypercall } from './hypercalls/dispatch.js';
import { DomainTime } from './time.js';
import { parseXenElf } from './xen-elf.js';

const DEFAULT_PERIOD_NS = 10_000_000;

export class PvGuest implements PvDomain {
  readonly regs: Registers;
  readonly sregs: SpecialRegisters;
  readonly time: DomainTime;
  readonly grants: GrantTable;
  readonly console: ConsoleBackend;
  readonly xenstore: Xenstore;
  readonly vbd: VirtualBlockDevice | null;
  private continuation: number[] | null = null;
  private readonly context: HypercallContext;

  constructor(readonly domain: Domain, private readonly config: PvDomainConfig) {
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
    this.xenstore.populateHome(parseXenElf(config.image).guestOs || 'domU');
    this.vbd = config.disk ? new VirtualBlockDevice(this.xenstore, this.grants, domain, config.disk, 'x86_32-abi') : null;
    this.context = {
      domain, time: this.time, grants: this.grants, console: this.console, nested: false,
      continueWith: (args) => {
        this.continuation = args;
      },
      consoleWrite: (bytes) => {
        config.console.write(bytes);
      },
    };
  }

  /** Starts the clock-dependent parts once the vCPU state is loaded (the TSC counts from here). */
  start(): void {
    this.time.start(Date.now());
    // Xen gives a PV vCPU a 100 Hz periodic VIRQ_TIMER; kernels that arm one-shots stop it.
    this.time.setPeriodic(DEFAULT_PERIOD_NS);
  }

  /**
   * Runs hypercall `nr` for the vCPU. Returns null for a continuation (the arguments to reload and
   * the instruction to run again), else the result for EAX.
   */
  hypercall(nr: number, args: readonly number[]): number | { continueWith: number[] } {
    this.domain.countHypercall(nr);
    this.continuation = null;
    const result = hypercall(this.context, nr, args);
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
}
