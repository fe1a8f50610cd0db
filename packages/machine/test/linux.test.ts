import { describe, expect, it } from 'vitest';
import { CMDLINE_ADDRESS, LoaderError, ZERO_PAGE_ADDRESS, loadLinux, pcMemoryMap } from '../src/index.js';
import { buildBzImage, le16, le32 } from './support/images.js';
import { TestMemory } from './support/test-memory.js';

const MiB = 1024 * 1024;
const kernel = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);

describe('Linux 32-bit boot protocol', () => {
  const map = pcMemoryMap({ ramSize: 64 * MiB, virtioSlots: 2 });

  it('loads the kernel at 1 MiB and fills the zero page', () => {
    const mem = new TestMemory(map.regions);
    const initrd = Uint8Array.of(0x30, 0x37, 0x30, 0x37);
    const state = loadLinux(mem, buildBzImage(kernel), { memoryMap: map, cmdline: 'console=ttyS0', initrd });
    expect(mem.read8(0x100000 + 2999)).toBe(2999 & 0xff);
    const zp = ZERO_PAGE_ADDRESS;
    expect(mem.read32(zp + 0x202)).toBe(0x53726448);
    expect(mem.read16(zp + 0x206)).toBe(0x020f);
    expect(mem.read8(zp + 0x210)).toBe(0xff);
    expect(mem.read8(zp + 0x211) & 0x81).toBe(0x81);
    expect(mem.read16(zp + 0x224)).toBe(0xde00);
    expect(mem.read32(zp + 0x228)).toBe(CMDLINE_ADDRESS);
    expect(mem.cString(CMDLINE_ADDRESS)).toBe(
      'console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6');

    const ramdisk = mem.read32(zp + 0x218);
    expect(mem.read32(zp + 0x21c)).toBe(4);
    expect(ramdisk % 4096).toBe(0);
    expect(ramdisk + 4).toBeLessThanOrEqual(64 * MiB);
    expect(ramdisk).toBeGreaterThan(60 * MiB);
    expect(mem.read32(ramdisk)).toBe(0x37303730);

    expect(mem.read8(zp + 0x1e8)).toBe(3);
    expect(mem.readU64(zp + 0x2d0 + 2 * 20)).toBe(0x100000n);
    expect(mem.readU64(zp + 0x2d0 + 2 * 20 + 8)).toBe(BigInt(63 * MiB));
    expect(mem.read32(zp + 0x2d0 + 2 * 20 + 16)).toBe(1);
    expect(mem.read32(zp + 0x2d0 + 20 + 16)).toBe(2);

    expect(state.regs).toMatchObject({ eip: 0x100000, esi: zp, ebp: 0, edi: 0, ebx: 0 });
    expect(state.regs.eflags & 0x200).toBe(0);
    expect(state.sregs.cs.selector).toBe(0x10);
    expect(state.sregs.ds.selector).toBe(0x18);
    expect(state.sregs.ss.selector).toBe(0x18);
    expect(mem.readU64(state.sregs.gdt.base + 0x10)).toBe(0x00cf9b000000ffffn);
    expect(mem.readU64(state.sregs.gdt.base + 0x18)).toBe(0x00cf93000000ffffn);
    expect(state.sregs.cr0 & 0x80000001).toBe(1);
  });

  it('keeps the initrd below initrd_addr_max', () => {
    const mem = new TestMemory(map.regions);
    loadLinux(mem, buildBzImage(kernel, { initrdAddrMax: 0x1ffffff }), { memoryMap: map, initrd: new Uint8Array(5000) });
    expect(mem.read32(ZERO_PAGE_ADDRESS + 0x218)).toBe(0x2000000 - 0x2000);
  });

  it('rejects old protocols, zImages and bad magic with clear messages', () => {
    const load = (image: Uint8Array): unknown => loadLinux(new TestMemory(map.regions), image, { memoryMap: map });
    expect(() => load(buildBzImage(kernel, { version: 0x0201 }))).toThrow('linux: boot protocol 2.01 is too old (need 2.02 or later)');
    expect(() => load(buildBzImage(kernel, { loadflags: 0 }))).toThrow(/zImage/);
    const noMagic = buildBzImage(kernel);
    le32(noMagic, 0x202, 0);
    expect(() => load(noMagic)).toThrow(/HdrS/);
    expect(() => load(buildBzImage(kernel).subarray(0, 0x300))).toThrow(/truncated/);
    expect(() => load(buildBzImage(kernel).subarray(0, 0x100))).toThrow(/truncated/);
    expect(() => load(buildBzImage(new Uint8Array(0)))).toThrow(/no protected-mode kernel/);
  });

  it('rejects kernels, command lines and initrds that do not fit', () => {
    const small = pcMemoryMap({ ramSize: 4 * MiB });
    const mem = (): TestMemory => new TestMemory(small.regions);
    expect(() => loadLinux(mem(), buildBzImage(kernel, { initSize: 8 * MiB }), { memoryMap: small })).toThrow(/needs RAM up to/);
    expect(() => loadLinux(mem(), buildBzImage(kernel, { cmdlineSize: 8 }), { memoryMap: small, cmdline: 'console=ttyS0' }))
      .toThrow(/at most 8/);
    expect(() => loadLinux(mem(), buildBzImage(kernel), { memoryMap: small, initrd: new Uint8Array(4 * MiB) }))
      .toThrow(LoaderError);
  });

  it('fails with LoaderError only, for every corruption of the setup header', () => {
    const original = buildBzImage(kernel);
    const mem = new TestMemory(map.regions);
    let rejected = 0;
    for (let offset = 0x1f1; offset < 0x270; offset++) {
      for (const value of [0x00, 0xff]) {
        const image = original.slice();
        image[offset] = value;
        try {
          loadLinux(mem, image, { memoryMap: map, initrd: new Uint8Array(16) });
        } catch (error) {
          expect(error).toBeInstanceOf(LoaderError);
          rejected++;
        }
      }
    }
    expect(rejected).toBeGreaterThan(10);
  });
});

describe('Linux 64-bit entry', () => {
  const map = pcMemoryMap({ ramSize: 64 * MiB });

  it('enters long mode through identity page tables at load address + 0x200', () => {
    const mem = new TestMemory(map.regions);
    const state = loadLinux(mem, buildBzImage(kernel), { memoryMap: map, entry: '64' });
    expect(state.regs.eip).toBe(0x100200);
    expect(state.regs.esi).toBe(ZERO_PAGE_ADDRESS);
    expect(state.sregs).toMatchObject({ cr0: 0x80000011, cr3: 0x9000, cr4: 0x20, efer: 0x500 });
    expect(state.sregs.cs.access & 0x6000).toBe(0x2000); // L set, D clear
    expect(mem.readU64(0x9000)).toBe(0xa003n);
    expect(mem.readU64(0xa000 + 3 * 8)).toBe(0xe003n);
    expect(mem.readU64(0xb000 + 8)).toBe(0x200083n);
    expect(mem.readU64(0xe000 + 511 * 8)).toBe(0xffe00083n);
    expect(mem.readU64(state.sregs.gdt.base + 0x10)).toBe(0x00af9b000000ffffn);
  });

  it('requires XLF_KERNEL_64', () => {
    const image = buildBzImage(kernel);
    le16(image, 0x236, 0);
    expect(() => loadLinux(new TestMemory(map.regions), image, { memoryMap: map, entry: '64' })).toThrow(/64-bit entry/);
  });
});
