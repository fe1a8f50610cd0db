// What both ABIs' PV domains have in common across their vCPUs: `SharedDomain` is the part of a
// domain every vCPU reaches (Xen's struct domain: its vCPUs, max_vcpus, the latched end, the
// watchdogs, the p2m, counters, the event host), `VcpuView` one vCPU's own state beside it (up or
// down, initialised, its block or poll). domain.ts and pv64/domain.ts add each ABI's tables.
import type { PhysicalMemory } from '@ringvisor/mmu';
import type { ExitStats } from '@ringvisor/vmm-api';
import type { Cpu } from '@ringvisor/x86-core';
import { SHARED_INFO } from './abi.js';
import type { EventChannels, EventHost } from './events.js';
import { Runstate, RUNSTATE_blocked, RUNSTATE_runnable } from './runstate.js';
import { endPoll, mayRun, SchedState, type DomainStop, type PollWait } from './sched-state.js';

/** What the domain needs of each of its vCPUs. */
export interface DomainVcpu {
  readonly cpu: Cpu;
  poll: PollWait | null;
  /** A port of this vCPU was raised (its poll may wake). */
  eventRaised(port: number, kicked: boolean): void;
  /** INVLPG on this vCPU's CPU. */
  invalidateOwnPage(linear: number): void;
  /** An event came for it: a blocked vCPU that may now run becomes runnable. */
  woken(): void;
}

export abstract class SharedDomain<V extends DomainVcpu> implements EventHost {
  /** The vCPUs made so far, by ID (vCPU 0 from the start, the others when first needed). */
  readonly vcpus: (V | undefined)[] = [];
  /** max_vcpus: set by the builder from the domain's configuration. */
  maxVcpus = 1;
  /** How the domain ended (poweroff, reboot, crash, watchdog), or null while it lives. */
  shutdown: DomainStop = null;
  crashReason = '';
  readonly sched = new SchedState();
  /** VMASST_TYPE_runstate_update_flag is on: runstate areas are rewritten with XEN_RUNSTATE_UPDATE set. */
  runstateUpdateFlag = false;
  /** Pseudo-physical to machine frames (the mfn_list the builder gives the guest). */
  p2m: Int32Array = new Int32Array(0);
  abstract readonly events: EventChannels;

  constructor(readonly memory: PhysicalMemory, readonly stats: ExitStats) {}

  abstract get sharedInfoBase(): number;

  count(name: string, n = 1): void {
    this.stats.countNamed?.(name, n);
  }

  /** vcpu_info[vcpu] in shared_info: where a vCPU's is unless the guest registered another place. */
  defaultVcpuInfo(vcpu: number): number {
    return this.sharedInfoBase + vcpu * SHARED_INFO.vcpuInfoSize;
  }

  vcpuInfo(vcpu: number): number {
    return this.defaultVcpuInfo(vcpu);
  }

  /** A port of `vcpu` was raised: that vCPU, if made, checks its block or poll. */
  eventRaised(port: number, kicked: boolean, vcpu: number): void {
    const target = this.vcpus[vcpu];
    if (!target) return;
    target.eventRaised(port, kicked);
    target.woken();
  }

  /** Every vCPU's cached translations go (a frame lost its type, or the guest asked for a flush). */
  flushTlbs(): void {
    for (const vcpu of this.vcpus) vcpu?.cpu.modeChanged();
  }

  invalidatePage(linear: number): void {
    for (const vcpu of this.vcpus) vcpu?.invalidateOwnPage(linear);
  }

  /** The domain ended: no vCPU waits in a poll any more. */
  endPolls(): void {
    for (const vcpu of this.vcpus) if (vcpu) endPoll(vcpu);
  }
}

export abstract class VcpuView<S extends SharedDomain<DomainVcpu>> {
  /** VCPUOP_initialise has given it a context (vCPU 0: the builder's). */
  initialised = false;
  /** Not down (Xen's !_VPF_down): VCPUOP_up / VCPUOP_down. */
  up = false;
  /** Why its initial context cannot run (a CS or SS VCPUOP_initialise gave), or ''. */
  entryFault = '';
  poll: PollWait | null = null;
  /** Blocked in sched_op (block or poll); the domain's end is `shared.shutdown`. */
  private blocked: DomainStop = null;
  readonly runstate = new Runstate();
  /** Where the guest wants its vcpu_runstate_info (VCPUOP_register_runstate_memory_area), or null. */
  runstateArea: number | null = null;
  /** Its system time (the vCPU's DomainTime, once made). */
  clock: { now(): number } | null = null;

  /** vCPU `vcpuId` of `shared`. */
  constructor(readonly shared: S, readonly vcpuId: number, readonly stats: ExitStats) {
    if (shared.vcpus[vcpuId]) throw new Error(`vCPU ${vcpuId} exists`);
  }

  get events(): EventChannels {
    return this.shared.events;
  }

  get p2m(): Int32Array {
    return this.shared.p2m;
  }

  set p2m(value: Int32Array) {
    this.shared.p2m = value;
  }

  get sched(): SchedState {
    return this.shared.sched;
  }

  /** The domain's end once it has one, else this vCPU's block. */
  get stop(): DomainStop {
    return this.shared.shutdown ?? this.blocked;
  }

  /** A block or a resume is this vCPU's; an end is the domain's, and ends every vCPU's poll. */
  set stop(value: DomainStop) {
    if (value === null || value === 'block') {
      this.blocked = value;
      return;
    }
    this.shared.shutdown = value;
    this.shared.endPolls();
  }

  get crashReason(): string {
    return this.shared.crashReason;
  }

  set crashReason(value: string) {
    this.shared.crashReason = value;
  }

  get sharedInfoBase(): number {
    return this.shared.sharedInfoBase;
  }

  /** Counts a named event for `--stats` (vmm-api's named counters). */
  count(name: string, n = 1): void {
    this.stats.countNamed?.(name, n);
  }

  /** upcall_pending of its vcpu_info. */
  abstract eventPending(): boolean;

  /** Copies the runstate to the guest's area, if it registered one (a bad one is ignored, as Xen ignores it). */
  abstract writeRunstateArea(): void;

  /** Xen's vcpu_runstate_change at `at` (now by default), then the area, as a context switch updates it. */
  setRunstate(state: number, at = this.clock?.now() ?? 0): void {
    if (this.runstate.change(state, at)) this.writeRunstateArea();
  }

  woken(): void {
    if (this.runstate.state === RUNSTATE_blocked && mayRun(this)) this.setRunstate(RUNSTATE_runnable);
  }

  /** A guest request the hypervisor refused after validation (Xen logs these with MEM_LOG). */
  refuse(): void {
    this.count('validation refusals');
  }

  /** Every vCPU's cached translations go (a flush, local or not, is never less than asked). */
  flushTlb(): void {
    this.shared.flushTlbs();
  }

  invalidatePage(linear: number): void {
    this.shared.invalidatePage(linear);
  }
}
