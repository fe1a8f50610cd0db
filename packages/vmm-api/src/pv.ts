import type { Clock } from './clock.js';
import type { Registers, SpecialRegisters } from './vcpu.js';

/**
 * The para-virtual seam: a strategy whose guests call the hypervisor instead of executing
 * privileged instructions (Xen's PV ABI) builds the guest's domain itself, because the initial
 * state (page tables it has validated, start_info, the hypervisor's selectors) is part of the ABI,
 * not something a generic loader can write. The board provides the host ends of the split devices.
 */

/** A disk the para-virtual block back end serves (the shape of devices' BlockBackend). */
export interface PvBlockDevice {
  /** Size in bytes; whole 512-byte sectors are exposed. */
  readonly size: number;
  readonly readOnly: boolean;
  read(offset: number, into: Uint8Array): void;
  write(offset: number, from: Uint8Array): void;
  flush(): void;
}

/** The host end of the guest's console. */
export interface PvConsoleHost {
  /** Guest output; returns how many bytes the host took (the rest stays in the guest's ring). */
  write(bytes: Uint8Array): number;
}

/** What a para-virtual domain is built from. */
export interface PvDomainConfig {
  /** The kernel: an ELF image carrying its para-virtual ABI notes (Xen's ELF notes). */
  readonly image: Uint8Array;
  readonly cmdline?: string;
  /** An initial ramdisk the builder loads after the kernel (start_info's module). */
  readonly initrd?: Uint8Array;
  readonly console: PvConsoleHost;
  readonly disk?: PvBlockDevice;
  /** The clock the domain's timers and its system time follow. */
  readonly clock: Clock;
  /**
   * max_vcpus: vCPU 0 starts; the guest brings up the others (Xen's VCPUOP_initialise and
   * VCPUOP_up), each then `Vm.createVcpu(id)`. 1 when absent.
   */
  readonly vcpus?: number;
}

/** What the toolstack may ask of a para-virtual guest through xenstore's control/shutdown node. */
export type PvShutdownReason = 'poweroff' | 'reboot';

/** A built para-virtual domain: its first vCPU state and the host's handles on it. */
export interface PvDomain {
  readonly regs: Registers;
  readonly sregs: SpecialRegisters;
  /** Bytes typed on the host for the guest console; returns how many the guest's ring took. */
  consoleInput(bytes: Uint8Array): number;
  /** The host drained console output: move what waits in the guest's ring. */
  consoleOutputRoom(): void;
  /**
   * Asks the guest to shut down the way Xen's toolstack does (xl shutdown, xl reboot): writes
   * `reason` to its xenstore node control/shutdown, firing the guest's watches on it. The guest
   * decides: one that watches the node acknowledges and ends through sched_op(shutdown); one that
   * does not runs on, and the request waits in the node. Throws a RangeError for another reason.
   */
  requestShutdown(reason: PvShutdownReason): void;
  /**
   * xl vcpu-set: writes each vCPU's xenstore node cpu/N/availability, `online` below `count` and
   * `offline` from it, firing the guest's watches; the guest brings vCPUs up or takes them down
   * itself (Linux's xen cpu_hotplug). Throws a RangeError for a count outside 1..max_vcpus.
   */
  setOnlineVcpus?(count: number): void;
}

/** The optional part of `Vm` a para-virtualizing strategy implements. */
export interface PvCapableVm {
  /** Builds the domain in this VM's memory; throws a one-line Error for an image it cannot boot. */
  buildPvDomain?(config: PvDomainConfig): PvDomain;
}
