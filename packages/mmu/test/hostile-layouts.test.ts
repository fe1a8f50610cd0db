import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../src/index.js';
import { RecordingDevice } from './recording-device.js';

// CPU accesses at the edges of regions, across RAM/MMIO/ROM boundaries, at 4 GiB - 1 and around bit 20
// with the A20 gate both ways. A20M# masks bit 20 of every physical address the CPU puts on the bus,
// byte by byte for an access split at a page boundary; device DMA (readBytes/writeBytes) is not masked.

const MMIO = 0x200000;
const ROM = 0xffff0000;

/** 2 MiB of RAM, a device window right after it, RAM again after that, a BIOS ROM at the top of 4 GiB. */
function layout(fallback?: RecordingDevice): { mem: PhysicalMemory; device: RecordingDevice } {
  const rom = new Uint8Array(0x10000);
  for (let i = 0; i < rom.length; i++) rom[i] = (i * 7 + 3) & 0xff;
  const mem = new PhysicalMemory({
    regions: [{ base: 0, size: MMIO }, { base: MMIO + 0x1000, size: 0x1000 }, { base: ROM, size: 0x10000, rom }],
    ...(fallback ? { fallback } : {}),
  });
  const device = new RecordingDevice();
  mem.addMmio(MMIO, 0x1000, device);
  return { mem, device };
}

describe('accesses split at a page boundary with the A20 gate disabled', () => {
  it('mask bit 20 of each byte\'s address; the carry out of bit 19 still reaches bit 21', () => {
    const { mem, device } = layout();
    for (let i = 0; i < 8; i++) mem.ram[0x0ffffc + i] = 0x10 + i; // 0x0ffffc-0x100003
    mem.ram[0] = 0xa0;
    mem.ram[1] = 0xa1;
    mem.a20Enabled = false;
    // 0x0fffff + 1 = 0x100000, gated to 0: the classic wrap.
    expect(mem.read16(0x0fffff)).toBe(0xa013);
    // 0x1fffff + 1 = 0x200000 (bit 20 clear): the device window, not RAM at 0.
    expect(mem.read16(0x1fffff)).toBe(0x13 | ((RecordingDevice.answer(0, 1) & 0xff) << 8));
    expect(device.cycles).toEqual([{ op: 'read', at: 0, size: 1 }]);
  });

  it('write each byte where the gated address of that byte points', () => {
    const { mem, device } = layout();
    mem.a20Enabled = false;
    mem.write32(0x1ffffe, 0x44332211); // 0x0ffffe, 0x0fffff (RAM), then 0x200000, 0x200001 (device)
    expect([...mem.ram.subarray(0x0ffffe, 0x100000)]).toEqual([0x11, 0x22]);
    expect([mem.ram[0], mem.ram[1]]).toEqual([0, 0]);
    expect(device.cycles).toEqual([
      { op: 'write', at: 0, size: 1, value: 0x33 },
      { op: 'write', at: 1, size: 1, value: 0x44 },
    ]);
    mem.a20Enabled = true;
    device.cycles.length = 0;
    mem.write32(0x1ffffe, 0x88776655); // ungated: 0x1ffffe, 0x1fffff, then the device
    expect([...mem.ram.subarray(0x1ffffe, 0x200000)]).toEqual([0x55, 0x66]);
    expect(device.cycles.map((c) => c.value)).toEqual([0x77, 0x88]);
  });

  it('or32 (A/D updates) follows the same rule when it is not an aligned RAM dword', () => {
    const { mem, device } = layout();
    mem.a20Enabled = false;
    mem.or32(0x1ffffe, 0x01010101);
    expect([...mem.ram.subarray(0x0ffffe, 0x100000)]).toEqual([1, 1]);
    expect(mem.ram[0]).toBe(0);
    expect(device.cycles.filter((c) => c.op === 'write').map((c) => c.at)).toEqual([0, 1]);
  });
});

describe('4 GiB - 1 and the top of the address space', () => {
  it('reads the ROM\'s last bytes and all ones for bytes at or above 4 GiB; writes there are dropped', () => {
    const bus = new RecordingDevice();
    const { mem } = layout(bus);
    const last = (0xffff * 7 + 3) & 0xff;
    expect(mem.read8(0xffffffff)).toBe(last);
    expect(mem.read16(0xffffffff)).toBe(0xff00 | last);
    expect(mem.read32(0xfffffffe) >>> 16).toBe(0xffff);
    mem.write32(0xfffffffd, 0);
    expect(mem.read8(0xffffffff)).toBe(last);
    expect(bus.cycles).toEqual([]); // nothing reached the fallback bus as an address wrapped past 4 GiB
  });

  it('with A20 disabled a word at 0xffefffff reads one byte below the ROM and nothing past 4 GiB', () => {
    const bus = new RecordingDevice();
    const { mem } = layout(bus);
    mem.a20Enabled = false;
    // 0xffffffff is gated to 0xffefffff (unmapped: the fallback bus); the next byte is at 4 GiB.
    expect(mem.read16(0xffffffff)).toBe(0xff00 | (RecordingDevice.answer(0xffefffff, 1) & 0xff));
    expect(bus.cycles).toEqual([{ op: 'read', at: 0xffefffff, size: 1 }]);
  });

  it('an MMIO window in the top page gets in-window byte accesses only', () => {
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x1000 }] });
    const device = new RecordingDevice();
    mem.addMmio(0xfffff000, 0x1000, device);
    expect(mem.read32(0xfffffffe) >>> 16).toBe(0xffff);
    mem.write32(0xffffffff, 0x12345678);
    expect(device.cycles).toEqual([
      { op: 'read', at: 0xffe, size: 1 },
      { op: 'read', at: 0xfff, size: 1 },
      { op: 'write', at: 0xfff, size: 1, value: 0x78 },
    ]);
    expect(mem.read32(0xfffffffc)).toBe(RecordingDevice.answer(0xffc, 4));
  });
});

