import { beforeEach, describe, expect, it } from 'vitest';
import { Pit } from '../../src/pit/pit.js';
import { PortIoBus } from '../../src/bus/port-io-bus.js';
import { ManualClock } from '../support/clock.js';
import { IrqRecorder } from '../support/irq.js';
import { lcg } from '../support/random.js';

const HZ = 1_193_182;
/** Nanoseconds at which `ticks` input-clock ticks have elapsed (rounded up). */
const ns = (ticks: number) => Math.ceil((ticks * 1e9) / HZ);

let clock: ManualClock;
let irq0: IrqRecorder;
let pit: Pit;
let bus: PortIoBus;
const outb = (port: number, value: number) => bus.write(port, 1, value);
const inb = (port: number) => bus.read(port, 1);

beforeEach(() => {
  clock = new ManualClock();
  irq0 = new IrqRecorder();
  pit = new Pit({ clock, irq: irq0 });
  bus = new PortIoBus();
  bus.registerDevice(pit);
  irq0.clear();
});

/** Latches counter `n` with the counter latch command and reads it LSB then MSB. */
function latchAndRead(n: number): number {
  outb(0x43, n << 6);
  const lo = inb(0x40 + n);
  return lo | (inb(0x40 + n) << 8);
}

describe('8254 counter 0 as the system timer', () => {
  it('runs mode 2 at 100 Hz like Linux programs it and raises IRQ 0 once per period', () => {
    const LATCH = Math.floor((HZ + 50) / 100);
    outb(0x43, 0x34); // counter 0, LSB then MSB, mode 2, binary
    outb(0x40, LATCH & 0xff);
    outb(0x40, LATCH >> 8);
    clock.advance(10_000_000_000);
    expect(irq0.risingEdges).toBe(Math.floor((10 * HZ) / LATCH));
    expect(pit.irqEdges).toBe(irq0.risingEdges);
    expect(clock.pendingTimers).toBe(1); // only the next edge is ever scheduled
  });

  it('counts down from the programmed value as time passes', () => {
    outb(0x43, 0x34);
    outb(0x40, 0x00);
    outb(0x40, 0x10); // 4096
    clock.advance(ns(1000));
    expect(latchAndRead(0)).toBe(4096 - 1000);
    clock.advance(ns(4096));
    expect(latchAndRead(0)).toBe(4096 - 1000);
  });

  it('does no work and schedules nothing while counter 0 has nothing to signal', () => {
    outb(0x43, 0x30); // mode 0: one edge at terminal count
    outb(0x40, 100);
    outb(0x40, 0);
    expect(irq0.level).toBe(false);
    clock.advance(ns(99));
    expect(irq0.risingEdges).toBe(0);
    clock.advance(ns(2));
    expect(irq0.risingEdges).toBe(1);
    expect(irq0.level).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1e9);
    expect(irq0.risingEdges).toBe(1);
  });

  it('stays quiet from power-on until a control word and a count are written', () => {
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1e9);
    expect(irq0.risingEdges).toBe(0);
    expect(irq0.level).toBe(true);
    expect(pit.output(0)).toBe(true);
    // A count without a control word is ignored, for every counter.
    outb(0x40, 0x10);
    outb(0x40, 0x00);
    outb(0x42, 0x01);
    clock.advance(1e9);
    expect(irq0.risingEdges).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(latchAndRead(0)).toBe(0);
    // A control word alone arms nothing either; the count starts it.
    outb(0x43, 0x36);
    clock.advance(1e9);
    expect(irq0.risingEdges).toBe(0);
    outb(0x40, 0);
    outb(0x40, 0);
    clock.advance(1e9);
    expect(irq0.risingEdges).toBe(Math.floor(HZ / 65536));
  });

  it('reads an unprogrammed counter as status OUT high, NULL COUNT', () => {
    outb(0x43, 0xe2); // read-back: status only, counter 0
    expect(inb(0x40) & 0xc0).toBe(0xc0);
  });

  it('holds the first latched value until it is read, and a second latch is ignored', () => {
    outb(0x43, 0x34);
    outb(0x40, 0xff);
    outb(0x40, 0xff);
    clock.advance(ns(10));
    outb(0x43, 0x00);
    clock.advance(ns(100));
    outb(0x43, 0x00);
    expect(inb(0x40) | (inb(0x40) << 8)).toBe(0xffff - 10);
    expect(latchAndRead(0)).toBe(0xffff - 110);
  });

  it('reads back status then count, with NULL COUNT set until the count is loaded', () => {
    outb(0x43, 0x36); // mode 3
    outb(0x43, 0xe2); // read-back: status of counter 0
    expect(inb(0x40)).toBe(0x80 | 0x40 | 0x36); // OUT high, null count, RW=3, mode 3
    outb(0x40, 0x00);
    outb(0x40, 0x01); // 256
    clock.advance(ns(1) + 1);
    outb(0x43, 0xc2); // count and status: status is read first
    expect(inb(0x40)).toBe(0x80 | 0x36);
    expect(inb(0x40) | (inb(0x40) << 8)).toBe(256 - 2);
  });

  it('counts in BCD when asked', () => {
    outb(0x43, 0x31); // mode 0, BCD
    outb(0x40, 0x00);
    outb(0x40, 0x10); // 1000 decimal
    clock.advance(ns(1));
    expect(latchAndRead(0)).toBe(0x0999);
    clock.advance(ns(1000));
    expect(latchAndRead(0)).toBe(0x9999); // wrapped through 0 to 9999
  });

  it('supports LSB-only and MSB-only access', () => {
    outb(0x43, 0x10); // LSB only, mode 0
    outb(0x40, 0x80);
    clock.advance(ns(0x10));
    outb(0x43, 0x00);
    expect(inb(0x40)).toBe(0x70);
    outb(0x43, 0x20); // MSB only
    outb(0x40, 0x02);
    clock.advance(ns(0x100));
    outb(0x43, 0x00);
    expect(inb(0x40)).toBe(0x01);
  });

  it('loads a count rewritten in mode 2 at the end of the current period', () => {
    outb(0x43, 0x34);
    outb(0x40, 1000 & 0xff);
    outb(0x40, 1000 >> 8);
    clock.advance(ns(300));
    outb(0x40, 500 & 0xff);
    outb(0x40, 500 >> 8);
    expect(latchAndRead(0)).toBe(700);
    clock.advance(ns(1000) - ns(300));
    expect(irq0.risingEdges).toBe(1);
    clock.advance(ns(1500) - ns(1000));
    expect(irq0.risingEdges).toBe(2);
    clock.advance(ns(2000) - ns(1500));
    expect(irq0.risingEdges).toBe(3);
  });
});

