import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, CR0_PG, CR4_PAE, CR4_PSE, EFER_NXE, Paging, PF_P, PF_RSVD, PF_W, PhysicalMemory,
  PTE_P, PTE_PS, PTE_RW, PTE_US,
} from '../src/index.js';
import { RecordingDevice } from './recording-device.js';

const CR0_PE = 1;

function machine(): PhysicalMemory {
  return new PhysicalMemory({ regions: [{ base: 0, size: 0x100000 }, { base: 0xfff00000, size: 0x100000, rom: new Uint8Array(0) }] });
}

describe('page tables pointing outside RAM', () => {
  it('reads an all-ones directory entry: a 4 MiB page with reserved bit 21 under PSE', () => {
    const mem = machine();
    const paging = new Paging(mem);
    paging.setControl(CR0_PE | CR0_PG, 0x80000000, CR4_PSE, 0);
    expect(paging.translate(0x1234, ACCESS_WRITE, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD | PF_W);
  });

  it('follows all-ones entries to an all-ones page without PSE, writing A/D nowhere', () => {
    const mem = machine();
    const paging = new Paging(mem);
    paging.setControl(CR0_PE | CR0_PG, 0x80000000, 0, 0);
    expect(paging.translate(0x1234, ACCESS_WRITE, true)).toBe(0xfffff234);
    expect(mem.ram.every((b) => b === 0)).toBe(true);
  });

  it('gives #PF RSVD for PAE tables read from beyond the address space', () => {
    const mem = machine();
    const paging = new Paging(mem);
    paging.setControl(CR0_PE | CR0_PG, 0xffffffe0, CR4_PAE, EFER_NXE);
    expect(paging.translate(0xc0000000, ACCESS_FETCH, false)).toBe(-1);
    expect(paging.faultCode & (PF_P | PF_RSVD)).toBe(PF_P | PF_RSVD);
    // A PDPTE at the top of RAM points at a directory above 4 GiB.
    mem.write32(0x1000, 0x5000 | PTE_P);
    mem.write32(0x1004, 0x8);
    paging.setCr3(0x1000);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
  });

  it('reads page tables in an MMIO window through the device, like the hardware would', () => {
    const mem = machine();
    const device = new RecordingDevice();
    mem.addMmio(0xe0000000, 0x1000, device);
    const paging = new Paging(mem);
    paging.setControl(CR0_PE | CR0_PG, 0xe0000000, CR4_PSE, 0);
    paging.translate(0x00400000, ACCESS_READ, false);
    expect(device.cycles[0]).toEqual({ op: 'read', at: 4, size: 4 });
  });

  it('sets no bits in ROM-resident tables', () => {
    const image = new Uint8Array(0x2000);
    new DataView(image.buffer).setUint32(0, 0xfff01000 | PTE_P | PTE_RW | PTE_US, true);
    new DataView(image.buffer).setUint32(0x1000, 0x5000 | PTE_P | PTE_RW | PTE_US, true);
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x10000 }, { base: 0xfff00000, size: 0x2000, rom: image }] });
    const paging = new Paging(mem);
    paging.setControl(CR0_PE | CR0_PG, 0xfff00000, 0, 0);
    expect(paging.translate(0x10, ACCESS_WRITE, true)).toBe(0x5010);
    expect(mem.read32(0xfff00000)).toBe((0xfff01000 | PTE_P | PTE_RW | PTE_US) >>> 0);
  });

  it('survives self-referencing directories (the recursive mapping trick)', () => {
    const mem = machine();
    mem.write32(0x1000 + 0x3ff * 4, 0x1000 | PTE_P | PTE_RW);
    const paging = new Paging(mem);
    paging.setControl(CR0_PE | CR0_PG, 0x1000, 0, 0);
    expect(paging.translate(0xfffffffc, ACCESS_WRITE, false)).toBe(0x1ffc);
    expect(mem.read32(0x1ffc)).toBe(0x1000 | PTE_P | PTE_RW | 0x60);
  });
});

describe('hostile arguments to translate', () => {
  it('treats garbage linear addresses as their 32-bit value and never throws', () => {
    const mem = machine();
    mem.write32(0x1000, 0x2000 | PTE_P | PTE_RW | PTE_US);
    mem.write32(0x2000, 0x3000 | PTE_P | PTE_RW | PTE_US);
    const paging = new Paging(mem);
    paging.setControl(CR0_PE | CR0_PG, 0x1000, 0, 0);
    expect(paging.translate(NaN, ACCESS_READ, false)).toBe(0x3000);
    expect(paging.translate(2 ** 32 + 0x10, ACCESS_READ, false)).toBe(0x3010);
    expect(paging.translate(-1, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultAddress).toBe(0xffffffff);
    expect(paging.translate(0x10, 7 as never, true)).toBe(0x3010);
  });

  it('treats garbage control values bit by bit', () => {
    const mem = machine();
    const paging = new Paging(mem);
    paging.setControl(-1, -1, -1, -1);
    for (const linear of [0, 0x7fffffff, 0xfffff000]) {
      expect(() => paging.translate(linear, ACCESS_WRITE, true)).not.toThrow();
    }
    paging.setControl(NaN, NaN, NaN, NaN);
    expect(paging.translate(0x1234, ACCESS_READ, true)).toBe(0x1234);
    paging.setControl(CR0_PE | CR0_PG, 0x0, CR4_PSE, 0);
    mem.write32(0, PTE_P | PTE_PS | PTE_US);
    expect(paging.translate(0x1234, ACCESS_READ, true)).toBe(0x1234);
  });
});
