import type { Clock } from './clock.js';
import type { IoBus, MmioBus } from './bus.js';
import type { InterruptController } from './irq.js';
import type { GuestMemory, MemoryRegionSpec } from './memory.js';
import type { ExitStats } from './stats.js';
import type { PvCapableVm } from './pv.js';
import type { Vcpu } from './vcpu.js';

/** Everything a strategy needs to build a VM: its memory map, its buses and its interrupt source. */
export interface VmSpec {
  /** RAM and ROM regions; guest-physical addresses outside them go to `mmio`. */
  readonly regions: readonly MemoryRegionSpec[];
  readonly io: IoBus;
  readonly mmio: MmioBus;
  /**
   * Source of external interrupts. Emulated CPUs poll it at instruction boundaries; hardware
   * backends inject its vector when the guest is interruptible, asking for a window otherwise.
   */
  readonly interrupts: InterruptController;
  readonly stats: ExitStats;
  /**
   * Memory for RAM regions may be provided by the caller: a buffer (e.g. a SharedArrayBuffer), or a
   * view of one whose first byte is the region's (a type-1 hypervisor's frames in its RAM pool).
   */
  readonly ramBacking?: (region: MemoryRegionSpec) => ArrayBufferLike | Uint8Array | undefined;
  /**
   * The clock the devices read. With a host clock, a strategy whose time-stamp counter would count
   * retired instructions makes it follow this clock instead, so the TSC keeps pace with the timers
   * the guest calibrates it against; a virtual clock's time is retired instructions already.
   */
  readonly clock?: Clock;
}

/** One virtual machine built by a strategy (`buildPvDomain` only for para-virtualizing ones). */
export interface Vm extends PvCapableVm {
  readonly memory: GuestMemory;
  createVcpu(index: number): Vcpu;
  /**
   * The A20 gate (i8042 output port bit 1, port 0x92 bit 1): while disabled, bit 20 of every
   * guest-physical address reads as 0, as on the 8086. Optional: a hardware backend that cannot
   * model it leaves it out, and the board's A20 requests then have no effect.
   */
  setA20?(enabled: boolean): void;
  /** Releases host resources (file descriptors, mappings). */
  destroy(): void;
}

/** A VMM strategy (`none`, `full`, `para`, `hw`): the one thing `--vmm NAME` chooses. */
export interface VmmStrategy {
  readonly name: string;
  readonly description: string;
  /** Why this strategy cannot run here, or null when it can (e.g. /dev/kvm missing). */
  unavailableReason(): string | null;
  /**
   * What this host's backend cannot run although the strategy is available (e.g. a nested KVM
   * that refuses 32-bit paging), or null. Optional: left out means no known limitation.
   */
  limitations?(): string | null;
  createVm(spec: VmSpec): Vm;
  /**
   * How many bytes from address 0 `createVm` asks `ramBacking` for when guest RAM ends at
   * `guestRamEnd`: more when the strategy keeps its own frames above guest RAM in the same memory
   * (a type-1 hypervisor reserves that much of its pool). Left out: exactly `guestRamEnd`.
   */
  hostRamSize?(guestRamEnd: number): number;
}