describe('RAM, MMIO and unmapped neighbours', () => {
  it('a dword across RAM -> device -> RAM is split by page, each part to its owner', () => {
    const { mem, device } = layout();
    mem.write32(MMIO - 2, 0xddccbbaa);
    mem.write32(MMIO + 0xffe, 0x44332211);
    expect([...mem.ram.subarray(MMIO - 2, MMIO)]).toEqual([0xaa, 0xbb]);
    expect([...mem.ram.subarray(MMIO + 0x1000, MMIO + 0x1002)]).toEqual([0x33, 0x44]);
    expect(device.cycles).toEqual([
      { op: 'write', at: 0, size: 1, value: 0xcc },
      { op: 'write', at: 1, size: 1, value: 0xdd },
      { op: 'write', at: 0xffe, size: 1, value: 0x11 },
      { op: 'write', at: 0xfff, size: 1, value: 0x22 },
    ]);
    // Inside the window an access reaches the device whole, at any alignment.
    device.cycles.length = 0;
    expect(mem.read32(MMIO + 0x7fd)).toBe(RecordingDevice.answer(0x7fd, 4));
    expect(device.cycles).toEqual([{ op: 'read', at: 0x7fd, size: 4 }]);
  });

  it('RAM that ends at a hole reads its last bytes and all ones beyond, and never grows', () => {
    const { mem } = layout();
    const end = MMIO + 0x2000;
    expect(mem.ramEnd).toBe(end);
    mem.write32(end - 4, 0x01020304);
    expect(mem.read32(end - 4)).toBe(0x01020304);
    mem.write32(end - 1, 0xaabbccdd);
    expect(mem.read32(end - 1)).toBe(0xffffffdd);
    expect(mem.read32(end)).toBe(0xffffffff);
    expect(mem.ram.length).toBe(end);
  });

  it('DMA and loader copies ignore the A20 gate', () => {
    const { mem } = layout();
    mem.ram[0x100000] = 0x5a;
    mem.a20Enabled = false;
    const into = new Uint8Array(1);
    expect(mem.readBytes(0x100000, into)).toBe(true);
    expect(into[0]).toBe(0x5a);
    expect(mem.writeBytes(0x100001, Uint8Array.of(0x6b))).toBe(true);
    expect(mem.ram[0x100001]).toBe(0x6b);
    expect(mem.ram[1]).toBe(0);
    expect(mem.readBytes(MMIO - 1, new Uint8Array(2))).toBe(false); // not all RAM
  });
});

describe('every CPU access is the bytes it covers, each gated and dispatched alone (no MMIO)', () => {
  it('agrees with a byte-wise model at random addresses near bit 20, region edges and 4 GiB', () => {
    const rom = new Uint8Array(0x1000).map((_, i) => (i * 13) & 0xff);
    let seed = 0x2468ace1;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const interesting = [0, 1, 2, 3, 0xffd, 0xffe, 0xfff, 0xffffd, 0xffffe, 0xfffff];
    for (const a20 of [true, false]) {
      const mem = new PhysicalMemory({
        regions: [{ base: 0, size: 0x300000 }, { base: 0x400000, size: 0x1000, rom }, { base: 0xfffff000, size: 0x1000, rom }],
      });
      for (let i = 0; i < mem.ram.length; i++) mem.ram[i] = (i * 31 + (i >>> 12)) & 0xff;
      mem.a20Enabled = a20;
      // The model: byte at x = nothing at or above 4 GiB, else what the gated address holds.
      const byte = (x: number): number => {
        if (x >= 0x100000000) return 0xff;
        const p = a20 ? x : x - (x & 0x100000);
        if (p < 0x300000) return mem.ram[p];
        if (p >= 0x400000 && p < 0x401000) return rom[p - 0x400000];
        if (p >= 0xfffff000) return rom[p - 0xfffff000];
        return 0xff;
      };
      for (let k = 0; k < 20000; k++) {
        const high = [0, 0x100000, 0x200000, 0x300000, 0x400000, 0xfff00000, 0xffe00000][next() % 7];
        const low = k & 1 ? interesting[next() % interesting.length] : next() & 0xfffff;
        const address = (high + low) >>> 0;
        const size = [1, 2, 4][next() % 3];
        let expected = 0;
        for (let i = 0; i < size; i++) expected += byte(address + i) * 2 ** (8 * i);
        const got = size === 1 ? mem.read8(address) : size === 2 ? mem.read16(address) : mem.read32(address);
        if (got !== expected) expect([a20, address.toString(16), size, got.toString(16)]).toEqual([a20, address.toString(16), size, expected.toString(16)]);
      }
    }
  });

  it('never throws and never reads outside its arrays for hostile addresses', () => {
    const { mem } = layout();
    for (const a20 of [true, false]) {
      mem.a20Enabled = a20;
      for (const address of [-1, -0.5, 0.5, NaN, Infinity, 2 ** 32, 2 ** 32 - 1, 2 ** 32 - 3, 2 ** 53, 0x1fffff, 0xffefffff]) {
        for (const size of [1, 2, 4] as const) {
          const v = mem.read(address, size);
          expect(Number.isInteger(v) && v >= 0 && v < 2 ** (8 * size)).toBe(true);
          mem.write(address, size, 0);
        }
        mem.or32(address, 1);
      }
    }
    expect(mem.ram.length).toBe(MMIO + 0x2000);
  });
});
