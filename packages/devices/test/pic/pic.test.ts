import { beforeEach, describe, expect, it } from 'vitest';
import { DualPic } from '../../src/pic/pic.js';
import { PortIoBus } from '../../src/bus/port-io-bus.js';
import { lcg } from '../support/random.js';

let pic: DualPic;
let bus: PortIoBus;
const outb = (port: number, value: number) => bus.write(port, 1, value);
const inb = (port: number) => bus.read(port, 1);

/** Linux's init_8259A(auto_eoi = 0): vectors 0x30 and 0x38, slave on IRQ 2, 8086 mode. */
function initLikeLinux(masterIcw4 = 0x01): void {
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  outb(0x20, 0x11);
  outb(0x21, 0x30);
  outb(0x21, 0x04);
  outb(0x21, masterIcw4);
  outb(0xa0, 0x11);
  outb(0xa1, 0x38);
  outb(0xa1, 0x02);
  outb(0xa1, 0x01);
  outb(0x21, 0x00);
  outb(0xa1, 0x00);
}

/** Linux's mask_and_ack_8259A for a slave IRQ: specific EOI on the slave, then on the cascade. */
function eoi(irq: number): void {
  if (irq >= 8) {
    outb(0xa0, 0x60 + (irq & 7));
    outb(0x20, 0x62);
  } else {
    outb(0x20, 0x60 + irq);
  }
}

const readIsr = (cmd: number) => {
  outb(cmd, 0x0b);
  const isr = inb(cmd);
  outb(cmd, 0x0a);
  return isr;
};

beforeEach(() => {
  pic = new DualPic();
  bus = new PortIoBus();
  bus.registerDevice(pic);
});

