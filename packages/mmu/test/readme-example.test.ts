import { describe, expect, it } from 'vitest';
import { ACCESS_READ, ACCESS_WRITE, CR0_PG, Paging, PhysicalMemory, PTE_A, PTE_D, PTE_P, PTE_RW } from '../src/index.js';
import { RecordingDevice } from './recording-device.js';

// The ten lines at the top of README.md, kept true.
describe('README example', () => {
  it('does what the README says', () => {
    const bios = new Uint8Array(0x10000);
    const mmioBus = new RecordingDevice();
    const lapic = new RecordingDevice();
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 16 << 20 }, { base: 0xffff0000, size: 0x10000, rom: bios }], fallback: mmioBus });
    mem.addMmio(0xfee00000, 0x1000, lapic);
    const paging = new Paging(mem);
    mem.write32(0x1000, 0x2000 | PTE_P | PTE_RW);
    mem.write32(0x2000, 0x5000 | PTE_P | PTE_RW);
    paging.setControl(CR0_PG | 1, 0x1000, 0, 0);
    expect(paging.translate(0x123, ACCESS_WRITE, false)).toBe(0x5123);
    expect(mem.read32(0x2000) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(paging.translate(0x400000, ACCESS_READ, true)).toBe(-1);
    expect(paging.faultCode).toBe(0b100);
    expect(paging.faultAddress).toBe(0x400000);
  });
});
