import type { VmExit } from './exit.js';

/** A segment register with its hidden descriptor cache. */
export interface SegmentState {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor attribute bits 40..55 of the descriptor (type, S, DPL, P, AVL, L, D/B, G) packed as in VMX's access rights: bits 0..7 type/S/DPL/P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable. */
  access: number;
}

export interface TableState { base: number; limit: number }

/** General-purpose registers, instruction pointer and flags (32-bit view; 64-bit backends zero-extend). */
export interface Registers {
  eax: number; ecx: number; edx: number; ebx: number;
  esp: number; ebp: number; esi: number; edi: number;
  eip: number; eflags: number;
}

/** System state a loader sets up before the first run. */
export interface SpecialRegisters {
  cs: SegmentState; ds: SegmentState; es: SegmentState;
  fs: SegmentState; gs: SegmentState; ss: SegmentState;
  tr: SegmentState; ldt: SegmentState;
  gdt: TableState; idt: TableState;
  cr0: number; cr2: number; cr3: number; cr4: number;
  efer: number;
}

/** An event the vCPU accepted but has not delivered yet (re-injected after a restore). */
export interface PendingEvent {
  readonly vector: number;
  readonly kind: 'external' | 'nmi' | 'exception' | 'software';
  /** The error code an exception pushes, or null. */
  readonly errorCode: number | null;
}

/**
 * The whole architectural state of a vCPU between two runs, as plain data (structured-cloneable):
 * what a hypervisor saves to move a vCPU to another physical CPU, and the basis of snapshots.
 * Caches a strategy derives from guest memory (decoded code, TLBs, shadow tables) are not in it;
 * `importState` starts them afresh.
 */
export interface VcpuState {
  readonly regs: Registers;
  readonly sregs: SpecialRegisters;
  /** DR0, DR1, DR2, DR3, DR6, DR7. */
  readonly debug: readonly number[];
  /** The model-specific registers the strategy's CPU has, the time-stamp counter (0x10) among them. */
  readonly msrs: readonly { readonly index: number; readonly value: bigint }[];
  /** x87 (and SSE, where the CPU has it) state as FXSAVE's 512-byte legacy-format image. */
  readonly fpu: Uint8Array;
  /** In HLT, waiting for an interrupt. */
  readonly halted: boolean;
  /** Interrupt shadow: 0 none, 1 after STI, 2 after MOV SS / POP SS. */
  readonly interruptShadow: number;
  readonly pendingEvent: PendingEvent | null;
  /** The hypervisor asked for an 'irq-window' exit. */
  readonly interruptWindow: boolean;
}

/** A stretch of a vCPU's wait spent paused, as ns before the call that reports it. */
export interface PausedSpan {
  readonly fromAgoNs: number;
  readonly untilAgoNs: number;
}

/** One virtual CPU. Not thread-safe: a vCPU runs on one thread (its VM's worker). */
export interface Vcpu {
  readonly index: number;
  /**
   * Runs guest code until something needs the hypervisor. `budget` bounds the run: an instruction
   * count for emulated strategies, approximately the same amount of guest time for hardware ones.
   */
  run(budget: number): VmExit;
  /** Instructions retired so far (emulated strategies), or an estimate derived from time. */
  readonly retired: number;
  /** True when `retired` is an estimate (hardware backends cannot count guest instructions). */
  readonly retiredIsEstimate?: boolean;
  /** Ask for an 'irq-window' exit as soon as the guest can take an external interrupt. */
  requestInterruptWindow(enable: boolean): void;
  /** Deliver an external interrupt vector now; only valid when the guest is interruptible. */
  injectInterrupt(vector: number): void;
  /** True when an external interrupt can be delivered at this instruction boundary. */
  readonly interruptible: boolean;
  /**
   * The hypervisor let `ticks` instruction-times of virtual time pass without running this vCPU
   * (a halted guest skipped to its next timer). A strategy whose time-stamp counter counts retired
   * instructions adds `ticks` to it, so the TSC keeps pace with the virtual clock across HLT.
   * Strategies whose TSC follows host time (hardware ones) leave it out; callers skip it then.
   */
  advanceTsc?(ticks: number): void;
  /**
   * True when a halted vCPU has something to take that does not come from the interrupt
   * controller (a para-virtual event channel became pending): the hypervisor wakes it. Strategies
   * without such events leave it out.
   */
  hasPendingEvent?(): boolean;
  /**
   * Its last run() ended with its budget and it has not run since, although it could: the
   * hypervisor gave its CPU to another vCPU, or held it back (a cap), from `agoNs` ns ago. A
   * strategy that reports scheduling to its guest (Xen's runstate: runnable) records it; the next
   * run() ends it. Hypervisors call it only on such a switch, not between runs of one vCPU.
   * `paused`: within that wait the administrator paused it (xl pause), so it could not have run
   * at all (Xen's runstate: offline) from `fromAgoNs` to `untilAgoNs` ns ago.
   */
  preempted?(agoNs: number, paused?: PausedSpan): void;
  /** The complete state (optional: strategies that can move a vCPU between threads have it). */
  exportState?(): VcpuState;
  /** Loads a state `exportState` gave, on this or another instance of the same strategy. */
  importState?(state: VcpuState): void;
  getRegisters(): Registers;
  setRegisters(regs: Registers): void;
  getSpecialRegisters(): SpecialRegisters;
  setSpecialRegisters(sregs: SpecialRegisters): void;
}
