// pvclock and the vCPU timers, read the way a guest reads them.
import { describe, expect, it } from 'vitest';
import { ETIME, SHARED_INFO, TIME_INFO } from '../src/abi.js';
import { DirectDomain } from './direct-domain.js';
import { assembleGuest, bootGuest, haveToolchain } from './pv-harness.js';

describe.skipIf(!haveToolchain())('time', () => {
  const image = haveToolchain() ? assembleGuest('_start: inc %eax\n  jmp _start') : new Uint8Array();

  it('publishes a stable vcpu_time_info whose pvclock formula gives the system time', () => {
    const booted = bootGuest(image);
    const d = new DirectDomain(booted);
    booted.vcpu.run(12_345);
    const base = d.domain.sharedInfoBase + SHARED_INFO.time;
    const m = d.memory;
    expect(m.read32(base + TIME_INFO.version) % 2).toBe(0);
    const tscStamp = m.read32(base + TIME_INFO.tscTimestamp) + m.read32(base + TIME_INFO.tscTimestamp + 4) * 2 ** 32;
    const system = m.read32(base + TIME_INFO.systemTime) + m.read32(base + TIME_INFO.systemTime + 4) * 2 ** 32;
    const mul = m.read32(base + TIME_INFO.tscToSystemMul) >>> 0;
    const shift = (m.read8(base + TIME_INFO.tscShift) << 24) >> 24;
    const tsc = d.domain.cpu.readTsc();
    const delta = BigInt(tsc - tscStamp);
    const shifted = shift >= 0 ? delta << BigInt(shift) : delta >> BigInt(-shift);
    const ns = system + Number((shifted * BigInt(mul)) >> 32n);
    expect(ns).toBe(d.guest.time.now());
    expect(ns).toBe(12_345 * 10);
  });

  it('fires VIRQ_TIMER once from a single-shot timer and refuses a past deadline with VCPU_SSHOTTMR_future', () => {
    const booted = bootGuest(image);
    const d = new DirectDomain(booted);
    const s = d.scratch;
    d.put32(s, 0, 0, 0);
    expect(d.call(32, 1, s)).toBe(0);
    const port = d.get32(s + 8);
    // The 100 Hz periodic timer every PV vCPU starts with, stopped as a one-shot kernel stops it.
    expect(booted.clock.nextDeadline()).toBe(10_000_000);
    expect(d.call(24, 7, 0, 0)).toBe(0);
    expect(booted.clock.nextDeadline()).toBe(Infinity);
    booted.vcpu.run(1000);
    booted.clock.ns = 10_000;
    d.put32(s, 5_000, 0, 1);
    expect(d.call(24, 8, 0, s)).toBe(ETIME);
    d.put32(s, 50_000, 0, 1);
    expect(d.call(24, 8, 0, s)).toBe(0);
    expect(d.call(24, 8, 1, s)).toBe(-2);
    expect(booted.clock.nextDeadline()).toBe(50_000);
    booted.clock.ns = 50_000;
    booted.clock.fireDue();
    const pending = d.memory.read32(d.domain.sharedInfoBase + SHARED_INFO.evtchnPending);
    expect((pending >>> port) & 1).toBe(1);
    // Masked ports stay pending without an upcall until unmasked.
    expect(d.memory.read8(d.domain.sharedInfoBase + SHARED_INFO.upcallPending)).toBe(1);
    expect(booted.clock.nextDeadline()).toBe(Infinity);
    // set_timer_op as Xen's do_set_timer_op: 0 cancels; a timeout negative as s_time_t or 2^50 ns
    // or more away is an event in 100 ms.
    const now = d.guest.time.now();
    const timerOp = (ns: number) => d.call(15, ns % 2 ** 32, Math.floor(ns / 2 ** 32));
    expect(timerOp(now + 2 ** 50 - 2 ** 20)).toBe(0);
    expect(booted.clock.nextDeadline()).toBe(now + 2 ** 50 - 2 ** 20);
    for (const far of [now + 2 ** 50, 2 ** 63, 2 ** 64 - 2 ** 12]) {
      expect(timerOp(far)).toBe(0);
      expect(booted.clock.nextDeadline()).toBe(now + 100_000_000);
    }
    expect(timerOp(0)).toBe(0);
    expect(booted.clock.nextDeadline()).toBe(Infinity);
    // A periodic timer below 1 ms is refused, as Xen refuses it.
    d.put32(s, 999_999, 0);
    expect(d.call(24, 6, 0, s)).toBe(-22);
  });
});
