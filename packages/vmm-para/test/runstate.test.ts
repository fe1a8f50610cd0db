// Runstate (Xen's vcpu_runstate_info) of an x86-32 PV vCPU: the area it registers follows what the
// hypervisor did with it (running, preempted, blocked, woken, offline), VCPUOP_get_runstate_info
// adds the current state's time, vm_assist's runstate_update_flag brackets each rewrite — and hostile
// handles get Xen's codes. The 64-bit layout is in pv64-builder.test.ts.
import { describe, expect, it } from 'vitest';
import { EFAULT, EINVAL, ENOENT, ENOSYS, HYPERVISOR_VIRT_START } from '../src/abi.js';
import type { PvGuest } from '../src/pv-guest.js';
import { Runstate, RUNSTATE_LAYOUT_32, RUNSTATE_LAYOUT_64 } from '../src/runstate.js';
import { DirectDomain, outsideDigest } from './direct-domain.js';
import { TRAPS_GUEST } from './guests/traps-guest.js';
import { assembleGuest, bootGuest, haveToolchain } from './pv-harness.js';

const toolchain = haveToolchain();
const VCPU_OP = 24;
const VM_ASSIST = 21;
const VCPUOP_get_runstate_info = 4;
const VCPUOP_register_runstate_memory_area = 5;
const RUNNING = 0;
const RUNNABLE = 1;
const BLOCKED = 2;
const OFFLINE = 3;

