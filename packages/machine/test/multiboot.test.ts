import { describe, expect, it } from 'vitest';
import { LoaderError, MULTIBOOT_BOOTLOADER_MAGIC, loadMultiboot, pcMemoryMap } from '../src/index.js';
import { buildElf32, le32, putMultibootHeader } from './support/images.js';
import { TestMemory } from './support/test-memory.js';

const MiB = 1024 * 1024;
const map = pcMemoryMap({ ramSize: 8 * MiB });
const code = Uint8Array.of(0xfa, 0xf4, 0xeb, 0xfd);

function kernelElf(): Uint8Array {
  return buildElf32(0x100000, [
    { paddr: 0x100000, data: code },
    { paddr: 0x101000, data: Uint8Array.of(1, 2, 3), memsz: 0x2000 },
  ], (image) => putMultibootHeader(image, 0x1000 + 8, 0x3));
}

describe('multiboot loader (ELF)', () => {
  it('loads segments, zeroes bss and enters with EAX magic and EBX info', () => {
    const mem = new TestMemory(map.regions);
    mem.write8(0x101005, 0xaa); // stale byte inside the bss
    const state = loadMultiboot(mem, kernelElf(), {
      memoryMap: map, cmdline: 'console=ttyS0', modules: [{ data: Uint8Array.of(9, 8, 7), cmdline: 'initrd.img' }],
    });
    expect(mem.read32(0x100000)).toBe(0xfdebf4fa);
    expect([mem.read8(0x101000), mem.read8(0x101002), mem.read8(0x101005)]).toEqual([1, 3, 0]);
    expect(state.regs.eax).toBe(MULTIBOOT_BOOTLOADER_MAGIC);
    expect(state.regs.eip).toBe(0x100000);
    expect(state.regs.eflags & 0x200).toBe(0);
    expect(state.sregs.cr0 & 0x80000001).toBe(1);
    expect(state.sregs.cs.limit).toBe(0xffffffff);

    const info = state.regs.ebx;
    const flags = mem.read32(info);
    expect(flags & 0x24d).toBe(0x24d); // mem, cmdline, mods, mmap, boot loader name
    expect(mem.read32(info + 4)).toBe(640);
    expect(mem.read32(info + 8)).toBe(7 * 1024);
    expect(mem.cString(mem.read32(info + 16))).toBe('console=ttyS0');
    expect(mem.cString(mem.read32(info + 64))).toBe('Ringvisor');

    expect(mem.read32(info + 20)).toBe(1);
    const mod = mem.read32(info + 24);
    const modStart = mem.read32(mod);
    expect(modStart % 4096).toBe(0);
    expect(modStart).toBeGreaterThanOrEqual(0x103000);
    expect(mem.read32(mod + 4) - modStart).toBe(3);
    expect(mem.read8(modStart + 2)).toBe(7);
    expect(mem.cString(mem.read32(mod + 8))).toBe('initrd.img');

    const mmapLength = mem.read32(info + 44);
    const mmap = mem.read32(info + 48);
    expect(mmapLength).toBe(3 * 24);
    expect(mem.read32(mmap)).toBe(20);
    expect(mem.readU64(mmap + 4 + 2 * 24)).toBe(0x100000n);
    expect(mem.readU64(mmap + 12 + 2 * 24)).toBe(BigInt(7 * MiB));
    expect(mem.read32(mmap + 20 + 2 * 24)).toBe(1);
    expect(mem.read32(mmap + 20 + 24)).toBe(2);
    expect(info).toBeGreaterThan(modStart);
  });

  it('translates a higher-half virtual entry to its physical address', () => {
    const image = buildElf32(0xc0100010, [{ paddr: 0x100000, vaddr: 0xc0100000, data: new Uint8Array(64) }],
      (bytes) => putMultibootHeader(bytes, 0x1000, 0));
    const state = loadMultiboot(new TestMemory(map.regions), image, { memoryMap: map });
    expect(state.regs.eip).toBe(0x100010);
  });
});

