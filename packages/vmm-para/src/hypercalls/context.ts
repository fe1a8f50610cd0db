import type { ConsoleBackend } from '../backends/console.js';
import type { GrantTable } from '../backends/grant-table.js';
import type { Domain } from '../domain.js';
import type { Runstate } from '../runstate.js';
import type { DomainTime } from '../time.js';

/** Work items one hypercall handles before it continues itself (Xen's hypercall_preempt_check). */
export const PREEMPT_BATCH = 1024;
/** Bit 31 of a count: the call is a continuation (MMU_UPDATE_PREEMPTED). */
export const PREEMPTED = 0x80000000;

/** What vcpu_op needs of a vCPU's hypercall context, 32- or 64-bit. */
export interface VcpuControl {
  readonly domain: {
    up: boolean;
    initialised: boolean;
    readonly runstate: Runstate;
    runstateArea: number | null;
    readonly clock: { now(): number } | null;
    setRunstate(state: number): void;
    writeRunstateArea(): void;
  };
  readonly time: DomainTime;
}

/** The domain's vCPUs, as vcpu_op reaches them. */
export interface SmpHost<C extends VcpuControl = HypercallContext> {
  /** max_vcpus: IDs below it exist. */
  readonly maxVcpus: number;
  /** vCPU `id`'s context, or null while nothing has made it (it is down and uninitialised then). */
  vcpu(id: number): C | null;
  /** Makes vCPU `id` (its CPU and guest context), down and uninitialised. */
  make(id: number): C;
}

/** What a hypercall handler works on: the calling vCPU's. */
export interface HypercallContext {
  readonly domain: Domain;
  readonly smp: SmpHost;
  readonly time: DomainTime;
  readonly grants: GrantTable;
  readonly console: ConsoleBackend | null;
  /** Inside a multicall: no second multicall, no iret. */
  readonly nested: boolean;
  /**
   * Asks for a continuation: the guest re-executes the hypercall with these arguments (Xen's
   * hypercall_create_continuation), so a long request never holds the vCPU for long.
   */
  continueWith(args: number[]): void;
  /** The console back end takes hypervisor console output (console_io write). */
  consoleWrite(bytes: Uint8Array): void;
}
