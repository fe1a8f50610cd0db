import type { ExitReason, ExitStats } from '@ringvisor/vmm-api';

/** Exit counters: two Maps, one increment each per exit. */
export class ExitCounters implements ExitStats {
  readonly byReason = new Map<ExitReason, number>();
  readonly byPort = new Map<number, number>();
  /** Named counters a strategy keeps (vmm-api's `ExitStats.counters`). */
  readonly counters = new Map<string, number>();

  count(reason: ExitReason, port?: number): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (port !== undefined) this.byPort.set(port, (this.byPort.get(port) ?? 0) + 1);
  }

  countNamed(name: string, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  /** Total exits of every reason. */
  total(): number {
    let sum = 0;
    for (const value of this.byReason.values()) sum += value;
    return sum;
  }

  reset(): void {
    this.byReason.clear();
    this.byPort.clear();
    this.counters.clear();
  }
}
