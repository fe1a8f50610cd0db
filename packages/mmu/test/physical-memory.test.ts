import { describe, expect, it } from 'vitest';
import { KIND_MMIO, KIND_RAM, KIND_ROM, KIND_UNMAPPED, PhysicalMemory } from '../src/index.js';
import { RecordingDevice } from './recording-device.js';

/** A small PC: 640 KiB low RAM, a VGA-style MMIO hole, a 64 KiB BIOS ROM at 0xf0000, RAM from 1 MiB to 2 MiB. */
function pc(bios = new Uint8Array(0x10000).fill(0x90)): PhysicalMemory {
  return new PhysicalMemory({
    regions: [
      { base: 0, size: 0xa0000 },
      { base: 0xf0000, size: 0x10000, rom: bios },
      { base: 0x100000, size: 0x100000 },
    ],
  });
}

describe('RAM', () => {
  it('stores little-endian values of every width and reads them back at any alignment', () => {
    const mem = pc();
    mem.write32(0x1000, 0x11223344);
    expect(mem.read8(0x1000)).toBe(0x44);
    expect(mem.read16(0x1001)).toBe(0x2233);
    expect(mem.read32(0x1000)).toBe(0x11223344);
    mem.write16(0x2003, 0xbeef);
    expect(mem.read32(0x2002)).toBe(0x00beef00);
    mem.write32(0x3001, 0xfedcba98);
    expect(mem.read32(0x3001)).toBe(0xfedcba98);
    expect(mem.ram[0x3004]).toBe(0xfe);
  });

  it('splits accesses that cross a page boundary between RAM pages', () => {
    const mem = pc();
    mem.write32(0x4ffe, 0xa1b2c3d4);
    expect([...mem.ram.subarray(0x4ffe, 0x5002)]).toEqual([0xd4, 0xc3, 0xb2, 0xa1]);
    expect(mem.read32(0x4ffe)).toBe(0xa1b2c3d4);
    mem.write16(0x5fff, 0x1234);
    expect(mem.read16(0x5fff)).toBe(0x1234);
  });

  it('reports ramEnd and exposes the backing as one array marked RAM in the kind table', () => {
    const mem = pc();
    expect(mem.ramEnd).toBe(0x200000);
    expect(mem.ram.length).toBe(0x200000);
    expect(mem.kind[0]).toBe(KIND_RAM);
    expect(mem.kind[0xa0]).toBe(KIND_UNMAPPED);
    expect(mem.kind[0xf0]).toBe(KIND_ROM);
    expect(mem.kind[0x1ff]).toBe(KIND_RAM);
    expect(mem.kind[0x200]).toBe(KIND_UNMAPPED);
  });

  it('uses a caller-provided SharedArrayBuffer as backing', () => {
    const shared = new SharedArrayBuffer(0x10000);
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x10000 }], ramBuffer: shared });
    mem.write32(0x100, 0xcafef00d);
    expect(new DataView(shared).getUint32(0x100, true)).toBe(0xcafef00d);
    expect(() => new PhysicalMemory({ regions: [{ base: 0, size: 0x20000 }], ramBuffer: shared })).toThrow(RangeError);
  });

  it('uses a view of a larger buffer as backing: address 0 is the view\'s first byte', () => {
    const pool = new SharedArrayBuffer(0x30000);
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x10000 }], ramBuffer: new Uint8Array(pool, 0x10000, 0x10000) });
    mem.write32(0, 0x11223344);
    mem.write32(0xfffc, 0x55667788);
    const bytes = new DataView(pool);
    expect(bytes.getUint32(0x10000, true)).toBe(0x11223344);
    expect(bytes.getUint32(0x1fffc, true)).toBe(0x55667788);
    expect(bytes.getUint32(0x20000, true)).toBe(0);
    expect(mem.read32(0x10000)).toBe(0xffffffff);
    expect(() => new PhysicalMemory({ regions: [{ base: 0, size: 0x20000 }], ramBuffer: new Uint8Array(pool, 0x20000) })).toThrow(RangeError);
    expect(() => new PhysicalMemory({ regions: [{ base: 0, size: 0x1000 }], ramBuffer: new Uint8Array(pool, 2, 0x1000) })).toThrow(/not 4-aligned/);
  });
});

