// Messages between the hypervisor (main thread) and its pCPU workers, and the layout of the shared
// words they use where a message would be too slow: the I/O request block of each pCPU (the vCPU
// waits on it while the device-model thread answers), the doorbell that tells the device-model
// thread a request is waiting, and each domain's line block (interrupt line, end, POST latch).
import type { StrategyEntry } from '@ringvisor/hypervisor-type2';
import type { MemoryRegionSpec, PvShutdownReason, Registers, SpecialRegisters, VcpuState } from '@ringvisor/vmm-api';
import type { BoardSpec } from '../dm/protocol.js';
import type { DiskExtent } from '../disk/disk-extent.js';
import type { PauseSpan } from './pause-span.js';

/** Words of a pCPU's control block (Int32Array over its SharedArrayBuffer). */
export const CTRL_REQUEST = 0;
export const CTRL_RESPONSE = 1;
export const CTRL_KIND = 2;
export const CTRL_DOMAIN = 3;
export const CTRL_ADDRESS = 4;
export const CTRL_SIZE = 5;
export const CTRL_VALUE = 6;
/** Set by the hypervisor: end the current slice at the next run boundary (a waking vCPU preempts). */
export const CTRL_PREEMPT = 7;
export const CTRL_WORDS = 8;

export const IOREQ_PORT_READ = 1;
export const IOREQ_PORT_WRITE = 2;
export const IOREQ_MMIO_READ = 3;
export const IOREQ_MMIO_WRITE = 4;
/** The INTA cycle: the interrupt controller hands out its vector. */
export const IOREQ_INTA = 5;

/** The platform's doorbell block: one word every pCPU bumps (and notifies) after posting a request. */
export const DOORBELL_RING = 0;
export const DOORBELL_WORDS = 1;

/** Words of a domain's shared line block. */
export const LINE_INTR = 0;
/** The domain is over (exit port, power-off, destroy): a running vCPU stops at the next boundary. */
export const LINE_ENDED = 1;
/**
 * 1 while the scheduler holds the vCPU blocked in HLT. Whoever exchanges it back to 0 owns the
 * wake-up: the device-model thread when it raises the line, the hypervisor when it finds the line
 * already raised as it blocks the vCPU (so a wake-up is neither lost nor sent twice).
 */
export const LINE_BLOCKED = 2;
/** The POST card's latch (port 0x80): the last byte written, -1 before any. Kept on the pCPU. */
export const LINE_POST = 3;
/** What the guest asked the board for (SHUTDOWN_*), 0 while it runs on; the exit port's status beside it. */
export const LINE_SHUTDOWN = 4;
export const LINE_SHUTDOWN_STATUS = 5;
export const LINE_WORDS = 6;

export const SHUTDOWN_EXIT_PORT = 1;
export const SHUTDOWN_POWER_OFF = 2;
export const SHUTDOWN_RESET_I8042 = 3;
export const SHUTDOWN_RESET_PORT_92 = 4;
export const SHUTDOWN_RESET_CONTROL = 5;

/** What a pCPU needs to build a domain's VM: strategy, where its RAM lies in the pool, its memory map. */
export interface DomainImage {
  readonly id: number;
  readonly strategy: StrategyEntry;
  /** Byte offset of the domain's RAM in the pool, and its length (guest-physical 0 up). */
  readonly ramOffset: number;
  readonly ramBytes: number;
  readonly regions: readonly MemoryRegionSpec[];
  readonly lines: SharedArrayBuffer;
  /**
   * Ports a device model claims (one byte per port, 1: claimed) and the MMIO windows it claims:
   * accesses elsewhere read all ones and are dropped, as the board's buses would, on the pCPU itself.
   */
  readonly claimedPorts: Uint8Array;
  readonly mmioWindows: readonly { readonly base: number; readonly end: number }[];
  /** A para-virtual domain's kernel and initrd (in shared memory), command line and disk (its blkif back end): the pCPU builds the domain. */
  readonly pv?: {
    readonly kernel: Uint8Array; readonly initrd?: Uint8Array; readonly cmdline: string; readonly disk?: DiskExtent;
    /** The hypervisor's IDs of the domain's vCPUs, vCPU 0 first: the build makes them all here (down but the first). */
    readonly vcpuIds: readonly number[];
  };
  /** The domain's DMA write log (memory/dma-log.ts): frames its devices wrote, for this pCPU's VM to forget code of. */
  readonly dmaLog: SharedArrayBuffer;
  /** The domain's time zero as wall time (performance.timeOrigin + performance.now(), ms): its clock on every thread. */
  readonly epochMs: number;
  /**
   * A domain whose vCPU never leaves one pCPU has its device models there, built from this: its
   * accesses and timers need no other thread. Absent: the device-model thread serves the domain.
   */
  readonly board?: BoardSpec;
}