/** The x86-32 struct at `at`: state, entry time and times (u64s at 4-byte alignment). */
function readInfo(direct: DirectDomain, at: number): { state: number; entry: number; time: number[] } {
  const u64 = (p: number) => direct.get32(p) + direct.get32(p + 4) * 2 ** 32;
  return { state: direct.get32(at), entry: u64(at + 4), time: [0, 1, 2, 3].map((i) => u64(at + 12 + i * 8)) };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe.skipIf(!toolchain)('para: runstate of an x86-32 vCPU', () => {
  function setup() {
    const booted = bootGuest(assembleGuest(TRAPS_GUEST), { vcpus: 2 });
    const direct = new DirectDomain(booted);
    const arg = direct.scratch;
    const area = direct.scratch + 0x100;
    const register = (vcpu: number, at: number) => {
      direct.put32(arg, at, 0);
      return direct.call(VCPU_OP, VCPUOP_register_runstate_memory_area, vcpu, arg);
    };
    return { booted, direct, arg, area, register };
  }

  it('keeps the registered area up to date through running, preemption, blocking, wake-up and power-off', () => {
    const { booted, direct, area, register } = setup();
    const vcpu = booted.vcpu;
    expect(register(0, area)).toBe(0);
    // Written at once: never run yet, so offline since system time 0.
    expect(readInfo(direct, area)).toEqual({ state: OFFLINE, entry: 0, time: [0, 0, 0, 0] });

    // It first runs 1 µs into the domain's life.
    vcpu.advanceTsc?.(100);
    expect(vcpu.run(40)).toEqual({ reason: 'budget' });
    const first = readInfo(direct, area);
    expect(first.state).toBe(RUNNING);
    expect(first.entry).toBe(1000);
    expect(first.time[OFFLINE]).toBe(1000);
    // Another vCPU runs for 10 µs (its TSC follows), then this one is preempted: runnable from then.
    const now = () => (booted.pv as PvGuest).domain.clock!.now();
    const ranUntil = now();
    vcpu.advanceTsc?.(1000);
    vcpu.preempted?.(10_000);
    const preempted = readInfo(direct, area);
    expect(preempted.state).toBe(RUNNABLE);
    expect(preempted.entry).toBe(ranUntil);
    expect(preempted.time[RUNNING]).toBe(ranUntil - first.entry);
    // 20 µs more of waiting, then it runs again: all 30 µs were runnable.
    vcpu.advanceTsc?.(2000);
    expect(vcpu.run(40)).toEqual({ reason: 'budget' });
    const again = readInfo(direct, area);
    expect(again.state).toBe(RUNNING);
    expect(again.time[RUNNABLE]).toBe(30_000);
    // Running on without a switch changes nothing in the area.
    vcpu.run(10);
    expect(readInfo(direct, area)).toEqual(again);

    // The guest goes on to block for its 1 ms timer, wakes, and powers off.
    expect(booted.run()).toEqual({ reason: 'shutdown', cause: 'power-off' });
    expect(booted.output()).toContain('woke');
    const end = readInfo(direct, area);
    expect(end.state).toBe(OFFLINE);
    expect(end.time[BLOCKED]).toBeGreaterThan(900_000);
    expect(end.time[BLOCKED]).toBeLessThanOrEqual(1_000_000);
    // Woken by its timer and run at once: no more runnable time than before.
    expect(end.time[RUNNABLE]).toBe(30_000);
    // Every ns from 0 to the last change is in exactly one state.
    expect(sum(end.time)).toBe(end.entry);
  });

  it('counts a pause inside a wait as offline, as Xen does for a vCPU that is not runnable', () => {
    const { booted, direct, area, register } = setup();
    const vcpu = booted.vcpu;
    expect(register(0, area)).toBe(0);
    expect(vcpu.run(40)).toEqual({ reason: 'budget' });
    const ran = readInfo(direct, area);
    const now = () => (booted.pv as PvGuest).domain.clock!.now();
    // 100 µs after its slice ended it is told: runnable 10 µs, paused 60 µs, runnable again 30 µs.
    const sliceEnd = now();
    vcpu.advanceTsc?.(10_000);
    vcpu.preempted?.(100_000, { fromAgoNs: 90_000, untilAgoNs: 30_000 });
    const waited = readInfo(direct, area);
    expect(waited.state).toBe(RUNNABLE);
    expect(waited.entry).toBe(sliceEnd + 70_000);
    expect(waited.time[RUNNING]).toBe(sliceEnd - ran.entry);
    expect(waited.time[RUNNABLE]).toBe(10_000);
    expect(waited.time[OFFLINE]).toBe(ran.time[OFFLINE] + 60_000);
    expect(vcpu.run(40)).toEqual({ reason: 'budget' });
    expect(readInfo(direct, area).time[RUNNABLE]).toBe(40_000);

    // Paused while it ran (the pause takes it at its slice's end): offline from there, never before.
    const second = now();
    vcpu.advanceTsc?.(5_000);
    vcpu.preempted?.(50_000, { fromAgoNs: 80_000, untilAgoNs: 20_000 });
    const paused = readInfo(direct, area);
    expect(paused.time[RUNNABLE]).toBe(40_000);
    expect(paused.time[OFFLINE]).toBe(ran.time[OFFLINE] + 60_000 + 30_000);
    expect(paused.entry).toBe(second + 30_000);
    expect(sum(paused.time)).toBe(paused.entry);
  });

  it('answers VCPUOP_get_runstate_info with the current state counted up to now, for any vCPU', () => {
    const { booted, direct, area } = setup();
    const vcpu = booted.vcpu;
    vcpu.run(40);
    vcpu.advanceTsc?.(500);
    expect(direct.call(VCPU_OP, VCPUOP_get_runstate_info, 0, area)).toBe(0);
    const now = readInfo(direct, area);
    expect(now.state).toBe(RUNNING);
    // Running since its entry, up to the TSC's now (5 µs after the run).
    expect(now.time[RUNNING]).toBe((booted.pv as PvGuest).domain.clock!.now() - now.entry);
    // vCPU 1 was never brought up: offline all along.
    expect(direct.call(VCPU_OP, VCPUOP_get_runstate_info, 1, area)).toBe(0);
    const other = readInfo(direct, area);
    expect(other.state).toBe(OFFLINE);
    expect(other.entry).toBe(0);
    expect(other.time[OFFLINE]).toBeGreaterThan(0);
    // The stored runstate is not changed by asking.
    const guest = booted.pv as PvGuest;
    expect(guest.domain.runstate.time[RUNNING]).toBe(0);
  });

  it('refuses hostile handles with Xen codes and never writes outside the guest', () => {
    const { booted, direct, area, register } = setup();
    const outside = outsideDigest(direct.domain);
    expect(register(2, area)).toBe(ENOENT);
    expect(register(0xffffffff, area)).toBe(ENOENT);
    expect(direct.call(VCPU_OP, VCPUOP_get_runstate_info, 2, area)).toBe(ENOENT);
    // Into the hypervisor's range, or across its start: -EFAULT, as guest_handle_okay says.
    expect(register(0, HYPERVISOR_VIRT_START)).toBe(EFAULT);
    expect(register(0, HYPERVISOR_VIRT_START - 8)).toBe(EFAULT);
    expect(register(0, 0xfffffff0)).toBe(EFAULT);
    expect(direct.call(VCPU_OP, VCPUOP_get_runstate_info, 0, HYPERVISOR_VIRT_START - 8)).toBe(EFAULT);
    // Unmapped: the copy fails (-EFAULT) for get; for register Xen takes the handle and its later copies fail quietly.
    expect(direct.call(VCPU_OP, VCPUOP_get_runstate_info, 0, 0x1000)).toBe(EFAULT);
    expect(direct.call(VCPU_OP, VCPUOP_register_runstate_memory_area, 0, 0x1000)).toBe(EFAULT);
    expect(register(0, 0x1000)).toBe(0);
    expect(booted.vcpu.run(40)).toEqual({ reason: 'budget' });
    booted.vcpu.preempted?.(0);
    // A null handle stops the updates.
    expect(register(0, area)).toBe(0);
    const before = readInfo(direct, area);
    expect(register(0, 0)).toBe(0);
    booted.vcpu.run(40);
    expect(readInfo(direct, area)).toEqual(before);
    expect(outsideDigest(direct.domain)).toBe(outside);
  });

  it('switches runstate_update_flag with vm_assist; other assists are -EINVAL, other commands -ENOSYS', () => {
    const { booted, direct } = setup();
    const shared = (booted.pv as PvGuest).domain.shared;
    expect(direct.call(VM_ASSIST, 0, 5)).toBe(0);
    expect(shared.runstateUpdateFlag).toBe(true);
    expect(direct.call(VM_ASSIST, 1, 5)).toBe(0);
    expect(shared.runstateUpdateFlag).toBe(false);
    for (const type of [0, 1, 2, 3, 4, 6, 31, 0xffffffff]) expect(direct.call(VM_ASSIST, 0, type)).toBe(EINVAL);
    expect(direct.call(VM_ASSIST, 2, 5)).toBe(ENOSYS);
    expect(direct.call(VM_ASSIST, 0xffffffff, 5)).toBe(ENOSYS);
  });
});

describe('runstate: the struct as written', () => {
  it('sets XEN_RUNSTATE_UPDATE in the entry time first and clears it last when the guest asked for it', () => {
    const runstate = new Runstate();
    runstate.change(0, 5_000_000_000);
    runstate.change(2, 7_000_000_000);
    for (const [layout, flag] of [[RUNSTATE_LAYOUT_32, true], [RUNSTATE_LAYOUT_64, true], [RUNSTATE_LAYOUT_64, false]] as const) {
      const writes: [number, number][] = [];
      runstate.write({ write32: (at, value) => writes.push([at, value >>> 0]) }, 0, layout, null, flag);
      const hi = layout.entryTime + 4;
      if (flag) {
        expect(writes[0]).toEqual([hi, 0x8000_0001]);
      } else {
        expect(writes.filter(([at]) => at === hi)).toHaveLength(1);
      }
      expect(writes.at(-1)).toEqual([hi, 1]);
      const memory = new Map(writes);
      expect(memory.get(0)).toBe(2);
      expect(memory.get(layout.entryTime)! + memory.get(hi)! * 2 ** 32).toBe(7_000_000_000);
      const time = (i: number) => memory.get(layout.time + i * 8)! + memory.get(layout.time + i * 8 + 4)! * 2 ** 32;
      expect([0, 1, 2, 3].map(time)).toEqual([2_000_000_000, 0, 0, 5_000_000_000]);
      expect(Math.max(...writes.map(([at]) => at)) + 4).toBe(layout.size);
    }
  });
});
