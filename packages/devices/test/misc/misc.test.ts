import { describe, expect, it } from 'vitest';
import { PortIoBus } from '../../src/bus/port-io-bus.js';
import { SystemControlPortA } from '../../src/misc/system-control-port-a.js';
import { PostCodePort } from '../../src/misc/post-code-port.js';
import { DebugExitPort } from '../../src/misc/debug-exit-port.js';

describe('port 0x92 (fast A20 and reset)', () => {
  it('enables A20 like Linux enable_a20_fast without resetting, and resets on a bit 0 rising edge', () => {
    const events: string[] = [];
    const port = new SystemControlPortA({ onReset: () => events.push('reset'), onA20: (on) => events.push(`a20 ${on}`) });
    const bus = new PortIoBus();
    bus.registerDevice(port);
    let v = bus.read(0x92, 1);
    v |= 0x02;
    v &= ~0x01;
    bus.write(0x92, 1, v);
    expect(port.a20).toBe(true);
    expect(bus.read(0x92, 1)).toBe(0x02);
    bus.write(0x92, 1, 0x03);
    bus.write(0x92, 1, 0x03); // bit 0 already set: no second reset
    bus.write(0x92, 1, 0xf2); // only bits 0, 1 and 3 are kept
    expect(bus.read(0x92, 1)).toBe(0x02);
    expect(events).toEqual(['a20 true', 'reset']);
  });
});

describe('port 0x80 (POST codes)', () => {
  it('keeps the last code written and counts writes', () => {
    const post = new PostCodePort();
    const bus = new PortIoBus();
    bus.registerDevice(post);
    expect(bus.read(0x80, 1)).toBe(0xff);
    bus.write(0x80, 1, 0x12);
    bus.write(0x80, 1, 0x3c);
    expect(post.lastCode).toBe(0x3c);
    expect(post.writes).toBe(2);
    expect(bus.read(0x80, 1)).toBe(0x3c);
  });
});

describe('debug exit port (QEMU isa-debug-exit semantics)', () => {
  it('asks the VMM to exit with (v << 1) | 1 for writes of every size, without 32-bit wrap', () => {
    const statuses: number[] = [];
    const dev = new DebugExitPort({ onExit: (s) => statuses.push(s) });
    const bus = new PortIoBus();
    bus.registerDevice(dev);
    bus.write(0xf4, 1, 0x00);
    bus.write(0xf4, 1, 0x10);
    bus.write(0xf4, 2, 0x1234);
    bus.write(0xf4, 4, 0xffffffff);
    expect(statuses).toEqual([1, 0x21, 0x2469, 0x1_ffff_ffff]);
    expect(dev.exitStatus).toBe(0x1_ffff_ffff);
    expect(bus.read(0xf4, 1)).toBe(0xff);
  });

  it('can sit elsewhere, e.g. QEMU\'s default iobase 0x501 with two ports', () => {
    const statuses: number[] = [];
    const dev = new DebugExitPort({ onExit: (s) => statuses.push(s), base: 0x501, length: 2 });
    const bus = new PortIoBus();
    bus.registerDevice(dev);
    bus.write(0x502, 1, 3);
    bus.write(0xf4, 1, 3);
    expect(statuses).toEqual([7]);
  });
});
