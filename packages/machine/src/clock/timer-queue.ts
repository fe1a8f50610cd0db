import type { TimerId } from '@ringvisor/vmm-api';

interface Timer {
  deadline: number;
  id: TimerId;
  callback: () => void;
}

/**
 * Deadlines ordered by time, then by scheduling order (so equal deadlines fire reproducibly).
 * A binary min-heap; cancelled timers are dropped lazily when they reach the top.
 */
export class TimerQueue {
  private readonly heap: Timer[] = [];
  private readonly live = new Set<TimerId>();
  /** Timers armed during a runDue, held back until it ends (reused: runDue runs once per exit). */
  private readonly deferred: Timer[] = [];
  private nextId = 1;

  schedule(deadline: number, callback: () => void): TimerId {
    const id = this.nextId++;
    this.live.add(id);
    this.heap.push({ deadline, id, callback });
    this.siftUp(this.heap.length - 1);
    return id;
  }

  cancel(id: TimerId): void {
    this.live.delete(id);
    // Devices that re-arm often cancel far-off timers; rebuild before the dead ones pile up.
    if (this.heap.length > 64 && this.heap.length > 2 * this.live.size) this.compact();
  }

  /** The earliest live deadline, or null when nothing is scheduled. */
  nextDeadline(): number | null {
    this.dropCancelled();
    return this.heap.length > 0 ? this.heap[0].deadline : null;
  }

  /**
   * Runs every timer due at `now`, in deadline order. Timers scheduled by those callbacks wait for
   * the next call even when already due, so a device that re-arms at `now` cannot hang the loop.
   * Returns how many callbacks ran.
   */
  runDue(now: number): number {
    const firstNewId = this.nextId;
    const deferred = this.deferred;
    let ran = 0;
    while (true) {
      this.dropCancelled();
      const top = this.heap[0];
      if (top === undefined || top.deadline > now) break;
      this.pop();
      if (top.id >= firstNewId) {
        deferred.push(top);
        continue;
      }
      this.live.delete(top.id);
      ran++;
      top.callback();
    }
    for (const timer of deferred) {
      this.heap.push(timer);
      this.siftUp(this.heap.length - 1);
    }
    deferred.length = 0;
    return ran;
  }

  get size(): number {
    return this.live.size;
  }

  private compact(): void {
    const kept = this.heap.filter((timer) => this.live.has(timer.id));
    this.heap.length = 0;
    for (const timer of kept) {
      this.heap.push(timer);
      this.siftUp(this.heap.length - 1);
    }
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && !this.live.has(this.heap[0].id)) this.pop();
  }

  private pop(): void {
    const last = this.heap.pop() as Timer;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
  }

  private before(a: Timer, b: Timer): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.id < b.id);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(heap[index], heap[parent])) return;
      [heap[index], heap[parent]] = [heap[parent], heap[index]];
      index = parent;
    }
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    while (true) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && this.before(heap[left], heap[smallest])) smallest = left;
      if (right < heap.length && this.before(heap[right], heap[smallest])) smallest = right;
      if (smallest === index) return;
      [heap[index], heap[smallest]] = [heap[smallest], heap[index]];
      index = smallest;
    }
  }
}
