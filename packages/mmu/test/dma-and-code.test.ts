import { describe, expect, it } from 'vitest';
import { KIND_RAM, KIND_RAM_CODE, PhysicalMemory } from '../src/index.js';
import { RecordingDevice } from './recording-device.js';

function machine(): PhysicalMemory {
  return new PhysicalMemory({
    regions: [{ base: 0, size: 0x10000 }, { base: 0x20000, size: 0x10000 }],
  });
}

describe('block transfers (loaders and DMA)', () => {
  it('copy in and out of RAM and refuse ranges that leave it', () => {
    const mem = machine();
    expect(mem.writeBytes(0x1ffe, Uint8Array.of(1, 2, 3, 4))).toBe(true);
    expect(mem.read32(0x1ffe)).toBe(0x04030201);
    const into = new Uint8Array(4);
    expect(mem.readBytes(0x1ffe, into)).toBe(true);
    expect([...into]).toEqual([1, 2, 3, 4]);
    // Spans the hole between the two RAM regions: nothing is copied.
    const big = new Uint8Array(0x20).fill(9);
    expect(mem.writeBytes(0xfff0, big)).toBe(false);
    expect(mem.read8(0xfff0)).toBe(0);
    expect(mem.readBytes(0x2fff0, new Uint8Array(0x20))).toBe(false);
  });

  it('give zero-copy views only over RAM', () => {
    const mem = machine();
    const view = mem.view(0x20010, 8);
    expect(view).not.toBeNull();
    view!.set([0xde, 0xad, 0xbe, 0xef]);
    expect(mem.read32(0x20010)).toBe(0xefbeadde);
    expect(mem.view(0xfffc, 8)).toBeNull();
    mem.addMmio(0x21000, 0x1000, new RecordingDevice());
    expect(mem.view(0x20ff0, 0x20)).toBeNull();
    expect(mem.view(0x30000, 0)).not.toBeNull();
  });

  it('reject hostile ranges without throwing', () => {
    const mem = machine();
    for (const [address, length] of [
      [-1, 4], [NaN, 4], [0.5, 4], [0, -1], [0, NaN], [0xffffffff, 2], [2 ** 53, 1], [0x2fffc, 2 ** 32], [Infinity, 1],
    ]) {
      expect(mem.view(address, length)).toBeNull();
      expect(() => mem.notifyWrite(address, length)).not.toThrow();
    }
    for (const address of [-1, NaN, 0.5, 0xffffffff, 0x2fffe, 2 ** 53, -Infinity]) {
      expect(mem.readBytes(address, new Uint8Array(4))).toBe(false);
      expect(mem.writeBytes(address, new Uint8Array(4).fill(1))).toBe(false);
    }
    expect(mem.ram.every((b) => b === 0)).toBe(true);
  });
});

