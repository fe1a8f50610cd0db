import type { ExitReason } from './exit.js';

/**
 * Exit counters shared by a VM's vCPUs and its hypervisor. Strategies count every exit they
 * handle, including port I/O and MMIO they dispatch themselves, so the numbers mean the same under
 * every strategy.
 */
export interface ExitStats {
  /** Count of exits by reason. */
  readonly byReason: Map<ExitReason, number>;
  /** Count of port-I/O exits by port number. */
  readonly byPort: Map<number, number>;
  count(reason: ExitReason, port?: number): void;
  /**
   * Named counters a strategy keeps beyond exits (para-virtual: hypercalls by name, multicall
   * batches, events, ring requests, validation refusals). Optional: sinks that keep none leave it out.
   */
  readonly counters?: Map<string, number>;
  countNamed?(name: string, n?: number): void;
}
