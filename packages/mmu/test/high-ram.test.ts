import { describe, expect, it } from 'vitest';
import { ACCESS_READ, ACCESS_WRITE, CR0_PG, CR4_PAE, Paging, PhysicalMemory, PTE_P, PTE_RW } from '../src/index.js';
import { TablesPae } from './guest-tables.js';

// RAM at and above 4 GiB, as a PC with more than 3 GiB remaps what lies under the PCI hole: reached
// through PAE translations (36-bit physical addresses), DMA and loaders, never through the CPU's
// 4 GiB fast path. Chunks of it are allocated on first write.

const GiB = 2 ** 30;
const FOUR_GIB = 4 * GiB;
const MiB = 2 ** 20;
const CR0_PE = 1;
const PDPT = 0x10000;

function memory(highSize = 2 * GiB + 0x1000): PhysicalMemory {
  return new PhysicalMemory({ regions: [{ base: 0, size: 8 * MiB }, { base: FOUR_GIB, size: highSize }] });
}

describe('RAM above 4 GiB', () => {
  it('keeps the fast-path array to the RAM below 4 GiB and serves CPU accesses above it', () => {
    const mem = memory();
    expect(mem.ramEnd).toBe(8 * MiB);
    expect(mem.ram.length).toBe(8 * MiB);
    expect(mem.read32(FOUR_GIB + 0x10)).toBe(0); // RAM, zero before anything is written
    mem.write32(FOUR_GIB + 0x10, 0xdeadbeef);
    expect(mem.read32(FOUR_GIB + 0x10)).toBe(0xdeadbeef);
    expect(mem.read16(FOUR_GIB + 0x12)).toBe(0xdead);
    expect(mem.read8(FOUR_GIB + 0x13)).toBe(0xde);
    mem.or32(FOUR_GIB + 0x10, 0x10);
    expect(mem.read32(FOUR_GIB + 0x10)).toBe(0xdeadbeff);
    // Below 4 GiB nothing changed.
    expect(mem.read32(0x10)).toBe(0);
  });

  it('reads all ones past the end of high RAM and drops writes there', () => {
    const mem = memory();
    const end = FOUR_GIB + 2 * GiB + 0x1000;
    mem.write32(end - 4, 0x11223344);
    expect(mem.read32(end - 4)).toBe(0x11223344);
    mem.write32(end, 0x55667788);
    expect(mem.read32(end)).toBe(0xffffffff);
    expect(mem.read32(end - 2)).toBe(0xffff1122); // half RAM, half nothing
  });

  it('splits accesses across the GiB chunks it is stored in', () => {
    const mem = memory();
    const boundary = FOUR_GIB + GiB;
    mem.write32(boundary - 2, 0xa1b2c3d4);
    expect(mem.read32(boundary - 2)).toBe(0xa1b2c3d4);
    expect(mem.read16(boundary)).toBe(0xa1b2);
    const bytes = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    expect(mem.writeBytes(boundary - 3, bytes)).toBe(true);
    const back = new Uint8Array(6);
    expect(mem.readBytes(boundary - 3, back)).toBe(true);
    expect([...back]).toEqual([1, 2, 3, 4, 5, 6]);
    // A view must be one piece: inside a chunk it is, across one it is refused.
    expect(mem.view(boundary - 3, 6)).toBeNull();
    const view = mem.view(boundary, 16) as Uint8Array;
    view[8] = 0x5a;
    expect(mem.read8(boundary + 8)).toBe(0x5a);
  });

  it('refuses DMA that leaves high RAM or starts in it and runs past its end', () => {
    const mem = memory(GiB);
    expect(mem.readBytes(FOUR_GIB + GiB - 2, new Uint8Array(4))).toBe(false);
    expect(mem.writeBytes(FOUR_GIB + GiB, new Uint8Array(1))).toBe(false);
    expect(mem.view(FOUR_GIB + GiB - 2, 4)).toBeNull();
    expect(mem.readBytes(FOUR_GIB - 2, new Uint8Array(4))).toBe(false); // straddles 4 GiB
    for (const address of [FOUR_GIB + 0.5, NaN, 2 ** 53, Infinity]) {
      expect(mem.readBytes(address, new Uint8Array(1))).toBe(false);
      expect(mem.view(address, 1)).toBeNull();
      expect(mem.read8(address)).toBe(0xff);
      expect(() => mem.write8(address, 1)).not.toThrow();
    }
  });

  it('masks bit 20 above 4 GiB too while the A20 gate is disabled', () => {
    const mem = memory();
    mem.a20Enabled = false;
    mem.write8(FOUR_GIB + MiB + 5, 0x42);
    mem.a20Enabled = true;
    expect(mem.read8(FOUR_GIB + 5)).toBe(0x42);
    expect(mem.read8(FOUR_GIB + MiB + 5)).toBe(0);
  });

  it('describes 59 GiB above 4 GiB without allocating it', () => {
    const mem = memory(59 * GiB);
    expect(mem.read32(FOUR_GIB + 58 * GiB)).toBe(0);
    mem.write32(FOUR_GIB + 58 * GiB, 7);
    expect(mem.read32(FOUR_GIB + 58 * GiB)).toBe(7);
  });

  it('refuses a region across 4 GiB and ROM above it', () => {
    expect(() => new PhysicalMemory({ regions: [{ base: FOUR_GIB - 0x1000, size: 0x2000 }] })).toThrow(/crosses 4 GiB/);
    expect(() => new PhysicalMemory({ regions: [{ base: FOUR_GIB, size: 0x1000, rom: new Uint8Array(16) }] })).toThrow(RangeError);
    expect(() => new PhysicalMemory({ regions: [{ base: FOUR_GIB, size: 0x2000 }, { base: FOUR_GIB + 0x1000, size: 0x1000 }] }))
      .toThrow(/overlaps/);
  });

  it('is reached through PAE: a page at 4 GiB + 20 KiB reads and writes the same bytes DMA sees', () => {
    const mem = memory();
    const tables = new TablesPae(mem, 0x10000, 0x11000);
    const paging = new Paging(mem);
    tables.map(0x1000, 0x5000, PTE_P | PTE_RW, 0x1);
    paging.setControl(CR0_PE | CR0_PG, PDPT, CR4_PAE, 0);
    const physical = paging.translate(0x1010, ACCESS_WRITE, false);
    expect(physical).toBe(FOUR_GIB + 0x5010);
    mem.write32(physical, 0xcafef00d);
    const seen = new Uint8Array(4);
    mem.readBytes(FOUR_GIB + 0x5010, seen);
    expect([...seen]).toEqual([0x0d, 0xf0, 0xfe, 0xca]);
    expect(paging.translate(0x1010, ACCESS_READ, false)).toBe(physical);
  });

  it('holds page tables the walker reads and sets A/D bits in', () => {
    const mem = memory();
    // The page table itself above 4 GiB: PDPT below, directory below, PT at 4 GiB + 64 KiB.
    const tables = new TablesPae(mem, 0x10000, 0x11000);
    tables.map(0x1000, 0x5000, PTE_P | PTE_RW);
    const pdeAddress = tables.pdeAddress(0x1000);
    const pte = mem.read32(tables.pteAddress(0x1000));
    const highTable = FOUR_GIB + 0x10000;
    mem.write32(highTable + 8, pte);
    mem.write32(pdeAddress, 0x10000 | 7); // present, writable, user
    mem.write32(pdeAddress + 4, 1); // bits 32-35 of the table's address
    const paging = new Paging(mem);
    paging.setControl(CR0_PE | CR0_PG, PDPT, CR4_PAE, 0);
    expect(paging.translate(0x1000, ACCESS_WRITE, false)).toBe(0x5000);
    expect(mem.read32(highTable + 8) & 0x60).toBe(0x60); // A and D
  });
});