/** How the vCPU starts on this pCPU: from a loader's entry state, from another pCPU's export, or as left here. */
export type VcpuStart =
  | { readonly kind: 'entry'; readonly regs: Registers; readonly sregs: SpecialRegisters }
  | { readonly kind: 'state'; readonly state: VcpuState }
  /** Build the para-virtual domain (its builder loads the vCPU's first state). */
  | { readonly kind: 'pv' }
  | { readonly kind: 'resume' };

export interface WorkerInit {
  readonly pcpu: number;
  readonly pool: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly doorbell: SharedArrayBuffer;
}

export type ToPcpu =
  /**
   * Run a slice of `vcpu`. `continued`: it is the vCPU this pCPU ran last and the pCPU has not slept
   * since, so no other vCPU had the pCPU in between (its guest's runstate stays running).
   * `lastPause`: the domain's last pause, so its waiting vCPUs' guests see that time as offline.
   */
  | {
    readonly type: 'run'; readonly vcpu: number; readonly domain: DomainImage; readonly sliceNs: number; readonly start: VcpuStart;
    readonly continued: boolean; readonly lastPause: PauseSpan | null;
  }
  /** Forget the VMs built for a domain (destroyed), then answer 'dropped': nothing here touches its frames after that. */
  | { readonly type: 'drop'; readonly domain: number }
  /** Press the ACPI power button of a domain whose device models live on this pCPU (xl shutdown). */
  | { readonly type: 'power-button'; readonly domain: number }
  /** Write `reason` to xenstore control/shutdown of the para-virtual domain resident here (xl shutdown). */
  | { readonly type: 'pv-shutdown'; readonly domain: number; readonly reason: PvShutdownReason }
  /** xl vcpu-set: `online` vCPUs of the para-virtual domain resident here, in its xenstore. */
  | { readonly type: 'pv-vcpus'; readonly domain: number; readonly online: number }
  /** Bytes typed at the console of a domain whose back end lives on this pCPU (para-virtual, or its device models here). */
  | { readonly type: 'console-input'; readonly domain: number; readonly bytes: Uint8Array }
  /** The platform stops: close the domains' disks here and answer 'stopped'. */
  | { readonly type: 'stop' };

/** Why a slice ended. */
export type SliceOutcome =
  | 'slice' | 'preempted' | 'blocked' | 'ended'
  /** The guest cannot go on: HLT with interrupts off, a triple fault, a failure in the strategy. */
  | 'crashed';

export type FromPcpu =
  | { readonly type: 'ready'; readonly pcpu: number }
  | { readonly type: 'stopped'; readonly pcpu: number }
  | { readonly type: 'dropped'; readonly pcpu: number; readonly domain: number }
  /** Console output of a domain whose back end lives on the pCPU. */
  | { readonly type: 'console'; readonly domain: number; readonly bytes: Uint8Array }
  /** A blocked vCPU has an event (its PV timer, console input, its device models' interrupt): schedule it. */
  | { readonly type: 'wake'; readonly vcpu: number }
  | {
    readonly type: 'ran'; readonly pcpu: number; readonly vcpu: number; readonly ranNs: number; readonly retired: number;
    readonly outcome: SliceOutcome; readonly detail?: string; readonly state: VcpuState | null; readonly built: boolean;
  };