describe('8259A pair at power-on', () => {
  it('delivers nothing before ICW1-ICW4, whatever the lines and the mask do', () => {
    pic.setIrq(0, true);
    pic.setIrq(8, true);
    outb(0x21, 0x00);
    expect(pic.pending()).toBe(false);
    outb(0x20, 0x0c); // OCW3 poll: no request to report
    expect(inb(0x20)).toBe(0);
  });

  it('delivers nothing while an initialisation sequence is under way, then the new base', () => {
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    pic.setIrq(1, true);
    expect(pic.pending()).toBe(false); // ICW3 and ICW4 still to come
    outb(0x21, 0x04);
    expect(pic.pending()).toBe(false);
    outb(0x21, 0x01);
    expect(pic.pending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('ends a sequence without ICW4 at ICW3 when IC4 is clear (single mode: at ICW2)', () => {
    outb(0x20, 0x12); // single, no ICW4
    outb(0x21, 0x40);
    pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x43);
  });
});

describe('8259A pair initialised like Linux', () => {
  it('delivers a master IRQ at base + irq, then holds lower priorities until EOI', () => {
    initLikeLinux();
    pic.irq(4).set(true);
    pic.irq(3).set(true);
    expect(pic.pending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x33);
    expect(readIsr(0x20)).toBe(0x08);
    expect(inb(0x20)).toBe(0x10); // IRR: IRQ 4 waiting, IRQ 3 moved to ISR
    expect(pic.pending()).toBe(false); // IRQ 4 is lower priority than in-service IRQ 3
    eoi(3);
    expect(pic.acknowledge()).toBe(0x34);
    outb(0x20, 0x20); // non-specific EOI
    expect(readIsr(0x20)).toBe(0);
    expect(pic.pending()).toBe(false);
  });

  it('cascades slave IRQs through IRQ 2 and needs both EOIs', () => {
    initLikeLinux();
    pic.irq(12).set(true);
    expect(pic.acknowledge()).toBe(0x3c);
    expect(readIsr(0x20)).toBe(0x04);
    expect(readIsr(0xa0)).toBe(0x10);
    pic.irq(8).set(true);
    expect(pic.pending()).toBe(false); // master's cascade level is in service (no SFNM)
    eoi(12);
    expect(pic.acknowledge()).toBe(0x38);
  });

  it('edge-triggered inputs latch a rising edge once; a held line does not re-request', () => {
    initLikeLinux();
    const line = pic.irq(1);
    line.set(true);
    expect(pic.acknowledge()).toBe(0x31);
    eoi(1);
    line.set(true);
    expect(pic.pending()).toBe(false);
    line.set(false);
    line.set(true);
    expect(pic.acknowledge()).toBe(0x31);
  });

  it('level-triggered inputs (ELCR) re-request after EOI while held and drop when released', () => {
    initLikeLinux();
    outb(0x4d1, 0xff);
    outb(0x4d0, 0xff);
    expect(inb(0x4d0)).toBe(0xf8); // IRQ 0-2 are edge-only
    expect(inb(0x4d1)).toBe(0xde); // IRQ 8 and 13 are edge-only
    pic.irq(11).set(true);
    expect(pic.acknowledge()).toBe(0x3b);
    eoi(11);
    expect(pic.pending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x3b);
    pic.irq(11).set(false);
    eoi(11);
    expect(pic.pending()).toBe(false);
  });

  it('masks requests in IMR and delivers them once unmasked', () => {
    initLikeLinux();
    outb(0x21, 0x01);
    expect(inb(0x21)).toBe(0x01);
    pic.irq(0).set(true);
    expect(pic.pending()).toBe(false);
    outb(0x21, 0x00);
    expect(pic.acknowledge()).toBe(0x30);
  });

  it('answers a vanished request with spurious IRQ 7 without setting ISR', () => {
    initLikeLinux();
    outb(0x4d0, 0x20);
    pic.irq(5).set(true);
    expect(pic.pending()).toBe(true);
    pic.irq(5).set(false);
    expect(pic.acknowledge()).toBe(0x37);
    expect(readIsr(0x20)).toBe(0);
    expect(pic.spuriousCount).toBe(1);
  });

  it('answers a vanished slave request with spurious IRQ 15 and leaves the slave ISR clear', () => {
    initLikeLinux();
    outb(0x4d1, 0x08);
    pic.irq(11).set(true);
    // The slave request vanishes after the master latched the cascade edge.
    pic.irq(11).set(false);
    expect(pic.acknowledge()).toBe(0x3f);
    expect(readIsr(0xa0)).toBe(0);
    expect(readIsr(0x20)).toBe(0x04); // the master did acknowledge IRQ 2: Linux EOIs it
  });

  it('auto-EOI ends the interrupt in the INTA cycle', () => {
    initLikeLinux(0x03);
    pic.irq(6).set(true);
    pic.irq(7).set(true);
    expect(pic.acknowledge()).toBe(0x36);
    expect(readIsr(0x20)).toBe(0);
    expect(pic.acknowledge()).toBe(0x37);
  });

  it('rotates priorities on EOI and by set-priority', () => {
    initLikeLinux();
    pic.irq(1).set(true);
    expect(pic.acknowledge()).toBe(0x31);
    outb(0x20, 0xa0); // rotate on non-specific EOI: IRQ 1 becomes lowest
    pic.irq(1).set(false);
    pic.irq(1).set(true);
    pic.irq(0).set(true);
    pic.irq(4).set(true);
    expect(pic.acknowledge()).toBe(0x34); // priority order is now 2,3,4,...,0,1
    outb(0x20, 0xe4); // rotate on specific EOI of 4: order 5,6,7,0,1,...
    expect(pic.acknowledge()).toBe(0x30);
    outb(0x20, 0x20);
    outb(0x20, 0xc7); // set priority: IRQ 7 lowest, so IRQ 0 highest again
    expect(pic.state()[0].irr).toBe(0x02);
    expect(pic.acknowledge()).toBe(0x31);
  });

  it('rotates in auto-EOI mode when asked', () => {
    initLikeLinux(0x03);
    outb(0x20, 0x80);
    pic.irq(0).set(true);
    expect(pic.acknowledge()).toBe(0x30);
    pic.irq(0).set(false);
    pic.irq(0).set(true);
    pic.irq(5).set(true);
    expect(pic.acknowledge()).toBe(0x35); // IRQ 0 rotated to lowest
  });

  it('special mask mode lets lower priorities through while a masked level is in service', () => {
    initLikeLinux();
    pic.irq(3).set(true);
    expect(pic.acknowledge()).toBe(0x33);
    pic.irq(5).set(true);
    expect(pic.pending()).toBe(false);
    outb(0x21, 0x08); // mask the in-service level
    outb(0x20, 0x68); // OCW3: ESMM | SMM
    expect(pic.acknowledge()).toBe(0x35);
    outb(0x20, 0x48); // leave special mask mode
    eoi(5);
    eoi(3);
  });

  it('special fully nested mode lets a higher slave IRQ nest within another slave IRQ', () => {
    initLikeLinux(0x11);
    pic.irq(12).set(true);
    expect(pic.acknowledge()).toBe(0x3c);
    pic.irq(9).set(true);
    expect(pic.acknowledge()).toBe(0x39);
  });

  it('poll mode acknowledges through a command-port read', () => {
    initLikeLinux();
    pic.irq(6).set(true);
    outb(0x20, 0x0c); // OCW3 poll
    expect(inb(0x20)).toBe(0x86);
    expect(readIsr(0x20)).toBe(0x40);
    outb(0x20, 0x0c);
    expect(inb(0x20)).toBe(0x00);
  });

  it('tells a watcher when its IRQ is taken, by INTA or by a poll, master or slave, never for a spurious cycle', () => {
    initLikeLinux();
    const taken: number[] = [];
    for (const n of [0, 2, 6, 12]) pic.watch(n, { acknowledged: () => taken.push(n), unmasked: () => undefined });
    pic.irq(0).set(true);
    expect(pic.acknowledge()).toBe(0x30);
    eoi(0);
    pic.irq(2).set(true); // arrives as IRQ 9
    expect(pic.acknowledge()).toBe(0x39);
    eoi(9);
    pic.irq(12).set(true);
    expect(pic.acknowledge()).toBe(0x3c);
    eoi(12);
    pic.irq(6).set(true);
    outb(0x20, 0x0c);
    expect(inb(0x20)).toBe(0x86);
    expect(taken).toEqual([0, 2, 12, 6]);
    eoi(6);
    expect(pic.acknowledge()).toBe(0x37); // nothing pending: spurious, no hook
    expect(taken).toHaveLength(4);
    expect(() => pic.watch(16, { acknowledged: () => undefined, unmasked: () => undefined })).toThrow(RangeError);
  });

  it('tells a watcher when the guest unmasks its IRQ, by OCW1 or by reinitialising, not when it masks it', () => {
    initLikeLinux();
    const unmasked: number[] = [];
    for (const n of [0, 9]) pic.watch(n, { acknowledged: () => undefined, unmasked: () => unmasked.push(n) });
    outb(0x21, 0x01);
    outb(0xa1, 0x02);
    expect(unmasked).toEqual([]);
    outb(0x21, 0x00);
    outb(0xa1, 0x00);
    expect(unmasked).toEqual([0, 9]);
    outb(0x21, 0xff);
    outb(0x20, 0x11); // ICW1 clears the mask
    expect(unmasked).toEqual([0, 9, 0]);
  });

  it('reprogramming with ICW1 clears masks and in-service state and forgets held edges', () => {
    initLikeLinux();
    pic.irq(3).set(true);
    pic.acknowledge();
    pic.irq(4).set(true);
    outb(0x21, 0x55);
    initLikeLinux();
    expect(pic.state()[0]).toMatchObject({ isr: 0, irr: 0, imr: 0, vectorBase: 0x30 });
  });

  it('survives garbage command sequences and ends in a defined, reprogrammable state', () => {
    const rand = lcg(12345);
    const ports = [0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1];
    for (let i = 0; i < 20000; i++) {
      const port = ports[rand() % ports.length];
      if (rand() & 1) outb(port, rand() & 0xff);
      else expect(inb(port)).toBeLessThanOrEqual(0xff);
      if (rand() % 7 === 0) pic.irq(rand() % 16).set((rand() & 1) === 1);
      if (pic.pending()) {
        const vector = pic.acknowledge();
        expect(vector).toBeGreaterThanOrEqual(0);
        expect(vector).toBeLessThanOrEqual(0xff);
      }
    }
    for (let n = 0; n < 16; n++) pic.irq(n).set(false);
    outb(0x4d0, 0);
    outb(0x4d1, 0);
    initLikeLinux();
    pic.irq(10).set(true);
    expect(pic.acknowledge()).toBe(0x3a);
  });

  it('reroutes the ISA IRQ 2 pin to IRQ 9, as the AT does', () => {
    initLikeLinux();
    pic.irq(2).set(true);
    expect(pic.acknowledge()).toBe(0x39);
  });

  it('rejects IRQ numbers outside 0-15 as a wiring error', () => {
    expect(() => pic.irq(16)).toThrow(RangeError);
  });
});
