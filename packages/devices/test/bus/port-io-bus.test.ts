import { describe, expect, it } from 'vitest';
import type { AccessSize, PortIoHandler } from '@ringvisor/vmm-api';
import { PortIoBus } from '../../src/bus/port-io-bus.js';
import { MmioDispatchBus } from '../../src/bus/mmio-bus.js';

class Recorder implements PortIoHandler {
  readonly log: string[] = [];
  ioRead(port: number, size: AccessSize): number {
    this.log.push(`r ${port.toString(16)}/${size}`);
    return 0x1234_5678_9;
  }
  ioWrite(port: number, size: AccessSize, value: number): void {
    this.log.push(`w ${port.toString(16)}/${size}=${value.toString(16)}`);
  }
}

describe('PortIoBus', () => {
  it('routes accesses to the claiming device with the absolute port and truncates to the access size', () => {
    const bus = new PortIoBus();
    const dev = new Recorder();
    bus.register(0x3f8, 8, dev);
    expect(bus.read(0x3fd, 1)).toBe(0x89);
    expect(bus.read(0x3f8, 2)).toBe(0x6789);
    bus.write(0x3f9, 1, 0x1ff);
    expect(dev.log).toEqual(['r 3fd/1', 'r 3f8/2', 'w 3f9/1=ff']);
  });

  it('answers unclaimed reads with all ones, drops unclaimed writes, and counts both', () => {
    const bus = new PortIoBus();
    expect(bus.read(0x1234, 1)).toBe(0xff);
    expect(bus.read(0x1234, 2)).toBe(0xffff);
    expect(bus.read(0x1234, 4)).toBe(0xffffffff);
    bus.write(0x80, 1, 5);
    expect(bus.unclaimedReads).toBe(3);
    expect(bus.unclaimedWrites).toBe(1);
    expect(bus.lastUnclaimedPort).toBe(0x80);
  });

  it('refuses overlapping and out-of-space registrations', () => {
    const bus = new PortIoBus();
    bus.register(0x60, 1, new Recorder());
    expect(() => bus.register(0x5f, 2, new Recorder())).toThrow(/0x60/);
    expect(() => bus.register(0xffff, 2, new Recorder())).toThrow(RangeError);
    expect(() => bus.register(-1, 1, new Recorder())).toThrow(RangeError);
    expect(() => bus.register(0x10, 0, new Recorder())).toThrow(RangeError);
  });

  it('lets one device claim several ranges and wraps port numbers to 16 bits', () => {
    const bus = new PortIoBus();
    const dev = new Recorder();
    bus.registerDevice({ ports: [{ base: 0x20, length: 2 }, { base: 0xa0, length: 2 }], ioRead: dev.ioRead.bind(dev), ioWrite: dev.ioWrite.bind(dev) });
    bus.write(0x100a0, 1, 1);
    expect(dev.log).toEqual(['w a0/1=1']);
    expect(bus.handlerAt(0x21)).toBe(bus.handlerAt(0xa1));
  });
});

describe('PortIoBus with byte-wide ISA devices', () => {
  it('splits 16- and 32-bit accesses into byte accesses to consecutive ports', () => {
    const bus = new PortIoBus();
    const log: string[] = [];
    const isa = {
      ports: [{ base: 0x20, length: 2 }],
      byteWide: true,
      ioRead: (port: number, size: AccessSize) => {
        log.push(`r ${port.toString(16)}/${size}`);
        return port;
      },
      ioWrite: (port: number, size: AccessSize, value: number) => {
        log.push(`w ${port.toString(16)}/${size}=${value.toString(16)}`);
      },
    };
    bus.registerDevice(isa);
    bus.write(0x20, 2, 0x1311);
    expect(bus.read(0x20, 2)).toBe(0x2120);
    expect(bus.read(0x21, 4)).toBe(0xffff_ff21); // ports 0x22-0x24 are unclaimed
    expect(log).toEqual(['w 20/1=11', 'w 21/1=13', 'r 21/1', 'r 20/1', 'r 21/1']);
    expect(bus.unclaimedReads).toBe(3);
  });
});

describe('MmioDispatchBus', () => {
  const window = (log: string[]) => ({
    mmioRead: (offset: number, size: AccessSize) => {
      log.push(`r ${offset}/${size}`);
      return offset;
    },
    mmioWrite: (offset: number, size: AccessSize, value: number) => {
      log.push(`w ${offset}/${size}=${value}`);
    },
  });

  it('routes by window with offsets relative to the window base', () => {
    const bus = new MmioDispatchBus();
    const a: string[] = [];
    const b: string[] = [];
    bus.register(0xd000_0000, 0x1000, window(a));
    bus.register(0xfee0_0000, 0x1000, window(b));
    bus.register(0x1_0000_0000, 0x200, window(b));
    expect(bus.read(0xd000_0010, 4)).toBe(0x10);
    bus.write(0xfee0_00b0, 4, 0);
    expect(bus.read(0x1_0000_01ff, 1)).toBe(0xff);
    expect(a).toEqual(['r 16/4']);
    expect(b).toEqual(['w 176/4=0', 'r 511/1']);
  });

  it('answers unclaimed addresses with all ones and counts them, including the byte past a window', () => {
    const bus = new MmioDispatchBus();
    bus.register(0x1000, 0x100, window([]));
    expect(bus.read(0x1100, 4)).toBe(0xffffffff);
    expect(bus.read(0xfff, 2)).toBe(0xffff);
    bus.write(0, 1, 1);
    expect(bus.unclaimedReads).toBe(2);
    expect(bus.unclaimedWrites).toBe(1);
    expect(bus.lastUnclaimedAddress).toBe(0);
  });

  it('refuses overlapping windows whichever side they overlap on', () => {
    const bus = new MmioDispatchBus();
    bus.register(0x1000, 0x1000, window([]));
    expect(() => bus.register(0x1fff, 1, window([]))).toThrow(/overlaps/);
    expect(() => bus.register(0x800, 0x801, window([]))).toThrow(/overlaps/);
    expect(() => bus.register(0x0, 0x10000, window([]))).toThrow(/overlaps/);
    expect(() => bus.register(0x3000, 0, window([]))).toThrow(RangeError);
    bus.register(0x2000, 0x10, window([]));
    bus.register(0x800, 0x800, window([]));
  });
});
