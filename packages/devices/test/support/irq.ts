// An IrqLine that records what a device does with it: the current level, every level change, and
// the number of rising edges (what an edge-triggered controller would count as interrupts).
import type { IrqLine } from '@ringvisor/vmm-api';

export class IrqRecorder implements IrqLine {
  level = false;
  /** Every `set` call in order, including ones that do not change the level. */
  readonly history: boolean[] = [];
  risingEdges = 0;

  set(level: boolean): void {
    this.history.push(level);
    if (level && !this.level) this.risingEdges++;
    this.level = level;
  }

  /** Forgets the history and edge count, keeping the current level. */
  clear(): void {
    this.history.length = 0;
    this.risingEdges = 0;
  }
}
