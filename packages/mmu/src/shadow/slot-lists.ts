// Intrusive doubly-linked lists of shadow-entry slots (slot = shadow page × 1024 + index) in typed
// arrays: which root slots link a shadow page table, which leaves map a guest frame writable.

export class SlotLists {
  readonly prev: Int32Array;
  readonly next: Int32Array;
  /** The list a slot is on (an index into the caller's head array), or -1. */
  readonly owner: Int32Array;

  constructor(slots: number) {
    this.prev = new Int32Array(slots);
    this.next = new Int32Array(slots);
    this.owner = new Int32Array(slots).fill(-1);
  }

  push(heads: Int32Array, list: number, slot: number): void {
    const head = heads[list];
    this.prev[slot] = -1;
    this.next[slot] = head;
    if (head >= 0) this.prev[head] = slot;
    heads[list] = slot;
    this.owner[slot] = list;
  }

  remove(heads: Int32Array, slot: number): void {
    const list = this.owner[slot];
    if (list < 0) return;
    const before = this.prev[slot];
    const after = this.next[slot];
    if (before >= 0) this.next[before] = after;
    else heads[list] = after;
    if (after >= 0) this.prev[after] = before;
    this.owner[slot] = -1;
  }
}
