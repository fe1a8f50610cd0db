import { beforeEach, describe, expect, it } from 'vitest';
import { I8042 } from '../../src/i8042/i8042.js';
import { PortIoBus } from '../../src/bus/port-io-bus.js';
import { IrqRecorder } from '../support/irq.js';
import { lcg } from '../support/random.js';

let kbc: I8042;
let bus: PortIoBus;
let irq1: IrqRecorder;
let irq12: IrqRecorder;
let resets: number;
let a20: boolean[];
const outb = (port: number, value: number) => bus.write(port, 1, value);
const inb = (port: number) => bus.read(port, 1);

beforeEach(() => {
  irq1 = new IrqRecorder();
  irq12 = new IrqRecorder();
  resets = 0;
  a20 = [];
  kbc = new I8042({ keyboardIrq: irq1, auxIrq: irq12, onReset: () => resets++, onA20: (on) => a20.push(on) });
  bus = new PortIoBus();
  bus.registerDevice(kbc);
});

/** Linux's i8042_wait_read + i8042_read_data, with a bound instead of a timeout. */
function readData(): number | undefined {
  for (let i = 0; i < 10; i++) if (inb(0x64) & 0x01) return inb(0x60);
  return undefined;
}

/** i8042_command: command byte to 0x64, parameters to 0x60, then `replies` reads. */
function command(cmd: number, params: number[] = [], replies = 0): (number | undefined)[] {
  outb(0x64, cmd);
  for (const p of params) outb(0x60, p);
  return Array.from({ length: replies }, readData);
}

/** i8042_flush: read until the output buffer is empty. */
function flush(): number {
  let count = 0;
  while (inb(0x64) & 0x01 && count < 64) {
    inb(0x60);
    count++;
  }
  return count;
}

describe('i8042 as Linux probes it', () => {
  it('passes controller self test and the interface tests', () => {
    expect(flush()).toBe(0);
    expect(command(0xaa, [], 1)).toEqual([0x55]);
    expect(command(0xab, [], 1)).toEqual([0x00]);
    expect(command(0xa9, [], 1)).toEqual([0x00]);
  });

  it('reads and writes the command byte (CTR)', () => {
    const [ctr] = command(0x20, [], 1);
    expect(ctr).toBe(0x45);
    command(0x60, [(ctr! | 0x10) & ~0x01]);
    expect(command(0x20, [], 1)).toEqual([0x54]);
    expect(inb(0x64) & 0x04).toBe(0x04); // SYS flag mirrors the CTR
  });

  it('toggles the AUX disable bit as i8042_check_aux expects and loops AUX bytes with AUXDATA', () => {
    command(0xa7);
    expect(command(0x20, [], 1)[0]! & 0x20).toBe(0x20);
    command(0xa8);
    expect(command(0x20, [], 1)[0]! & 0x20).toBe(0);
    command(0x60, [0x47]); // both interrupts on
    outb(0x64, 0xd3);
    outb(0x60, 0x5a);
    expect(inb(0x64) & 0x21).toBe(0x21);
    expect(irq12.level).toBe(true);
    expect(irq1.level).toBe(false);
    expect(inb(0x60)).toBe(0x5a);
    expect(irq12.level).toBe(false);
  });

  it('reports a missing mouse as a timeout with 0xFE on the AUX channel', () => {
    outb(0x64, 0xd4);
    outb(0x60, 0xff);
    expect(inb(0x64) & 0x61).toBe(0x61);
    expect(inb(0x60)).toBe(0xfe);
  });

  it('resets the keyboard: 0xFF answers ACK then BAT passed, each with an IRQ 1 edge', () => {
    outb(0x60, 0xff);
    expect(irq1.risingEdges).toBe(1);
    expect(inb(0x60)).toBe(0xfa);
    expect(irq1.risingEdges).toBe(2);
    expect(inb(0x60)).toBe(0xaa);
    expect(inb(0x64) & 0x01).toBe(0);
    expect(irq1.level).toBe(false);
  });

  it('answers atkbd: identify, LEDs, typematic, scan code set, echo, enable/disable', () => {
    outb(0x60, 0xf2);
    expect([readData(), readData(), readData()]).toEqual([0xfa, 0xab, 0x41]);
    outb(0x60, 0xed);
    outb(0x60, 0x07);
    expect([readData(), readData()]).toEqual([0xfa, 0xfa]);
    outb(0x60, 0xf3);
    outb(0x60, 0x20);
    expect([readData(), readData()]).toEqual([0xfa, 0xfa]);
    outb(0x60, 0xf0);
    outb(0x60, 0x00);
    expect([readData(), readData(), readData()]).toEqual([0xfa, 0xfa, 0x41]);
    outb(0x60, 0xee);
    expect(readData()).toBe(0xee);
    outb(0x60, 0xf5);
    expect(readData()).toBe(0xfa);
    expect(kbc.keyboardInput(new Uint8Array([0x1e]))).toBe(0);
    outb(0x60, 0xf4);
    expect(readData()).toBe(0xfa);
    expect(kbc.keyboardInput(new Uint8Array([0x1e, 0x9e]))).toBe(2);
    expect([readData(), readData(), readData()]).toEqual([0x1e, 0x9e, undefined]);
    outb(0x60, 0x42);
    expect(readData()).toBe(0xfe);
  });

  it('bounds host keystrokes to the keyboard buffer', () => {
    expect(kbc.keyboardInput(new Uint8Array(1000).fill(0x1e))).toBe(16);
    expect(flush()).toBe(16);
  });
});

describe('i8042 reset and A20', () => {
  it('resets the machine on the 0xFE pulse command and on output port bit 0', () => {
    outb(0x64, 0xfe);
    expect(resets).toBe(1);
    outb(0x64, 0xff); // pulses nothing
    expect(resets).toBe(1);
    outb(0x64, 0xd1);
    outb(0x60, 0xfe); // reset line low
    expect(resets).toBe(2);
    expect(kbc.resets).toBe(2);
  });

  it('gates A20 through the output port like Linux enable_a20_kbc', () => {
    outb(0x64, 0xd1);
    outb(0x60, 0xdd);
    expect(kbc.a20).toBe(false);
    expect(command(0xd0, [], 1)[0]! & 0x03).toBe(0x01);
    outb(0x64, 0xd1);
    outb(0x60, 0xdf);
    outb(0x64, 0xff);
    expect(kbc.a20).toBe(true);
    expect(a20).toEqual([false, true]);
    command(0xdd);
    command(0xdf);
    expect(a20).toEqual([false, true, false, true]);
    expect(resets).toBe(0);
  });
});

describe('i8042 against a hostile guest', () => {
  it('stays defined under garbage and still self-tests afterwards', () => {
    const rand = lcg(5);
    for (let i = 0; i < 20000; i++) {
      const port = rand() & 1 ? 0x60 : 0x64;
      if (rand() & 1) outb(port, rand() & 0xff);
      else expect(inb(port)).toBeLessThanOrEqual(0xff);
    }
    expect(resets).toBeGreaterThan(0);
    flush();
    expect(command(0xaa, [], 1)).toEqual([0x55]);
    command(0x60, [0x45]);
    outb(0x60, 0xff);
    expect([readData(), readData()]).toEqual([0xfa, 0xaa]);
  });
});
