import { BufferSerialBackend } from '@ringvisor/devices';
import { describe, expect, it } from 'vitest';
import { PcBoard, VirtualClock } from '../src/index.js';

const MiB = 1024 * 1024;
/** A 4 KiB ROM that is nothing but HLT: enough to make the board a firmware (`--bios`) board. */
const rom = new Uint8Array(4096).fill(0xf4);

function board(firmware?: Uint8Array): { pc: PcBoard; clock: VirtualClock; serial: BufferSerialBackend } {
  const clock = new VirtualClock();
  const serial = new BufferSerialBackend();
  return { pc: new PcBoard({ ramSize: 16 * MiB, clock, serial, ...(firmware ? { firmware } : {}) }), clock, serial };
}

/** Runs the board's timers for `ns` of virtual time. */
function advance(clock: VirtualClock, ns: number): void {
  const until = clock.now() + ns;
  for (let next = clock.nextDeadline(); next !== null && next <= until; next = clock.nextDeadline()) {
    clock.advanceTo(next);
    clock.runDue();
  }
  clock.advanceTo(until);
}

describe('a directly loaded guest finds the board as a PC BIOS leaves it', () => {
  it('8259s at vectors 0x08/0x70, every line masked but the cascade', () => {
    const { pc } = board();
    const [master, slave] = pc.pic.state();
    expect(master.vectorBase).toBe(0x08);
    expect(slave.vectorBase).toBe(0x70);
    expect(master.imr).toBe(0xfb);
    expect(slave.imr).toBe(0xff);
    // A kernel that unmasks IRQ 0 without reprogramming gets the BIOS vector, not 0.
    pc.io.write(0x21, 1, 0xfe);
    expect(pc.pic.pending()).toBe(false);
  });

  it('PIT counter 0 in mode 3 at 18.2 Hz, delivered as INT 08h once unmasked', () => {
    const { pc, clock } = board();
    advance(clock, 1e9);
    expect(pc.pic.pending()).toBe(false); // masked
    pc.io.write(0x21, 1, 0xfa);
    expect(pc.pic.pending()).toBe(true);
    expect(pc.pic.acknowledge()).toBe(0x08);
    pc.io.write(0x20, 1, 0x20); // EOI
    // Taken and acknowledged (EOI) each time, the ticks come 18.2 times a second.
    const edges = pc.pit.irqEdges;
    for (let ms = 0; ms < 1000; ms++) {
      advance(clock, 1e6);
      if (!pc.pic.pending()) continue;
      expect(pc.pic.acknowledge()).toBe(0x08);
      pc.io.write(0x20, 1, 0x20);
    }
    expect(pc.pit.irqEdges - edges).toBe(18);
    pc.io.write(0x43, 1, 0xe2); // read-back status of counter 0
    expect(pc.io.read(0x40, 1) & 0x3f).toBe(0x36); // LSB then MSB, mode 3, binary
  });

  it('COM1 at 115200 baud 8N1, so a guest that never programs it prints whole bytes', () => {
    const { pc, serial } = board();
    expect(pc.io.read(0x3fb, 1)).toBe(0x03);
    expect(pc.com1.baudRate).toBe(115200);
    pc.io.write(0x3f8, 1, 0xe9);
    expect([...serial.peek()]).toEqual([0xe9]);
  });
});

describe('a firmware board (--bios) keeps the power-on state for the firmware to program', () => {
  it('an uninitialised 8259 pair delivers nothing and the PIT does not count', () => {
    const { pc, clock } = board(rom);
    advance(clock, 1e9);
    expect(pc.pit.irqEdges).toBe(0);
    pc.pic.setIrq(1, true);
    expect(pc.pic.pending()).toBe(false);
    expect(pc.pic.state()[0].vectorBase).toBe(0);
    expect(pc.io.read(0x3fb, 1)).toBe(0x00);
  });
});
