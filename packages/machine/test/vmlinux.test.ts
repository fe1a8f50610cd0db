import { describe, expect, it } from 'vitest';
import { BufferSerialBackend } from '@ringvisor/devices';
import { ACPI_TABLES_ADDRESS, CMDLINE_ADDRESS, LoaderError, PcBoard, VirtualClock, ZERO_PAGE_ADDRESS, loadLinux, pcMemoryMap } from '../src/index.js';
import { buildElf32, buildElf64, le16, type TestSegment } from './support/images.js';
import { TestMemory } from './support/test-memory.js';

const MiB = 1024 * 1024;
/** Shaped like Debian's i686 vmlinux: text at 16 MiB (virtual 0xc1000000), data + bss after it. */
const text = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
const data = Uint8Array.from({ length: 300 }, (_, i) => 0x80 | (i & 0x7f));
const segments: TestSegment[] = [
  { paddr: 0x1000000, vaddr: 0xc1000000, data: text },
  { paddr: 0x1002000, vaddr: 0xc1002000, data, memsz: 0x3000 },
];
const vmlinux = (): Uint8Array => buildElf32(0x1000000, segments);

describe('Linux vmlinux (ELF) boot', () => {
  const map = pcMemoryMap({ ramSize: 64 * MiB, virtioSlots: 1 });
  const memory = (): TestMemory => new TestMemory(map.regions);

  it('places the segments at p_paddr, zeroes the bss and enters startup_32 like a bzImage', () => {
    const mem = memory();
    mem.writeBytes(0x1002000 + 300, new Uint8Array(0x2000).fill(0xcc)); // stale bytes where the bss goes
    const state = loadLinux(mem, vmlinux(), { memoryMap: map, cmdline: 'console=ttyS0' });
    expect(mem.read8(0x1000000 + 4999)).toBe((4999 * 7) & 0xff);
    expect(mem.read8(0x1002000 + 299)).toBe(0x80 | (299 & 0x7f));
    expect(mem.read8(0x1002000 + 300)).toBe(0);
    expect(mem.read8(0x1004fff)).toBe(0);
    expect(mem.read8(0x100000)).toBe(0); // nothing of the kernel at the bzImage's 1 MiB

    expect(state.regs).toMatchObject({ eip: 0x1000000, esi: ZERO_PAGE_ADDRESS, ebp: 0, edi: 0, ebx: 0 });
    expect(state.regs.eflags & 0x200).toBe(0);
    expect(state.sregs.cr0 & 0x80000001).toBe(1);
    expect(state.sregs.cs).toMatchObject({ selector: 0x10, base: 0, limit: 0xffffffff });
    for (const segment of [state.sregs.ds, state.sregs.es, state.sregs.ss]) {
      expect(segment).toMatchObject({ selector: 0x18, base: 0, limit: 0xffffffff });
    }
    expect(mem.readU64(state.sregs.gdt.base + 0x10)).toBe(0x00cf9b000000ffffn);
    expect(mem.readU64(state.sregs.gdt.base + 0x18)).toBe(0x00cf93000000ffffn);
  });

  it('enters an x86-64 vmlinux at its physical startup_64 in long mode, and only so', () => {
    const mem = memory();
    const image = buildElf64(0x1000000, [
      { paddr: 0x1000000, vaddr: -0x7f000000, data: text },
      { paddr: 0x1002000, vaddr: -0x7effe000, data, memsz: 0x3000 },
    ]);
    const state = loadLinux(mem, image, { memoryMap: map, cmdline: 'console=ttyS0' });
    expect(mem.read8(0x1000000 + 4999)).toBe((4999 * 7) & 0xff);
    expect(mem.read8(0x1004fff)).toBe(0);
    expect(state.regs).toMatchObject({ eip: 0x1000000, esi: ZERO_PAGE_ADDRESS });
    expect(state.sregs.efer & 0x500).toBe(0x500); // LME, LMA
    expect((state.sregs.cr0 & 0x80000001) >>> 0).toBe(0x80000001); // PG, PE
    expect(mem.read32(state.sregs.cr3) & 1).toBe(1); // identity tables present
    expect(() => loadLinux(memory(), image, { memoryMap: map, entry: '32' })).toThrow(/64-bit entry point only/);
  });

  it('writes the setup header a vmlinux lacks into the zero page', () => {
    const mem = memory();
    const initrd = Uint8Array.of(0x30, 0x37, 0x30, 0x37, 0x30);
    loadLinux(mem, vmlinux(), { memoryMap: map, cmdline: 'console=ttyS0 quiet', initrd });
    const zp = ZERO_PAGE_ADDRESS;
    expect(mem.read16(zp + 0x1fe)).toBe(0xaa55);
    expect(mem.read32(zp + 0x202)).toBe(0x53726448);
    expect(mem.read16(zp + 0x206)).toBe(0x020f); // ≥ 2.14, so acpi_rsdp_addr counts
    expect(mem.read8(zp + 0x210)).toBe(0xff);
    expect(mem.read8(zp + 0x211) & 0x01).toBe(0x01);
    expect(mem.read32(zp + 0x214)).toBe(0x1000000);
    expect(mem.read32(zp + 0x228)).toBe(CMDLINE_ADDRESS);
    expect(mem.read32(zp + 0x238)).toBe(2047);
    expect(mem.read32(zp + 0x23c)).toBe(0); // hardware_subarch: a normal PC
    expect(mem.read32(zp + 0x250)).toBe(0); // no setup_data
    expect(mem.cString(CMDLINE_ADDRESS)).toBe('console=ttyS0 quiet virtio_mmio.device=4K@0xd0000000:5');

    const ramdisk = mem.read32(zp + 0x218);
    expect(mem.read32(zp + 0x21c)).toBe(5);
    expect(ramdisk % 4096).toBe(0);
    expect(ramdisk).toBeGreaterThan(60 * MiB);
    expect(mem.read32(ramdisk)).toBe(0x37303730);

    expect(mem.read8(zp + 0x1e8)).toBe(3);
    expect(mem.readU64(zp + 0x2d0 + 2 * 20)).toBe(0x100000n);
    expect(mem.readU64(zp + 0x2d0 + 2 * 20 + 8)).toBe(BigInt(63 * MiB));
  });

  it('points acpi_rsdp_addr at the tables the loader builds', () => {
    const board = new PcBoard({ ramSize: 64 * MiB, clock: new VirtualClock(), serial: new BufferSerialBackend(16) });
    const mem = new TestMemory(board.memoryMap.regions);
    loadLinux(mem, vmlinux(), { memoryMap: board.memoryMap, acpi: board.acpi });
    const rsdp = Number(mem.readU64(ZERO_PAGE_ADDRESS + 0x070));
    expect(rsdp).toBe(ACPI_TABLES_ADDRESS);
    expect(String.fromCharCode(...Array.from({ length: 8 }, (_, i) => mem.read8(rsdp + i)))).toBe('RSD PTR ');
    expect(mem.cString(CMDLINE_ADDRESS)).toBe('');
  });

  it('puts the initrd above the kernel\'s bss, and refuses one that does not fit there', () => {
    const small = pcMemoryMap({ ramSize: 17 * MiB });
    const kernelEnd = 0x1005000;
    const mem = new TestMemory(small.regions);
    loadLinux(mem, vmlinux(), { memoryMap: small, initrd: new Uint8Array(0x1000) });
    expect(mem.read32(ZERO_PAGE_ADDRESS + 0x218)).toBeGreaterThanOrEqual(kernelEnd);
    expect(() => loadLinux(new TestMemory(small.regions), vmlinux(), { memoryMap: small, initrd: new Uint8Array(17 * MiB - kernelEnd + 1) }))
      .toThrow(/initrd: .* do not fit between the kernel/);
  });

  it('rejects malformed ELFs with one loader error, before writing anything', () => {
    const load = (image: Uint8Array, ramSize = 64 * MiB): TestMemory => {
      const small = pcMemoryMap({ ramSize });
      const mem = new TestMemory(small.regions);
      loadLinux(mem, image, { memoryMap: small });
      return mem;
    };
    const elf = (entry: number, list: TestSegment[]): Uint8Array => buildElf32(entry, list);
    const at = (paddr: number, size = 16, memsz?: number): TestSegment => ({ paddr, data: new Uint8Array(size).fill(1), memsz });
    expect(() => load(elf(0x1000000, segments), 16 * MiB)).toThrow(/beyond guest RAM/);
    expect(() => load(elf(0x1000000, [at(0x1000000, 16, 0x7fffffff)]))).toThrow(/beyond guest RAM/);
    expect(() => load(elf(0x7000, [at(0x7000)]))).toThrow(/below 1 MiB, where the zero page/);
    expect(() => load(elf(0x20000, [at(0x1f000, 0x2000)]))).toThrow(/below 1 MiB/);
    expect(() => load(elf(0x1000000, [at(0x1000000, 0x2000), at(0x1001000)]))).toThrow(/overlap/);
    expect(() => load(elf(0x2000000, [at(0x1000000)]))).toThrow(/entry point 0x2000000 is not inside a loaded segment/);
    expect(() => load(elf(0xc1000000, [{ paddr: 0x1000000, vaddr: 0xc1000000, data: text }]))).toThrow(/entry point/);
    expect(() => load(elf(0x1000000, [at(0xffffff00, 16, 0x200)]))).toThrow(/wraps past 4 GiB/);

    const wide = vmlinux();
    wide[4] = 2; // ELFCLASS64 on an i386 file: read as x86-64, whose machine it is not
    expect(() => load(wide)).toThrow('elf: not an x86-64 ELF file (e_machine)');
    const arm = vmlinux();
    le16(arm, 18, 40);
    expect(() => load(arm)).toThrow(/not an i386 ELF/);
    expect(() => load(vmlinux().subarray(0, 40))).toThrow(LoaderError);
    expect(() => load(vmlinux().subarray(0, 0x1800))).toThrow(/segment 0 data/);
    expect(() => loadLinux(memory(), vmlinux(), { memoryMap: map, entry: '64' })).toThrow(/32-bit entry point only/);
    expect(() => loadLinux(memory(), vmlinux(), { memoryMap: map, cmdline: 'x'.repeat(2048) })).toThrow(/at most 2047/);
  });
});
