import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LoaderError, ZERO_PAGE_ADDRESS, loadLinux, pcMemoryMap } from '../src/index.js';
import { TestMemory } from './support/test-memory.js';

// The Debian i686 kernel and initramfs tools/linux-guest.mjs fetches into the repo's .cache.
const cache = fileURLToPath(new URL('../../../.cache/linux/', import.meta.url));
const bzImagePath = `${cache}bzImage`;
const initrdPath = `${cache}initramfs.cpio.gz`;
const missing = existsSync(bzImagePath) && existsSync(initrdPath) ? null : 'no Debian kernel in .cache/linux (run node tools/linux-guest.mjs)';
if (missing) console.warn(`skipping real-kernel loader test: ${missing}`);

describe.skipIf(missing !== null)('Linux loader on a real Debian bzImage', () => {
  it('loads the kernel and initramfs by the 32-bit protocol', () => {
    const kernel = new Uint8Array(readFileSync(bzImagePath));
    const initrd = new Uint8Array(readFileSync(initrdPath));
    const map = pcMemoryMap({ ramSize: 128 * 1024 * 1024, virtioSlots: 1 });
    const mem = new TestMemory(map.regions);
    const state = loadLinux(mem, kernel, { memoryMap: map, cmdline: 'console=ttyS0', initrd });
    const setupSize = ((kernel[0x1f1] || 4) + 1) * 512;
    const loaded = new Uint8Array(64);
    mem.readBytes(0x100000, loaded);
    expect(loaded).toEqual(kernel.subarray(setupSize, setupSize + 64));
    expect(mem.read16(ZERO_PAGE_ADDRESS + 0x206)).toBeGreaterThanOrEqual(0x020f);
    const ramdisk = mem.read32(ZERO_PAGE_ADDRESS + 0x218);
    expect(mem.read32(ZERO_PAGE_ADDRESS + 0x21c)).toBe(initrd.length);
    expect(ramdisk + initrd.length).toBeLessThanOrEqual(128 * 1024 * 1024);
    expect(mem.read16(ramdisk)).toBe(0x8b1f); // gzip magic
    expect(mem.cString(mem.read32(ZERO_PAGE_ADDRESS + 0x228))).toBe('console=ttyS0 virtio_mmio.device=4K@0xd0000000:5');
    expect(state.regs.eip).toBe(0x100000);
  });

  it('refuses the 64-bit entry on a 32-bit kernel', () => {
    const kernel = new Uint8Array(readFileSync(bzImagePath));
    const map = pcMemoryMap({ ramSize: 64 * 1024 * 1024 });
    expect(() => loadLinux(new TestMemory(map.regions), kernel, { memoryMap: map, entry: '64' })).toThrow(LoaderError);
  });
});
