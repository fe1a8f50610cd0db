// A walk context over the guest's own tables that reads them without writing: a walk through it
// sets no accessed or dirty bits, for looking at a mapping the guest CPU is not using.
import type { PageTableMemory, WalkContext } from '../paging/walk.js';

export class PeekContext implements WalkContext {
  readonly tables: PageTableMemory;

  constructor(private readonly of: WalkContext) {
    const tables = of.tables;
    this.tables = { read32: (address) => tables.read32(address), write32: () => undefined, or32: () => undefined };
  }

  get cr0(): number { return this.of.cr0; }
  get cr3(): number { return this.of.cr3; }
  get cr4(): number { return this.of.cr4; }
  get efer(): number { return this.of.efer; }
  get maxPhysAddrBits(): number { return this.of.maxPhysAddrBits; }
}
