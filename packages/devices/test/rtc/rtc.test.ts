import { beforeEach, describe, expect, it } from 'vitest';
import { Rtc } from '../../src/rtc/rtc.js';
import { PortIoBus } from '../../src/bus/port-io-bus.js';
import { ManualClock } from '../support/clock.js';
import { IrqRecorder } from '../support/irq.js';
import { lcg } from '../support/random.js';

const BASE = Date.UTC(2026, 10, 23, 20, 45, 30, 250); // Monday 2026-11-23 20:45:30.250 UTC
const MS = 1_000_000;

let clock: ManualClock;
let irq8: IrqRecorder;
let rtc: Rtc;
let bus: PortIoBus;
const cmosRead = (index: number) => {
  bus.write(0x70, 1, 0x80 | index); // Linux keeps NMI masked while touching CMOS
  return bus.read(0x71, 1);
};
const cmosWrite = (index: number, value: number) => {
  bus.write(0x70, 1, 0x80 | index);
  bus.write(0x71, 1, value);
};

function setup(options: { memoryBelow4G?: number; memoryAbove4G?: number } = {}): void {
  clock = new ManualClock();
  irq8 = new IrqRecorder();
  rtc = new Rtc({ clock, irq: irq8, baseTime: BASE, ...options });
  bus = new PortIoBus();
  bus.registerDevice(rtc);
}