describe('ROM', () => {
  it('reads its image, ignores writes and pads a short image with 0xff', () => {
    const image = new Uint8Array([0xea, 0x5b, 0xe0, 0x00, 0xf0]);
    const mem = new PhysicalMemory({ regions: [{ base: 0xfffff000, size: 0x1000, rom: image }] });
    expect(mem.read8(0xfffff000)).toBe(0xea);
    expect(mem.read32(0xfffff001)).toBe(0xf000e05b);
    mem.write32(0xfffff000, 0);
    mem.write8(0xfffff004, 0);
    expect(mem.read32(0xfffff000)).toBe(0x00e05bea);
    expect(mem.read16(0xfffffffe)).toBe(0xffff);
  });

  it('serves the same image at two bases (BIOS at 0xf0000 aliased below 4 GiB)', () => {
    const bios = new Uint8Array(0x10000);
    bios[0xfff0] = 0xea;
    const mem = new PhysicalMemory({
      regions: [{ base: 0xf0000, size: 0x10000, rom: bios }, { base: 0xffff0000, size: 0x10000, rom: bios }],
    });
    expect(mem.read8(0xffff0)).toBe(0xea);
    expect(mem.read8(0xfffffff0)).toBe(0xea);
  });
});

describe('MMIO', () => {
  it('dispatches reads and writes with their size and window offset', () => {
    const mem = pc();
    const uart = new RecordingDevice();
    mem.addMmio(0xfec00000, 0x2000, uart);
    expect(mem.kind[0xfec01]).toBe(KIND_MMIO);
    expect(mem.read8(0xfec00010)).toBe(RecordingDevice.answer(0x10, 1) & 0xff);
    expect(mem.read16(0xfec01002)).toBe(RecordingDevice.answer(0x1002, 2) & 0xffff);
    expect(mem.read32(0xfec00020)).toBe(RecordingDevice.answer(0x20, 4));
    mem.write8(0xfec00000, 0x1ff);
    mem.write16(0xfec00004, 0x12345);
    mem.write32(0xfec01ffc, -1);
    expect(uart.cycles).toEqual([
      { op: 'read', at: 0x10, size: 1 },
      { op: 'read', at: 0x1002, size: 2 },
      { op: 'read', at: 0x20, size: 4 },
      { op: 'write', at: 0, size: 1, value: 0xff },
      { op: 'write', at: 4, size: 2, value: 0x2345 },
      { op: 'write', at: 0x1ffc, size: 4, value: 0xffffffff },
    ]);
  });

  it('masks what a handler returns to the access size', () => {
    const mem = pc();
    mem.addMmio(0xe0000000, 0x1000, { mmioRead: () => -2, mmioWrite: () => {} });
    expect(mem.read8(0xe0000000)).toBe(0xfe);
    expect(mem.read16(0xe0000000)).toBe(0xfffe);
    expect(mem.read32(0xe0000000)).toBe(0xfffffffe);
  });

  it('splits an access that straddles RAM and a window into byte cycles', () => {
    const mem = pc();
    const device = new RecordingDevice();
    mem.addMmio(0xa0000, 0x1000, device);
    mem.write32(0x9fffe, 0x44332211);
    expect(mem.read16(0x9fffe)).toBe(0x2211);
    expect(device.cycles).toEqual([
      { op: 'write', at: 0, size: 1, value: 0x33 },
      { op: 'write', at: 1, size: 1, value: 0x44 },
    ]);
  });

  it('overlays RAM and uncovers it again when removed', () => {
    const mem = pc();
    mem.write32(0x8000, 0x600dcafe);
    const device = new RecordingDevice();
    mem.addMmio(0x8000, 0x1000, device);
    expect(mem.read32(0x8000)).toBe(RecordingDevice.answer(0, 4));
    expect(mem.view(0x8000, 4)).toBeNull();
    expect(mem.removeMmio(0x8000)).toBe(true);
    expect(mem.removeMmio(0x8000)).toBe(false);
    expect(mem.kind[8]).toBe(KIND_RAM);
    expect(mem.read32(0x8000)).toBe(0x600dcafe);
    mem.addMmio(0x8000, 0x1000, device);
    expect(mem.read8(0x8003)).toBe(RecordingDevice.answer(3, 1) & 0xff);
  });

  it('refuses overlapping windows and misaligned placements', () => {
    const mem = pc();
    mem.addMmio(0xfee00000, 0x1000, new RecordingDevice());
    expect(() => mem.addMmio(0xfee00000, 0x1000, new RecordingDevice())).toThrow(RangeError);
    expect(() => mem.addMmio(0xd0000800, 0x1000, new RecordingDevice())).toThrow(RangeError);
    expect(() => mem.addMmio(0xfffff000, 0x2000, new RecordingDevice())).toThrow(RangeError);
    expect(() => pcWith([{ base: 0, size: 0x2000 }, { base: 0x1000, size: 0x1000 }])).toThrow(RangeError);
    expect(() => pcWith([{ base: 0, size: 0x1000, rom: new Uint8Array(0x1001) }])).toThrow(RangeError);
  });
});

