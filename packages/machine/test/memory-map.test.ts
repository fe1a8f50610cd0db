import { describe, expect, it } from 'vitest';
import { LoaderError, pcMemoryMap } from '../src/index.js';

const MiB = 1024 * 1024;

describe('PC memory map', () => {
  it('splits RAM around the 640 KiB–1 MiB hole', () => {
    const map = pcMemoryMap({ ramSize: 64 * MiB });
    expect(map.regions).toEqual([{ base: 0, size: 0xa0000 }, { base: 0x100000, size: 63 * MiB }]);
    expect(map.lowRamEnd).toBe(64 * MiB);
    expect(map.ranges.map((r) => r.type)).toEqual(['ram', 'reserved', 'ram']);
  });

  it('keeps a machine of 1 MiB or less to conventional memory', () => {
    const map = pcMemoryMap({ ramSize: 512 * 1024 });
    expect(map.regions).toEqual([{ base: 0, size: 512 * 1024 }]);
    expect(map.lowRamEnd).toBe(512 * 1024);
    expect(pcMemoryMap({ ramSize: MiB }).regions).toEqual([{ base: 0, size: 0xa0000 }]);
  });

  it('moves RAM above the PCI hole to 4 GiB', () => {
    const map = pcMemoryMap({ ramSize: 4096 * MiB });
    expect(map.lowRamEnd).toBe(0xc0000000);
    expect(map.ramBelow4G).toBe(0xc0000000);
    expect(map.regions.at(-1)).toEqual({ base: 4096 * MiB, size: 1024 * MiB });
    expect(map.ranges.at(-1)).toEqual({ base: 4096 * MiB, size: 1024 * MiB, type: 'ram' });
  });

  it('maps firmware at the top of 4 GiB and aliases its last 128 KiB below 1 MiB', () => {
    const rom = new Uint8Array(256 * 1024);
    rom[rom.length - 16] = 0xea;
    const map = pcMemoryMap({ ramSize: 16 * MiB, firmware: rom });
    const low = map.regions.find((r) => r.base === 0xe0000);
    const high = map.regions.find((r) => r.base === 0xfffc0000);
    expect(low?.size).toBe(128 * 1024);
    expect(low?.rom?.[low.size - 16]).toBe(0xea);
    expect(high?.rom).toBe(rom);
  });

  it('maps a 64 KiB test ROM at F0000 and FFFF0000', () => {
    const map = pcMemoryMap({ ramSize: 16 * MiB, firmware: new Uint8Array(64 * 1024) });
    expect(map.regions.filter((r) => r.rom).map((r) => r.base)).toEqual([0xf0000, 0xffff0000]);
  });

  it('gives virtio-mmio slots 4 KiB windows and free ISA IRQs', () => {
    const map = pcMemoryMap({ ramSize: 16 * MiB, virtioSlots: 3 });
    expect(map.virtio).toEqual([
      { index: 0, base: 0xd0000000, size: 4096, irq: 5 },
      { index: 1, base: 0xd0001000, size: 4096, irq: 6 },
      { index: 2, base: 0xd0002000, size: 4096, irq: 7 },
    ]);
  });

  it('rejects odd sizes with a LoaderError', () => {
    expect(() => pcMemoryMap({ ramSize: 1000 })).toThrow(LoaderError);
    expect(() => pcMemoryMap({ ramSize: 16 * MiB, firmware: new Uint8Array(100) })).toThrow(/firmware: image size 100/);
    expect(() => pcMemoryMap({ ramSize: 16 * MiB, virtioSlots: 99 })).toThrow(/at most/);
  });
});
