// System time and the vCPU's one-shot (and periodic) timer. The guest's time-stamp counter ticks at
// 100 MHz under both clocks (10 ns a tick: instructions under the virtual clock, host time under a
// host clock), so one pvclock snapshot (vcpu_time_info) stays exact: ns = system_time +
// ((tsc - tsc_timestamp) << 4) * 0xa0000000 >> 32.
import type { Clock, TimerId } from '@ringvisor/vmm-api';
import type { Cpu } from '@ringvisor/x86-core';
import { SHARED_INFO, TIME_INFO, VIRQ_TIMER } from './abi.js';
import type { PhysicalMemory } from '@ringvisor/mmu';

/** What the clock needs of a vCPU's domain: shared_info and its VIRQs. */
export interface TimeHost {
  readonly memory: PhysicalMemory;
  readonly sharedInfoBase: number;
  /** The vCPU whose timers these are (its VIRQ_TIMER fires). */
  readonly vcpuId: number;
  /** Machine address of the vCPU's vcpu_info (its time field is what the guest reads). */
  readonly vcpuInfoBase: number;
  readonly events: { raiseVirq(virq: number, vcpu: number): void };
}

/** Where shared_info keeps the wall clock (x86-32 and x86-64 differ; vcpu_info.time does not). */
export interface WallClockLayout {
  readonly wcVersion: number;
  readonly wcSec: number;
  readonly wcNsec: number;
}

export const NS_PER_TSC_TICK = 10;
/** Xen gives every PV vCPU a 100 Hz periodic VIRQ_TIMER; kernels that arm one-shots stop it. */
export const DEFAULT_PERIOD_NS = 10_000_000;
/** tsc_to_system_mul and tsc_shift for 10 ns a tick: (t << 4) * 0xa0000000 / 2^32 = 10 t. */
const TSC_SHIFT = 4;
const TSC_MUL = 0xa0000000;

export class DomainTime {
  private tsc0 = 0;
  private ns0 = 0;
  private singleshot: TimerId | null = null;
  private periodic: TimerId | null = null;
  private periodNs = 0;
  private version = 0;

  constructor(
    private readonly domain: TimeHost,
    private readonly cpu: Cpu,
    readonly clock: Clock,
    private readonly wallClock: WallClockLayout = SHARED_INFO,
  ) {}

  /**
   * Takes the pvclock snapshot and publishes it in the vCPU's vcpu_info; with `wallMs` (the
   * domain's first vCPU) also the wall clock in shared_info.
   */
  start(wallMs: number | null): void {
    this.tsc0 = this.cpu.readTsc();
    this.ns0 = this.clock.now();
    this.publish();
    if (wallMs === null) return;
    const memory = this.domain.memory;
    const base = this.domain.sharedInfoBase;
    // Wall-clock time at system time 0.
    const bootMs = wallMs - this.ns0 / 1e6;
    const wc = this.wallClock;
    memory.write32(base + wc.wcVersion, 1);
    memory.write32(base + wc.wcSec, Math.floor(bootMs / 1000));
    memory.write32(base + wc.wcNsec, Math.floor((bootMs % 1000) * 1e6));
    memory.write32(base + wc.wcVersion, 2);
  }

  /** Writes vcpu_info.time with an odd version while it changes, as Xen does. */
  publish(): void {
    const memory = this.domain.memory;
    const at = this.domain.vcpuInfoBase + SHARED_INFO.time;
    this.version = (this.version + 1) | 1;
    memory.write32(at + TIME_INFO.version, this.version);
    memory.write32(at + TIME_INFO.tscTimestamp, this.tsc0 % 2 ** 32);
    memory.write32(at + TIME_INFO.tscTimestamp + 4, Math.floor(this.tsc0 / 2 ** 32));
    memory.write32(at + TIME_INFO.systemTime, this.ns0 % 2 ** 32);
    memory.write32(at + TIME_INFO.systemTime + 4, Math.floor(this.ns0 / 2 ** 32));
    memory.write32(at + TIME_INFO.tscToSystemMul, TSC_MUL);
    memory.write8(at + TIME_INFO.tscShift, TSC_SHIFT);
    this.version++;
    memory.write32(at + TIME_INFO.version, this.version);
  }

  /** System time now, in ns, as the guest computes it from its TSC. */
  now(): number {
    return this.ns0 + (this.cpu.readTsc() - this.tsc0) * NS_PER_TSC_TICK;
  }

  /** set_timer_op / VCPUOP_set_singleshot_timer: VIRQ_TIMER once at `deadline` (0 cancels). */
  setSingleshot(deadline: number): void {
    this.stopSingleshot();
    if (deadline === 0) return;
    this.singleshot = this.clock.schedule(Math.max(deadline, this.clock.now()), () => {
      this.singleshot = null;
      this.domain.events.raiseVirq(VIRQ_TIMER, this.domain.vcpuId);
    });
  }

  /**
   * Runs `fire` at system time `deadline` (at once when it has passed): the poll timeout and the
   * watchdogs. Returns its cancel.
   */
  at(deadline: number, fire: () => void): () => void {
    const id = this.clock.schedule(Math.max(deadline, this.clock.now()), fire);
    return () => this.clock.cancel(id);
  }

  stopSingleshot(): void {
    if (this.singleshot !== null) this.clock.cancel(this.singleshot);
    this.singleshot = null;
  }

  /** VCPUOP_set_periodic_timer: VIRQ_TIMER every `period` ns. */
  setPeriodic(period: number): void {
    this.stopPeriodic();
    this.periodNs = period;
    const tick = (deadline: number) => {
      this.periodic = this.clock.schedule(deadline, () => {
        this.domain.events.raiseVirq(VIRQ_TIMER, this.domain.vcpuId);
        // After a long halt the next tick comes from now, not a burst of missed ones.
        tick(Math.max(deadline + this.periodNs, this.clock.now() + 1));
      });
    };
    tick(this.clock.now() + period);
  }

  stopPeriodic(): void {
    if (this.periodic !== null) this.clock.cancel(this.periodic);
    this.periodic = null;
  }
}