describe('multiboot loader (a.out kludge)', () => {
  it('loads by the header address fields', () => {
    // File: 0x20 bytes of padding, header at file offset 0x20 = address 0x200020, code after it.
    const image = new Uint8Array(0x100);
    putMultibootHeader(image, 0x20, 0x10000, [0x200020, 0x200000, 0x200080, 0x201000, 0x200040]);
    image[0x40] = 0xf4;
    image[0x90] = 0x55; // beyond load_end_addr: must not be loaded
    const mem = new TestMemory(map.regions);
    mem.write8(0x200090, 0x77);
    const state = loadMultiboot(mem, image, { memoryMap: map });
    expect(state.regs.eip).toBe(0x200040);
    expect(mem.read8(0x200040)).toBe(0xf4);
    expect(mem.read8(0x200090)).toBe(0);
    expect(state.regs.ebx).toBe(0x201000);
  });

  it('rejects inconsistent address fields', () => {
    const image = new Uint8Array(0x100);
    putMultibootHeader(image, 0x20, 0x10000, [0x200000, 0x200100, 0, 0, 0x200100]);
    expect(() => loadMultiboot(new TestMemory(map.regions), image, { memoryMap: map })).toThrow(/load_addr/);
    putMultibootHeader(image, 0x20, 0x10000, [0x200020, 0x200000, 0x300000, 0, 0x200040]);
    expect(() => loadMultiboot(new TestMemory(map.regions), image, { memoryMap: map })).toThrow(/load_end_addr/);
    putMultibootHeader(image, 0x20, 0x10000, [0x200020, 0x200000, 0, 0, 0x900000]);
    expect(() => loadMultiboot(new TestMemory(map.regions), image, { memoryMap: map })).toThrow(/entry_addr/);
  });
});

describe('multiboot loader on hostile images', () => {
  const load = (image: Uint8Array): unknown => loadMultiboot(new TestMemory(map.regions), image, { memoryMap: map });

  it('requires a header with a valid checksum in the first 8 KiB', () => {
    expect(() => load(new Uint8Array(100))).toThrow(/no multiboot header/);
    const image = kernelElf();
    le32(image, 0x1000 + 8 + 8, 0x1234);
    expect(() => load(image)).toThrow(/no multiboot header/);
    const late = new Uint8Array(0x3000);
    putMultibootHeader(late, 0x2000, 0);
    expect(() => load(late)).toThrow(/no multiboot header/);
  });

  it('refuses requirement flags it does not implement', () => {
    const image = kernelElf();
    putMultibootHeader(image, 0x1000 + 8, 0x8);
    expect(() => load(image)).toThrow(/lacks/);
  });

  it('rejects segments outside RAM, past 4 GiB, or beyond the file', () => {
    const outside = buildElf32(0x900000, [{ paddr: 0x900000, data: code }], (b) => putMultibootHeader(b, 0x1000, 0));
    expect(() => load(outside)).toThrow(/outside guest RAM/);
    const hole = buildElf32(0xa0000, [{ paddr: 0xa0000, data: code }], (b) => putMultibootHeader(b, 0x1000, 0));
    expect(() => load(hole)).toThrow(LoaderError);
    const wrap = buildElf32(0xfffff000, [{ paddr: 0xfffff000, data: code, memsz: 0x2000 }], (b) => putMultibootHeader(b, 0x1000, 0));
    expect(() => load(wrap)).toThrow(/wraps/);
    const truncated = kernelElf().subarray(0, 0x1018);
    expect(() => load(truncated)).toThrow(/truncated/);
    const fat = kernelElf();
    le32(fat, 52 + 16, 0x5000); // p_filesz > p_memsz
    expect(() => load(fat)).toThrow(/p_filesz/);
    const huge = kernelElf();
    le32(huge, 52 + 4, 0xfffffff0); // p_offset far beyond the file
    expect(() => load(huge)).toThrow(/truncated/);
  });

  it('refuses a kernel that does not fit in RAM before writing any of it', () => {
    // A 4 KiB file whose bss claims 3.75 GiB: checked up front, not found out after zeroing RAM.
    const bloated = buildElf32(0x100000, [{ paddr: 0x100000, data: code, memsz: 0xf000_0000 }], (b) => putMultibootHeader(b, 0x1000, 0));
    const aout = new Uint8Array(0x2000);
    putMultibootHeader(aout, 0, 0x10000, [0x100000, 0x100000, 0x101000, 0xf000_0000, 0x100000]);
    for (const image of [bloated, aout]) {
      const mem = new TestMemory(map.regions);
      mem.write8(0x100000, 0xaa);
      mem.write8(0x7f_ffff, 0xbb);
      expect(() => loadMultiboot(mem, image, { memoryMap: map })).toThrow(/kernel at 0x100000\.\.0x[0-9a-f]+ is outside guest RAM/);
      expect([mem.read8(0x100000), mem.read8(0x7f_ffff)]).toEqual([0xaa, 0xbb]);
    }
  });

  it('fails with LoaderError only, for every single-byte corruption of the ELF header', () => {
    const original = kernelElf();
    const mem = new TestMemory(map.regions);
    let rejected = 0;
    for (let offset = 0; offset < 52 + 64; offset++) {
      const image = original.slice();
      image[offset] ^= 0xff;
      try {
        loadMultiboot(mem, image, { memoryMap: map });
      } catch (error) {
        expect(error).toBeInstanceOf(LoaderError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(20);
  });
});
