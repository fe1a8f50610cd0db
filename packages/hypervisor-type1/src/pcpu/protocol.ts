// Messages between the hypervisor (main thread) and its pCPU workers, and the layout of the shared
// words they use where a message would be too slow: the I/O request block of each pCPU (the vCPU
// waits on it while the hypervisor's device model answers) and each domain's interrupt line.
import type { StrategyEntry } from '@ringvisor/hypervisor-type2';
import type { MemoryRegionSpec, Registers, SpecialRegisters, VcpuState } from '@ringvisor/vmm-api';

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

/** Words of a domain's shared line block. */
export const LINE_INTR = 0;
/** The domain is over (exit port, power-off, destroy): a running vCPU stops at the next boundary. */
export const LINE_ENDED = 1;
export const LINE_WORDS = 2;

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
  /** A para-virtual domain's kernel (in shared memory) and command line: the pCPU builds the domain. */
  readonly pv?: { readonly kernel: Uint8Array; readonly cmdline: string };
  /** The domain's time zero as wall time (performance.timeOrigin + performance.now(), ms): its clock on every thread. */
  readonly epochMs: number;
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
}

export type ToPcpu =
  | { readonly type: 'run'; readonly vcpu: number; readonly domain: DomainImage; readonly sliceNs: number; readonly start: VcpuStart }
  /** Forget the VMs built for a domain (destroyed). */
  | { readonly type: 'drop'; readonly domain: number }
  /** Bytes typed at a para-virtual domain's console (its back end lives on its pCPU). */
  | { readonly type: 'pv-input'; readonly domain: number; readonly bytes: Uint8Array };

/** Why a slice ended. */
export type SliceOutcome =
  | 'slice' | 'preempted' | 'blocked' | 'ended'
  /** The guest cannot go on: HLT with interrupts off, a triple fault, a failure in the strategy. */
  | 'crashed';

export type FromPcpu =
  | { readonly type: 'ready'; readonly pcpu: number }
  /** Output of a para-virtual domain's console ring. */
  | { readonly type: 'console'; readonly domain: number; readonly bytes: Uint8Array }
  /** A blocked para-virtual vCPU has an event (its timer, console input): schedule it. */
  | { readonly type: 'wake'; readonly vcpu: number }
  | {
    readonly type: 'ran'; readonly pcpu: number; readonly vcpu: number; readonly ranNs: number; readonly retired: number;
    readonly outcome: SliceOutcome; readonly detail?: string; readonly state: VcpuState | null; readonly built: boolean;
  };