/** mc146818_get_time: wait for UIP to clear, read everything, and retry if an update intervened. */
function readTime(): number[] {
  for (;;) {
    while (cmosRead(0x0a) & 0x80) clock.advance(10_000);
    const fields = [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map(cmosRead);
    if (!(cmosRead(0x0a) & 0x80) && cmosRead(0x00) === fields[0]) return fields;
  }
}

beforeEach(() => setup());

describe('MC146818 time of day', () => {
  it('reads the base time in BCD, 24-hour mode, with the century byte', () => {
    expect(readTime()).toEqual([0x30, 0x45, 0x20, 0x02, 0x23, 0x11, 0x26, 0x20]);
    expect(cmosRead(0x0b)).toBe(0x02);
    expect(cmosRead(0x0d)).toBe(0x80);
  });

  it('advances with the clock, carrying into minutes, hours, days and years', () => {
    clock.advance(750 * MS + 29_000 * MS);
    expect(readTime().slice(0, 3)).toEqual([0x00, 0x46, 0x20]);
    clock.advance((38 * 86400 + 3 * 3600 + 14 * 60) * 1e9);
    expect(readTime()).toEqual([0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x27, 0x20]); // Friday (6) 2027-01-01
  });

  it('raises UIP from 244 µs before each second boundary until the update cycle ends', () => {
    clock.advance(750 * MS - 245_000);
    expect(cmosRead(0x0a)).toBe(0x26);
    clock.advance(2_000);
    expect(cmosRead(0x0a)).toBe(0xa6);
    expect(cmosRead(0x00)).toBe(0x30);
    clock.advance(243_000);
    expect(cmosRead(0x00)).toBe(0x31);
    expect(cmosRead(0x0a) & 0x80).toBe(0x80);
    clock.advance(1_984_000);
    expect(cmosRead(0x0a) & 0x80).toBe(0);
  });

  it('makes a reader that arrives inside the UIP window wait for the update', () => {
    clock.advance(750 * MS - 100_000); // 100 µs before the boundary at :31
    expect(cmosRead(0x0a) & 0x80).toBe(0x80);
    const start = clock.now();
    expect(readTime()[0]).toBe(0x31);
    expect(clock.now() - start).toBeGreaterThanOrEqual(100_000 + 1_984_000);
  });

  it('reports binary and 12-hour formats as register B selects', () => {
    cmosWrite(0x0b, 0x04); // binary, 12-hour
    expect(cmosRead(0x04)).toBe(0x80 | 8); // 8 PM
    expect(cmosRead(0x00)).toBe(30);
    expect(cmosRead(0x09)).toBe(26);
    cmosWrite(0x0b, 0x00); // BCD, 12-hour
    expect(cmosRead(0x04)).toBe(0x88);
  });

  it('sets the time under SET like hwclock --systohc, and runs on from it', () => {
    cmosWrite(0x0b, cmosRead(0x0b) | 0x80);
    cmosWrite(0x00, 0x59);
    cmosWrite(0x02, 0x59);
    cmosWrite(0x04, 0x23);
    cmosWrite(0x07, 0x31);
    cmosWrite(0x08, 0x12);
    cmosWrite(0x09, 0x99);
    cmosWrite(0x32, 0x19);
    clock.advance(5_000 * MS); // frozen while SET
    expect(cmosRead(0x00)).toBe(0x59);
    expect(cmosRead(0x0a) & 0x80).toBe(0);
    cmosWrite(0x0b, cmosRead(0x0b) & ~0x80);
    clock.advance(1_000 * MS);
    expect(readTime()).toEqual([0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20]); // Saturday (7) 2000-01-01
  });

  it('sets the hour in 12-hour mode', () => {
    cmosWrite(0x0b, 0x84); // SET, binary, 12-hour
    cmosWrite(0x04, 0x80 | 12); // 12 PM is noon
    cmosWrite(0x0b, 0x06);
    expect(cmosRead(0x04)).toBe(12);
    cmosWrite(0x0b, 0x04);
    cmosWrite(0x04, 12); // 12 AM is midnight
    cmosWrite(0x0b, 0x06);
    expect(cmosRead(0x04)).toBe(0);
  });

  it('stops while the divider is in reset and makes the first update 500 ms after release', () => {
    cmosWrite(0x0a, 0x66);
    clock.advance(10_000 * MS);
    expect(cmosRead(0x00)).toBe(0x30);
    cmosWrite(0x0a, 0x26);
    clock.advance(499 * MS);
    expect(cmosRead(0x00)).toBe(0x30);
    clock.advance(1 * MS);
    expect(cmosRead(0x00)).toBe(0x31);
  });
});

describe('MC146818 interrupts on IRQ 8', () => {
  it('delivers 1024 periodic interrupts per second when the handler reads register C', () => {
    cmosWrite(0x0b, cmosRead(0x0b) | 0x40);
    let interrupts = 0;
    const end = clock.now() + 1e9;
    while (clock.now() < end) {
      const next = clock.nextDeadline() ?? end;
      clock.advanceTo(Math.min(next, end));
      if (irq8.level) {
        interrupts++;
        expect(cmosRead(0x0c) & 0xc0).toBe(0xc0); // IRQF | PF (UF also latches once a second)
        expect(irq8.level).toBe(false);
      }
    }
    expect(interrupts).toBe(1024);
  });

  it('follows the rate in register A (rate 15 = 2 Hz) and schedules nothing while IRQ 8 is unacknowledged', () => {
    cmosWrite(0x0a, 0x2f);
    cmosWrite(0x0b, 0x42);
    clock.advance(500 * MS - 1);
    expect(irq8.risingEdges).toBe(0);
    clock.advance(1);
    expect(irq8.risingEdges).toBe(1);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000 * MS);
    expect(irq8.risingEdges).toBe(1);
    expect(cmosRead(0x0c) & 0xe0).toBe(0xc0);
    expect(clock.pendingTimers).toBe(1);
  });

  it('treats rates 1 and 2 as rates 8 and 9 (256 Hz and 128 Hz)', () => {
    for (const [rate, hz] of [[1, 256], [2, 128], [8, 256], [9, 128]]) {
      setup();
      cmosWrite(0x0a, 0x20 | rate);
      cmosWrite(0x0b, 0x42);
      let interrupts = 0;
      while (clock.now() < 1e9) {
        clock.advanceTo(Math.min(clock.nextDeadline() ?? 1e9, 1e9));
        if (irq8.level) {
          interrupts++;
          cmosRead(0x0c);
        }
      }
      expect(interrupts).toBe(hz);
    }
  });

  it('sets flags without interrupts for polling drivers, and clears them on read', () => {
    clock.advance(2 * MS);
    expect(cmosRead(0x0c)).toBe(0x40); // PF at 1024 Hz, no IRQF: PIE is clear
    expect(cmosRead(0x0c)).toBe(0x00);
    clock.advance(1_000 * MS);
    expect(cmosRead(0x0c)).toBe(0x50); // PF and UF
    expect(irq8.risingEdges).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('raises the update-ended interrupt once per second', () => {
    cmosWrite(0x0b, 0x12);
    clock.advance(750 * MS);
    expect(irq8.level).toBe(true);
    expect(cmosRead(0x0c) & 0xb0).toBe(0x90); // IRQF | UF (PF latches too, without PIE)
    clock.advance(999 * MS);
    expect(irq8.level).toBe(false);
    clock.advance(1 * MS);
    expect(irq8.level).toBe(true);
    expect(cmosRead(0x0c) & 0xb0).toBe(0x90);
  });

  it('raises the alarm interrupt when the time matches, honouring don\'t-care bytes', () => {
    cmosWrite(0x01, 0x35);
    cmosWrite(0x03, 0x45);
    cmosWrite(0x05, 0xff); // any hour
    cmosWrite(0x0b, 0x22);
    clock.advance(4_749 * MS);
    expect(irq8.level).toBe(false);
    clock.advance(1 * MS);
    expect(irq8.level).toBe(true);
    expect(cmosRead(0x0c)).toBe(0xa0 | 0x40 | 0x10); // IRQF, AF, with PF and UF also latched
  });

  it('finds an alarm missed while nobody listened when register C is read', () => {
    cmosWrite(0x01, 0x00);
    cmosWrite(0x03, 0x00);
    cmosWrite(0x05, 0x23);
    clock.advance(3 * 3_600 * 1e9);
    expect(cmosRead(0x0c) & 0x20).toBe(0x20);
  });
});

describe('CMOS memory', () => {
  it('stores RAM bytes, keeps the NMI mask bit and reads the index port as 0xff', () => {
    cmosWrite(0x40, 0x5a);
    expect(cmosRead(0x40)).toBe(0x5a);
    expect(rtc.nmiMasked).toBe(true);
    bus.write(0x70, 1, 0x0f);
    expect(rtc.nmiMasked).toBe(false);
    expect(bus.read(0x70, 1)).toBe(0xff);
  });

  it('describes guest memory in the bytes firmware reads', () => {
    setup({ memoryBelow4G: 3 * 1024 ** 3, memoryAbove4G: 5 * 1024 ** 3 });
    expect(cmosRead(0x15) | (cmosRead(0x16) << 8)).toBe(640);
    expect(cmosRead(0x17) | (cmosRead(0x18) << 8)).toBe(0xffff);
    expect(cmosRead(0x30) | (cmosRead(0x31) << 8)).toBe(0xffff);
    expect(cmosRead(0x34) | (cmosRead(0x35) << 8)).toBe((3 * 1024 - 16) * 16);
    expect(cmosRead(0x5b) | (cmosRead(0x5c) << 8) | (cmosRead(0x5d) << 16)).toBe(5 * 1024 * 16);
    setup({ memoryBelow4G: 32 * 1024 ** 2 });
    expect(cmosRead(0x17) | (cmosRead(0x18) << 8)).toBe(31 * 1024);
    expect(cmosRead(0x34) | (cmosRead(0x35) << 8)).toBe(16 * 16);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += cmosRead(i);
    expect((cmosRead(0x2e) << 8) | cmosRead(0x2f)).toBe(sum);
  });

  it('defaults to host time when no base time is given', () => {
    const before = Math.floor(Date.now() / 1000);
    const hostRtc = new Rtc({ clock: new ManualClock(), irq: new IrqRecorder() });
    const b = new PortIoBus();
    b.registerDevice(hostRtc);
    b.write(0x70, 1, 0x0b);
    b.write(0x71, 1, 0x06);
    b.write(0x70, 1, 0x00);
    const seconds = b.read(0x71, 1);
    const after = Math.floor(Date.now() / 1000);
    expect([before % 60, after % 60]).toContain(seconds);
  });
});

describe('MC146818 against a hostile guest', () => {
  it('keeps time defined and at most one timer under garbage writes', () => {
    const rand = lcg(3);
    for (let i = 0; i < 20000; i++) {
      if (rand() & 1) bus.write(0x70 + (rand() & 1), 1, rand() & 0xff);
      else expect(bus.read(0x70 + (rand() & 1), 1)).toBeLessThanOrEqual(0xff);
      if (rand() % 11 === 0) clock.advance(rand() % 5_000_000);
      expect(clock.pendingTimers).toBeLessThanOrEqual(1);
    }
    cmosWrite(0x0a, 0x26);
    cmosWrite(0x0b, 0x82);
    cmosWrite(0x00, 0x00);
    cmosWrite(0x02, 0x00);
    cmosWrite(0x04, 0x12);
    cmosWrite(0x07, 0x15);
    cmosWrite(0x08, 0x06);
    cmosWrite(0x09, 0x30);
    cmosWrite(0x32, 0x20);
    cmosWrite(0x0b, 0x02);
    clock.advance(1e9);
    expect(readTime()).toEqual([0x01, 0x00, 0x12, 0x07, 0x15, 0x06, 0x30, 0x20]); // Saturday 2030-06-15
  });
});
