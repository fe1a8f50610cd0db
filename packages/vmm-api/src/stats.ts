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
   * Strategy-specific counters by name, `group/item` (e.g. `vmx exits/30 I/O instruction`), for what
   * only one technique has (VM exits by hardware reason, EPT violations, 2-D walks). Optional:
   * sinks that do not keep them leave `add` out and strategies skip it.
   */
  readonly details?: ReadonlyMap<string, number>;
  add?(counter: string, n: number): void;
}