describe('code-write detection', () => {
  it('reports the first write of any kind to a page the CPU cached code from', () => {
    const mem = machine();
    const pages: number[] = [];
    mem.onCodeWrite = (page) => pages.push(page);
    expect(mem.markCode(0x3)).toBe(true);
    expect(mem.kind[3]).toBe(KIND_RAM_CODE);
    expect(mem.read8(0x3000)).toBe(0);
    expect(mem.codeWriteGeneration).toBe(0);

    mem.write8(0x3010, 0x90);
    expect(pages).toEqual([3]);
    expect(mem.codeWriteGeneration).toBe(1);
    expect(mem.kind[3]).toBe(KIND_RAM);
    mem.write8(0x3011, 0x90);
    expect(pages).toEqual([3]);

    mem.markCode(0x3);
    mem.markCode(0x21);
    expect(mem.writeBytes(0x3ffc, new Uint8Array(8))).toBe(true);
    mem.notifyWrite(0x21000, 1);
    expect(pages).toEqual([3, 3, 0x21]);
    expect(mem.codeWriteGeneration).toBe(3);
    mem.markCode(0x22);
    mem.write32(0x21ffe, 0xffffffff);
    expect(pages).toEqual([3, 3, 0x21, 0x22]);
  });

  it('reports code pages an MMIO window covers, so code decoded there is never run again unseen', () => {
    // While covered, stores go to the device; once uncovered the page is plain RAM whose next
    // store takes the fast path. Unless the cover itself counts as a write, the CPU would keep
    // running what it decoded before the window came and went, whatever the guest stores after.
    const mem = machine();
    const pages: number[] = [];
    mem.onCodeWrite = (page) => pages.push(page);
    mem.markCode(0x4);
    mem.markCode(0x6);
    mem.addMmio(0x4000, 0x2000, new RecordingDevice());
    expect(pages).toEqual([4]);
    expect(mem.codeWriteGeneration).toBe(1);
    expect(mem.kind[6]).toBe(KIND_RAM_CODE);
    mem.removeMmio(0x4000);
    expect(mem.kind[4]).toBe(KIND_RAM);
    mem.write8(0x4000, 0xcc);
    expect(pages).toEqual([4]);
  });

  it('refuses to mark pages that are not RAM', () => {
    const mem = machine();
    expect(mem.markCode(0x10)).toBe(false);
    expect(mem.markCode(-1)).toBe(false);
    expect(mem.markCode(1 << 20)).toBe(false);
    expect(mem.markCode(1.5)).toBe(false);
  });
});

describe('hostile CPU accesses', () => {
  it('read all ones and drop writes for addresses that are not 32-bit physical addresses', () => {
    const mem = machine();
    for (const address of [-1, -0x1000, NaN, Infinity, 0.5, 2 ** 32, 2 ** 36 + 0x1000, 2 ** 53]) {
      expect(mem.read8(address)).toBe(0xff);
      expect(mem.read16(address)).toBe(0xffff);
      expect(mem.read32(address)).toBe(0xffffffff);
      mem.write8(address, 0);
      mem.write16(address, 0);
      mem.write32(address, 0);
    }
    expect(mem.ram.every((b) => b === 0)).toBe(true);
  });

  it('treat the top of the address space as unmapped up to the last byte, without wrapping', () => {
    const mem = machine();
    expect(mem.read32(0xffffffff)).toBe(0xffffffff);
    expect(mem.read16(0xffffffff)).toBe(0xffff);
    mem.write32(0xfffffffe, 0x12345678);
    expect(mem.read8(0)).toBe(0);
  });
});

describe('locked OR (how the page walker sets A and D)', () => {
  it('sets bits in RAM without touching the others and reports code pages', () => {
    const mem = machine();
    mem.write32(0x5000, 0x12345001);
    const pages: number[] = [];
    mem.onCodeWrite = (page) => pages.push(page);
    mem.markCode(5);
    mem.or32(0x5000, 0x60);
    expect(mem.read32(0x5000)).toBe(0x12345061);
    expect(pages).toEqual([5]);
  });

  it('drops the update in ROM, reads then writes MMIO, and ignores hostile addresses', () => {
    const rom = new Uint8Array(0x1000).fill(0x11);
    const device = new RecordingDevice();
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x1000 }, { base: 0x1000, size: 0x1000, rom }] });
    mem.addMmio(0x2000, 0x1000, device);
    mem.or32(0x1000, 0xff);
    expect(mem.read32(0x1000)).toBe(0x11111111);
    mem.or32(0x2008, 0x20);
    expect(device.cycles).toEqual([
      { op: 'read', at: 8, size: 4 },
      { op: 'write', at: 8, size: 4, value: (RecordingDevice.answer(8, 4) | 0x20) >>> 0 },
    ]);
    for (const address of [-4, NaN, 2 ** 32, 0.5]) expect(() => mem.or32(address, 1)).not.toThrow();
    mem.or32(0xffe, 0x0100);
    expect(mem.read16(0xffe)).toBe(0x0100);
  });
});