describe('8254 counter 0 at rates no timer should follow', () => {
  it('coalesces periodic IRQ 0 edges to one per 200 µs while the count reads exactly', () => {
    outb(0x43, 0x34);
    outb(0x40, 2);
    outb(0x40, 0);
    clock.advance(10_000_000);
    expect(irq0.risingEdges).toBeGreaterThanOrEqual(49);
    expect(irq0.risingEdges).toBeLessThanOrEqual(51);
    clock.advance(ns(1));
    const value = latchAndRead(0);
    expect(value === 1 || value === 2).toBe(true);
  });

  it('keeps exact edges for rates below 5 kHz and for one-shot modes', () => {
    outb(0x43, 0x34);
    outb(0x40, 239); // 4992 Hz
    outb(0x40, 0);
    clock.advance(ns(239 * 100));
    expect(irq0.risingEdges).toBe(100);
    irq0.clear();
    outb(0x43, 0x38); // mode 4, as Linux's oneshot clockevent programs it
    outb(0x40, 15);
    outb(0x40, 0);
    clock.advance(ns(16));
    expect(irq0.risingEdges).toBe(1);
  });
});

describe('counter 2 and port 0x61', () => {
  it('calibrates like Linux pit_calibrate_tsc: mode 0 gated by port 0x61, polling OUT2 in bit 5', () => {
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);
    outb(0x43, 0xb0);
    const latch = Math.floor(HZ / 20); // 50 ms
    outb(0x42, latch & 0xff);
    outb(0x42, latch >> 8);
    let polls = 0;
    while ((inb(0x61) & 0x20) === 0) {
      clock.advance(10_000);
      polls++;
    }
    expect(clock.now()).toBeGreaterThanOrEqual(ns(latch));
    expect(clock.now()).toBeLessThan(ns(latch) + 10_000);
    expect(polls).toBe(Math.ceil(ns(latch) / 10_000));
  });

  it('stops counting while the gate is low in mode 0 and resumes where it stopped', () => {
    outb(0x61, 0x00);
    outb(0x43, 0xb0);
    outb(0x42, 0x00);
    outb(0x42, 0x01);
    clock.advance(ns(100));
    expect(latchAndRead(2)).toBe(256);
    outb(0x61, 0x01);
    clock.advance(ns(50));
    outb(0x61, 0x00);
    clock.advance(ns(500));
    expect(latchAndRead(2)).toBe(206);
  });

  it('mode 1 fires a one-shot on the gate rising edge', () => {
    outb(0x43, 0xb2); // counter 2, mode 1
    outb(0x42, 10);
    outb(0x42, 0);
    expect(inb(0x61) & 0x20).toBe(0x20);
    outb(0x61, 0x01);
    expect(inb(0x61) & 0x20).toBe(0);
    clock.advance(ns(10));
    expect(inb(0x61) & 0x20).toBe(0x20);
    outb(0x61, 0x00);
    outb(0x61, 0x01); // retrigger
    expect(inb(0x61) & 0x20).toBe(0);
  });

  it('mode 3 drives a square wave on OUT2, forced high while the gate is low', () => {
    outb(0x43, 0xb6);
    outb(0x42, 100);
    outb(0x42, 0);
    expect(pit.output(2)).toBe(true);
    outb(0x61, 0x03);
    clock.advance(ns(49));
    expect(pit.output(2)).toBe(true);
    clock.advance(ns(51) - ns(49));
    expect(pit.output(2)).toBe(false);
    clock.advance(ns(101) - ns(51));
    expect(pit.output(2)).toBe(true);
    expect(inb(0x61) & 0x03).toBe(0x03);
  });

  it('mode 4 and mode 5 strobe OUT low for one clock at terminal count', () => {
    outb(0x61, 0x01);
    outb(0x43, 0xb8); // mode 4
    outb(0x42, 20);
    outb(0x42, 0);
    clock.advance(ns(20));
    expect(pit.output(2)).toBe(false);
    clock.advance(ns(21) - ns(20));
    expect(pit.output(2)).toBe(true);
    outb(0x43, 0xba); // mode 5: waits for a trigger
    outb(0x42, 20);
    outb(0x42, 0);
    outb(0x61, 0x00);
    clock.advance(ns(40));
    expect(pit.output(2)).toBe(true);
    outb(0x61, 0x01);
    clock.advance(ns(20));
    expect(pit.output(2)).toBe(false);
  });

  it('delivers a one-shot edge whose time has passed before the write that armed it finished', () => {
    // Linux's clockevent: mode 4 re-armed with a short count. The thread serving the access may be
    // descheduled for longer than the count between reading the clock and scheduling the edge;
    // the edge is then due at once, not lost (Linux would wait for it forever).
    outb(0x43, 0x38);
    outb(0x40, 3724 & 0xff);
    clock.stallAfterNextRead(5_000_000);
    outb(0x40, 3724 >> 8);
    irq0.clear();
    clock.advance(1);
    expect(irq0.risingEdges).toBe(1);
    clock.advance(100_000_000);
    expect(irq0.risingEdges).toBe(1);
  });

  it('reinjecting, gives periodic edges its timer ran too late for, one per acknowledged IRQ 0, and drops them on reprogramming', () => {
    pit = new Pit({ clock, irq: irq0, reinject: true });
    bus = new PortIoBus();
    bus.registerDevice(pit);
    const LATCH = Math.floor((HZ + 50) / 100); // 100 Hz: edges due every ~10 ms
    outb(0x43, 0x34);
    outb(0x40, LATCH & 0xff);
    outb(0x40, LATCH >> 8);
    irq0.clear();
    // The thread is descheduled from ~0 to 55 ms: the edge due at 10 ms runs at 55 ms, four more are owed.
    clock.stallAfterNextRead(55_000_000);
    clock.now();
    clock.advance(0);
    expect(irq0.risingEdges).toBe(1);
    for (let i = 0; i < 6; i++) pit.acknowledged();
    expect(irq0.risingEdges).toBe(5);
    expect(pit.irqEdges).toBe(5);
    clock.advance(10_000_000); // back on time: one edge per period, nothing owed
    for (let i = 0; i < 3; i++) pit.acknowledged();
    expect(irq0.risingEdges).toBe(6);
    // A pause longer than a second is owed at most one second of edges.
    clock.stallAfterNextRead(5_000_000_000);
    clock.now();
    clock.advance(0);
    for (let i = 0; i < 1000; i++) pit.acknowledged();
    expect(irq0.risingEdges).toBe(6 + 1 + Math.floor(1e9 / ns(LATCH)));
    // Reprogramming forgets what was owed.
    clock.stallAfterNextRead(55_000_000);
    clock.now();
    clock.advance(0);
    outb(0x43, 0x34);
    outb(0x40, LATCH & 0xff);
    outb(0x40, LATCH >> 8);
    const before = irq0.risingEdges;
    for (let i = 0; i < 10; i++) pit.acknowledged();
    expect(irq0.risingEdges).toBe(before);
  });

  it('reinjecting, holds a periodic edge until the previous one is taken, and owes nothing for one-shot modes', () => {
    pit = new Pit({ clock, irq: irq0, reinject: true });
    bus = new PortIoBus();
    bus.registerDevice(pit);
    const LATCH = Math.floor((HZ + 50) / 100);
    outb(0x43, 0x34);
    outb(0x40, LATCH & 0xff);
    outb(0x40, LATCH >> 8);
    irq0.clear();
    clock.advance(35_000_000); // three edges on time, none taken: one raised, two owed
    expect(irq0.risingEdges).toBe(1);
    pit.acknowledged();
    pit.acknowledged();
    expect(irq0.risingEdges).toBe(3);
    pit.acknowledged();
    clock.advance(10_000_000);
    expect(irq0.risingEdges).toBe(4);
    // What came while IRQ 0 was masked is not owed once the guest unmasks it.
    clock.advance(30_000_000);
    pit.unmasked();
    for (let i = 0; i < 5; i++) pit.acknowledged();
    expect(irq0.risingEdges).toBe(4);
    clock.advance(10_000_000);
    expect(irq0.risingEdges).toBe(5);
    outb(0x43, 0x38);
    outb(0x40, 100);
    outb(0x40, 0);
    irq0.clear();
    clock.stallAfterNextRead(50_000_000);
    clock.now();
    clock.advance(0);
    for (let i = 0; i < 5; i++) pit.acknowledged();
    expect(irq0.risingEdges).toBe(1);
  });

  it('toggles the refresh bit every 15.085 µs of clock time', () => {
    const first = inb(0x61) & 0x10;
    clock.advance(15_085);
    expect(inb(0x61) & 0x10).not.toBe(first);
    clock.advance(15_085);
    expect(inb(0x61) & 0x10).toBe(first);
  });
});

describe('8254 against a hostile guest', () => {
  it('keeps a defined state and at most one timer under garbage writes', () => {
    const rand = lcg(99);
    for (let i = 0; i < 20000; i++) {
      const port = [0x40, 0x41, 0x42, 0x43, 0x61][rand() % 5];
      if (rand() & 1) outb(port, rand() & 0xff);
      else expect(inb(port)).toBeLessThanOrEqual(0xff);
      clock.advance(rand() % 5000);
      expect(clock.pendingTimers).toBeLessThanOrEqual(1);
    }
    outb(0x43, 0x34);
    outb(0x40, 0x9c);
    outb(0x40, 0x2e);
    irq0.clear();
    clock.advance(20_000_000); // edges at 10.0002 ms and 20.0003 ms
    expect(irq0.risingEdges).toBe(1);
  });
});
