// The devices wired as on a PC/AT, with the test playing the CPU: it advances virtual time to the
// next deadline, takes interrupts through the PIC's INTA cycle and EOIs them like Linux does.
import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../src/bus/port-io-bus.js';
import { DualPic } from '../src/pic/pic.js';
import { Pit } from '../src/pit/pit.js';
import { Rtc } from '../src/rtc/rtc.js';
import { Uart16550 } from '../src/serial/uart16550.js';
import { BufferSerialBackend } from '../src/serial/backend.js';
import { ManualClock } from './support/clock.js';

function pc() {
  const clock = new ManualClock();
  const pic = new DualPic();
  const pit = new Pit({ clock, irq: pic.irq(0) });
  const rtc = new Rtc({ clock, irq: pic.irq(8), baseTime: Date.UTC(2026, 0, 1) });
  const backend = new BufferSerialBackend();
  const uart = new Uart16550({ clock, irq: pic.irq(4), backend });
  const io = new PortIoBus();
  for (const device of [pic, pit, rtc, uart]) io.registerDevice(device);
  const outb = (port: number, value: number) => io.write(port, 1, value);
  const inb = (port: number) => io.read(port, 1);
  // init_8259A
  for (const [port, value] of [[0x21, 0xff], [0xa1, 0xff], [0x20, 0x11], [0x21, 0x30], [0x21, 0x04], [0x21, 0x01],
    [0xa0, 0x11], [0xa1, 0x38], [0xa1, 0x02], [0xa1, 0x01], [0x21, 0x00], [0xa1, 0x00]]) outb(port, value);
  /** Runs until `until`, servicing interrupts with `handlers[vector]` then a specific EOI. */
  const run = (until: number, handlers: Record<number, () => void>) => {
    const taken: number[] = [];
    while (clock.now() < until) {
      while (pic.pending()) {
        const vector = pic.acknowledge();
        taken.push(vector);
        handlers[vector]?.();
        const irq = vector - 0x30;
        if (irq >= 8) {
          outb(0xa0, 0x60 + (irq & 7));
          outb(0x20, 0x62);
        } else {
          outb(0x20, 0x60 + irq);
        }
      }
      clock.advanceTo(Math.min(clock.nextDeadline() ?? until, until));
    }
    return taken;
  };
  return { clock, pic, pit, rtc, uart, backend, io, outb, inb, run };
}

describe('PC/AT platform', () => {
  it('delivers the 100 Hz PIT tick as vector 0x30, once per period, for ten virtual seconds', () => {
    const m = pc();
    m.outb(0x43, 0x34);
    m.outb(0x40, 11932 & 0xff);
    m.outb(0x40, 11932 >> 8);
    const taken = m.run(10e9, {});
    expect(taken.filter((v) => v === 0x30).length).toBe(Math.floor((10 * 1_193_182) / 11932));
    expect(taken.every((v) => v === 0x30)).toBe(true);
  });

  it('runs the RTC periodic interrupt through the cascade alongside the timer', () => {
    const m = pc();
    m.outb(0x43, 0x36); // the 18.2 Hz tick a BIOS programs: mode 3, count 65536
    m.outb(0x40, 0);
    m.outb(0x40, 0);
    m.outb(0x70, 0x0a);
    m.outb(0x71, 0x2a); // 64 Hz
    m.outb(0x70, 0x0b);
    m.outb(0x71, 0x42);
    const taken = m.run(1e9 + 1, {
      0x38: () => {
        m.outb(0x70, 0x0c);
        m.inb(0x71);
      },
    });
    expect(taken.filter((v) => v === 0x38).length).toBe(64);
    expect(taken.filter((v) => v === 0x30).length).toBe(18); // the BIOS's 18.2 Hz timer
  });

  it('echoes serial input with RX and THRE interrupts on IRQ 4', () => {
    const m = pc();
    m.outb(0x3fb, 0x80);
    m.outb(0x3f8, 0x01);
    m.outb(0x3f9, 0x00);
    m.outb(0x3fb, 0x03);
    m.outb(0x3fa, 0xc7);
    m.outb(0x3fc, 0x0b);
    m.outb(0x3f9, 0x01);
    m.backend.type('hi');
    const echo: number[] = [];
    m.run(1e6, {
      0x34: () => {
        for (let iir = m.inb(0x3fa); (iir & 1) === 0; iir = m.inb(0x3fa)) {
          while (m.inb(0x3fd) & 1) echo.push(m.inb(0x3f8));
        }
        for (const byte of echo.splice(0)) m.outb(0x3f8, byte);
      },
    });
    expect(m.backend.text()).toBe('hi');
  });
});
