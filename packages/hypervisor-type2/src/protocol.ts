// Messages between a HostedVm (main thread) and its VM's worker thread. Everything here must survive
// structured cloning; guest RAM crosses as SharedArrayBuffers.
import type { MachineConfig } from './machine-config.js';
import type { VmEnd } from './result.js';
import type { StatsSnapshot } from './stats.js';
import type { StrategyEntry } from './strategy-registry.js';

export interface WorkerConfig {
  readonly strategy: StrategyEntry;
  readonly machine: MachineConfig;
  readonly clock: 'virtual' | 'host';
  /** Keep a halted guest's virtual time from running ahead of wall time. */
  readonly paced: boolean;
  /** False when the serial backend can never send input (a file). */
  readonly serialInput: boolean;
}

export type ToWorker =
  | { readonly type: 'pause' }
  | { readonly type: 'resume' }
  | { readonly type: 'stop'; readonly end: VmEnd }
  | { readonly type: 'stats'; readonly id: number }
  | { readonly type: 'serial-in'; readonly bytes: Uint8Array }
  /** The sink wrote this many bytes of earlier 'serial-out' messages (returns output credit). */
  | { readonly type: 'serial-ack'; readonly bytes: number }
  | { readonly type: 'serial-in-closed' }
  /** Press the board's ACPI power button. */
  | { readonly type: 'power-button' };

export interface RamRegion {
  readonly base: number;
  readonly buffer: SharedArrayBuffer;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly ram: readonly RamRegion[] }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'serial-out'; readonly bytes: Uint8Array }
  | { readonly type: 'stats'; readonly id: number; readonly snapshot: StatsSnapshot }
  | { readonly type: 'ended'; readonly end: VmEnd; readonly stats: StatsSnapshot };