function pcWith(regions: { base: number; size: number; rom?: Uint8Array }[]): PhysicalMemory {
  return new PhysicalMemory({ regions });
}

describe('unclaimed addresses', () => {
  it('read all ones and drop writes without a fallback bus', () => {
    const mem = pc();
    mem.write32(0xa0000, 0);
    expect(mem.read8(0xa0000)).toBe(0xff);
    expect(mem.read16(0xc0000000)).toBe(0xffff);
    expect(mem.read32(0xfffffffc)).toBe(0xffffffff);
  });

  it('go to the fallback MMIO bus with their physical address', () => {
    const bus = new RecordingDevice();
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x1000 }], fallback: bus });
    expect(mem.read16(0xd0000010)).toBe(RecordingDevice.answer(0xd0000010, 2) & 0xffff);
    mem.write32(0xd0000020, 7);
    expect(bus.cycles).toEqual([
      { op: 'read', at: 0xd0000010, size: 2 },
      { op: 'write', at: 0xd0000020, size: 4, value: 7 },
    ]);
  });
});

describe('A20 gate', () => {
  it('wraps 0x100000 onto 0 while disabled, on every CPU access', () => {
    const mem = pc();
    mem.write8(0x100000, 0xaa);
    mem.write8(0, 0x55);
    mem.a20Enabled = false;
    expect(mem.a20Enabled).toBe(false);
    expect(mem.read8(0x100000)).toBe(0x55);
    expect(mem.read8(0x10ffef)).toBe(mem.read8(0xffef));
    mem.write16(0x100010, 0x1234);
    expect(mem.read16(0x10)).toBe(0x1234);
    // FFFF:000F + 1: a word at 0xfffff (ROM) and 0x100000 wraps its second byte to 0.
    expect(mem.read16(0xfffff)).toBe(0x5590);
    mem.a20Enabled = true;
    expect(mem.read8(0x100000)).toBe(0xaa);
  });

  it('tells layout listeners when it changes', () => {
    const mem = pc();
    let changes = 0;
    mem.onLayoutChange(() => changes++);
    mem.a20Enabled = false;
    mem.a20Enabled = false;
    mem.a20Enabled = true;
    expect(changes).toBe(2);
  });
});

describe('accesses sized by value (the CPU carries the operand size as a number)', () => {
  it('read and write 1, 2 and 4 bytes', () => {
    const mem = pc();
    mem.write(0x100, 4, 0x11223344);
    mem.write(0x104, 2, 0x5566);
    mem.write(0x106, 1, 0x77);
    expect(mem.read(0x100, 4)).toBe(0x11223344);
    expect(mem.read(0x104, 2)).toBe(0x5566);
    expect(mem.read(0x106, 1)).toBe(0x77);
  });

  it('give the A20 address mask for paging-off fast paths', () => {
    const mem = pc();
    expect((0x10fff0 & mem.addressMask) >>> 0).toBe(0x10fff0);
    mem.a20Enabled = false;
    expect((0x10fff0 & mem.addressMask) >>> 0).toBe(0xfff0);
    expect((0xffffffff & mem.addressMask) >>> 0).toBe(0xffefffff);
  });
});
