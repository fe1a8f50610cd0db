// A vCPU's runstate (Xen's vcpu_runstate_info, public/vcpu.h): the state it is in since when, and
// the ns of system time it has spent in each. It changes where Xen's scheduler changes it
// (vcpu_runstate_change): running while it runs, runnable while it could run but its CPU is
// elsewhere (its slice went to another vCPU, or a cap holds it back), blocked in sched_op, offline
// while down. The guest reads it from the area it registered or with VCPUOP_get_runstate_info;
// Linux counts runnable + offline as steal time.

export const RUNSTATE_running = 0;
export const RUNSTATE_runnable = 1;
export const RUNSTATE_blocked = 2;
export const RUNSTATE_offline = 3;

/** state_entry_time's top bit (in its high word) while the area is rewritten (VMASST_TYPE_runstate_update_flag). */
const XEN_RUNSTATE_UPDATE_HI = 0x8000_0000;
const TWO_32 = 0x1_0000_0000;

/** Where the struct's fields are: x86-32 aligns its u64s to 4 bytes, x86-64 to 8. */
export interface RunstateLayout {
  readonly entryTime: number;
  readonly time: number;
  readonly size: number;
}

export const RUNSTATE_LAYOUT_32: RunstateLayout = { entryTime: 4, time: 12, size: 44 };
export const RUNSTATE_LAYOUT_64: RunstateLayout = { entryTime: 8, time: 16, size: 48 };

/** A guest's memory as the hypervisor's copy_to_guest reaches it (throws GuestFault where it cannot). */
export interface RunstateSink {
  write32(linear: number, value: number): void;
}

export class Runstate {
  state = RUNSTATE_offline;
  /** System time the current state began. */
  entryTime = 0;
  /** ns in each state before `entryTime`. */
  readonly time = new Float64Array(4);

  /** Xen's vcpu_runstate_change: the time since entry goes to the state left. False when `state` is the current one. */
  change(state: number, at: number): boolean {
    if (state === this.state) return false;
    const delta = at - this.entryTime;
    if (delta > 0) {
      this.time[this.state] += delta;
      this.entryTime = at;
    }
    this.state = state;
    return true;
  }

  /**
   * Writes the struct at `at` (Xen's vcpu_runstate_get for `now`, or the stored times when `now`
   * is null: what the area holds, as Xen copies it at a context switch). With `updateFlag`, the
   * entry time carries XEN_RUNSTATE_UPDATE while the rest is written, as Xen does for guests that
   * asked for it.
   */
  write(sink: RunstateSink, at: number, layout: RunstateLayout, now: number | null, updateFlag: boolean): void {
    const entryLo = this.entryTime % TWO_32;
    const entryHi = Math.floor(this.entryTime / TWO_32);
    if (updateFlag) sink.write32(at + layout.entryTime + 4, (entryHi | XEN_RUNSTATE_UPDATE_HI) >>> 0);
    sink.write32(at, this.state);
    sink.write32(at + layout.entryTime, entryLo);
    for (let state = 0; state < 4; state++) {
      let ns = this.time[state];
      if (now !== null && state === this.state && now > this.entryTime) ns += now - this.entryTime;
      const field = at + layout.time + state * 8;
      sink.write32(field, ns % TWO_32);
      sink.write32(field + 4, Math.floor(ns / TWO_32));
    }
    sink.write32(at + layout.entryTime + 4, entryHi);
  }
}
