/** Why `Vcpu.run()` returned. Port I/O and MMIO are listed because they are counted as exits. */
export type ExitReason =
  | 'io'
  | 'mmio'
  | 'hlt'
  | 'irq-window'
  | 'budget'
  | 'hypercall'
  | 'shutdown'
  | 'exception'
  | 'internal-error'
  | 'fail-entry';

/** The run budget (instructions or a time slice) is used up; timers may be due. */
export interface BudgetExit { readonly reason: 'budget' }
/** The guest executed HLT; `interruptsEnabled` tells whether an interrupt can wake it. */
export interface HltExit { readonly reason: 'hlt'; readonly interruptsEnabled: boolean }
/** The guest can take an interrupt now (requested with `requestInterruptWindow`). */
export interface IrqWindowExit { readonly reason: 'irq-window' }
/** A para-virtual call the strategy leaves to the hypervisor. */
export interface HypercallExit {
  readonly reason: 'hypercall';
  readonly nr: number;
  readonly args: readonly number[];
  /** Set the value the guest receives as the hypercall's result. */
  complete(result: number): void;
}
/**
 * The machine is gone: triple fault, guest power-off or reset request, or (para-virtual) the
 * domain's watchdog timer expired (Xen's SHUTDOWN_watchdog).
 */
export interface ShutdownExit {
  readonly reason: 'shutdown';
  readonly cause: 'triple-fault' | 'power-off' | 'reset' | 'watchdog';
  readonly detail?: string;
}
/** An exception the strategy was asked to surface instead of delivering (debugging, tests). */
export interface ExceptionExit {
  readonly reason: 'exception';
  readonly vector: number;
  readonly errorCode?: number;
  readonly address?: number;
}
/** The backend cannot continue (emulation failure, KVM internal error). */
export interface InternalErrorExit { readonly reason: 'internal-error'; readonly detail: string }
/** The backend refused to enter the guest (invalid guest state). */
export interface FailEntryExit { readonly reason: 'fail-entry'; readonly code: number; readonly detail: string }

/**
 * What `run()` returns. Port I/O and MMIO are dispatched by the vCPU itself to the buses the VM
 * was created with (as Firecracker's vCPU threads do) and only counted, so they never appear here.
 * The object may be reused by the next `run()`: read it before calling `run()` again.
 */
export type VmExit =
  | BudgetExit
  | HltExit
  | IrqWindowExit
  | HypercallExit
  | ShutdownExit
  | ExceptionExit
  | InternalErrorExit
  | FailEntryExit;
