// A hostile guest hammering every ISA device of the board with random port I/O, while virtual time
// runs and the test plays the CPU's INTA cycles. Whatever it writes, the devices must not throw,
// must answer reads within the access size, and must not pile up timers or hang the clock.
import { describe, expect, it } from 'vitest';
import type { AccessSize } from '@ringvisor/vmm-api';
import {
  AcpiPm, BufferSerialBackend, DebugExitPort, DualPic, I8042, Pit, PortIoBus, PostCodePort, ResetControlRegister, Rtc,
  SystemControlPortA, Uart16550,
} from '../src/index.js';
import { ManualClock } from './support/clock.js';
import { lcg } from './support/random.js';

/** Every port the board's ISA devices decode, so most accesses hit a device rather than nothing. */
const PORTS = [
  0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43, 0x61, 0x60, 0x64, 0x70, 0x71, 0x92, 0x80,
  0xf4, 0xf5, 0xf6, 0xf7, 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
  0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x608, 0x609, 0x60a, 0x60b, 0xcf8, 0xcf9,
];
const SIZES: readonly AccessSize[] = [1, 1, 1, 1, 2, 4];

function board() {
  const clock = new ManualClock();
  const pic = new DualPic();
  const backend = new BufferSerialBackend(64);
  const io = new PortIoBus();
  let resets = 0;
  let exits = 0;
  io.registerDevice(pic);
  io.registerDevice(new Pit({ clock, irq: pic.irq(0) }));
  io.registerDevice(new Rtc({ clock, irq: pic.irq(8), baseTime: Date.UTC(2026, 0, 1) }));
  const uart = new Uart16550({ clock, irq: pic.irq(4), backend, inputQueueSize: 64 });
  io.registerDevice(uart);
  const i8042 = new I8042({ keyboardIrq: pic.irq(1), auxIrq: pic.irq(12), onReset: () => resets++ });
  io.registerDevice(i8042);
  io.registerDevice(new SystemControlPortA({ onReset: () => resets++ }));
  io.registerDevice(new PostCodePort());
  io.registerDevice(new DebugExitPort({ onExit: () => exits++ }));
  io.registerDevice(new AcpiPm({ clock, sci: pic.irq(9), base: 0x600, softOffSleepType: 5, onPowerOff: () => exits++ }));
  io.registerDevice(new ResetControlRegister({ onReset: () => resets++ }));
  return { clock, pic, backend, io, uart, i8042, counts: () => ({ resets, exits }) };
}

describe('ISA devices under random port I/O', () => {
  it.each([1, 2, 3, 4])('seed %i: no throw, reads in range, bounded timers', (seed) => {
    const next = lcg(seed);
    const m = board();
    let vectors = 0;
    for (let step = 0; step < 20_000; step++) {
      const op = next() % 16;
      const port = next() % 8 === 0 ? next() & 0xffff : PORTS[next() % PORTS.length];
      const size = SIZES[next() % SIZES.length];
      if (op < 7) {
        const value = next() % 4 === 0 ? 0xffff_ffff : (next() << 9) ^ next();
        m.io.write(port, size, value >>> 0);
      } else if (op < 12) {
        const value = m.io.read(port, size);
        expect(Number.isInteger(value) && value >= 0 && value < 2 ** (8 * size)).toBe(true);
      } else if (op < 14) {
        // Time passes: up to 20 ms, firing whatever the devices scheduled on the way.
        m.clock.advance(next() % 20_000_000);
      } else if (op === 14) {
        if (m.pic.pending()) {
          const vector = m.pic.acknowledge();
          expect(vector >= 0 && vector <= 0xff).toBe(true);
          vectors++;
        }
      } else {
        m.backend.type(Uint8Array.from({ length: next() % 40 }, () => next() & 0xff));
        m.i8042.keyboardInput(Uint8Array.of(next() & 0xff, next() & 0xff));
        m.backend.drain();
      }
      // PIT, RTC, the UART's character timeout and the PM timer's TMR_STS: at most one timer each.
      expect(m.clock.pendingTimers).toBeLessThanOrEqual(4);
    }
    expect(vectors).toBeGreaterThan(0);
    expect(m.counts().exits).toBeGreaterThan(0);
  });
});
