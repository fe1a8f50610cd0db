import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, CR0_PG, CR0_WP, CR4_PAE, EFER_NXE, Paging, PF_I, PF_P, PF_RSVD, PF_U, PF_W,
  PhysicalMemory, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US,
} from '../src/index.js';
import { TablesPae } from './guest-tables.js';

const CR0_PE = 1;
const PDPT = 0x10000;
const XD = 1 << 31;

function boot(efer = 0, cr0 = CR0_PE | CR0_PG) {
  const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x800000 }] });
  const tables = new TablesPae(mem, PDPT, 0x11000);
  const paging = new Paging(mem);
  paging.setControl(cr0, PDPT, CR4_PAE, efer);
  return { mem, tables, paging };
}

describe('PAE paging', () => {
  it('walks PDPTE, directory and table to a 4 KiB page', () => {
    const { tables, paging } = boot();
    tables.map(0xc0001000, 0x3000, PTE_P | PTE_RW);
    tables.map(0x40201000, 0x4000, PTE_P | PTE_RW | PTE_US);
    expect(paging.translate(0xc0001abc, ACCESS_READ, false)).toBe(0x3abc);
    expect(paging.translate(0x40201008, ACCESS_WRITE, true)).toBe(0x4008);
  });

  it('maps 2 MiB pages from the directory without CR4.PSE', () => {
    const { mem, tables, paging } = boot();
    tables.mapLarge(0xc0200000, 0x600000, PTE_P | PTE_RW);
    expect(paging.translate(0xc03fffff, ACCESS_WRITE, false)).toBe(0x7fffff);
    const pde = mem.read32(tables.pdeAddress(0xc0200000));
    expect(pde & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
  });

  it('sets A on directory entry and PTE, D on the PTE, in the low dword only', () => {
    const { mem, tables, paging } = boot(EFER_NXE);
    tables.map(0x1000, 0x5000, PTE_P | PTE_RW, XD);
    paging.translate(0x1000, ACCESS_WRITE, false);
    const pte = tables.pteAddress(0x1000);
    expect(mem.read32(pte)).toBe(0x5000 | PTE_P | PTE_RW | PTE_A | PTE_D);
    expect(mem.read32(pte + 4)).toBe(XD >>> 0);
    expect(mem.read32(tables.pdeAddress(0x1000)) & (PTE_A | PTE_D)).toBe(PTE_A);
    // PDPTEs have no A bit: bit 5 is reserved there and must stay clear.
    expect(mem.read32(tables.pdpteAddress(0x1000)) & PTE_A).toBe(0);
  });

  it('reaches physical addresses above 4 GiB, which read all ones and are never cached', () => {
    const { mem, tables, paging } = boot();
    tables.map(0x1000, 0x5000, PTE_P | PTE_RW, 0x3);
    const physical = paging.translate(0x1010, ACCESS_READ, false);
    expect(physical).toBe(0x3_00005010);
    expect(mem.read32(physical)).toBe(0xffffffff);
    mem.write32(physical, 0);
    expect(mem.read32(0x5010)).toBe(0);
    expect(paging.tlb[1]).toBe(0);
    paging.translate(0x1010, ACCESS_READ, false);
    expect(paging.walks).toBe(2);
  });

  it('reports not-present at each level', () => {
    const { mem, tables, paging } = boot();
    expect(paging.translate(0x80000000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(0);
    tables.map(0x80000000, 0x5000, PTE_P);
    mem.write32(tables.pteAddress(0x80000000), 0);
    expect(paging.translate(0x80000000, ACCESS_WRITE, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_W | PF_U);
    expect(paging.faultAddress).toBe(0x80000000);
  });

  it('applies U/S and R/W over both levels and CR0.WP to the kernel', () => {
    const { tables, paging } = boot(0, CR0_PE | CR0_PG | CR0_WP);
    tables.map(0x1000, 0x5000, PTE_P | PTE_US);
    expect(paging.translate(0x1000, ACCESS_READ, true)).toBe(0x5000);
    expect(paging.translate(0x1000, ACCESS_WRITE, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_W | PF_U);
    expect(paging.translate(0x1000, ACCESS_WRITE, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_W);
    tables.map(0x2000, 0x6000, PTE_P | PTE_RW);
    expect(paging.translate(0x2000, ACCESS_READ, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_U);
  });
});

describe('PAE execute-disable (EFER.NXE)', () => {
  it('forbids instruction fetches from XD pages, in both modes, and reports I/D', () => {
    const { tables, paging } = boot(EFER_NXE);
    tables.map(0x1000, 0x5000, PTE_P | PTE_RW | PTE_US, XD);
    expect(paging.translate(0x1000, ACCESS_READ, true)).toBe(0x5000);
    expect(paging.translate(0x1000, ACCESS_WRITE, false)).toBe(0x5000);
    expect(paging.translate(0x1000, ACCESS_FETCH, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_I);
    expect(paging.translate(0x1000, ACCESS_FETCH, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_U | PF_I);
  });

  it('takes XD from the directory entry as well', () => {
    const { tables, paging } = boot(EFER_NXE);
    tables.map(0x1000, 0x5000, PTE_P | PTE_RW);
    tables.setDirectoryHigh(0x1000, XD);
    expect(paging.translate(0x1000, ACCESS_FETCH, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_I);
    tables.mapLarge(0x40000000, 0x200000, PTE_P, XD);
    expect(paging.translate(0x40000000, ACCESS_FETCH, false)).toBe(-1);
  });

  it('reports I/D on a not-present fetch while NXE = 1 only', () => {
    const withNx = boot(EFER_NXE).paging;
    expect(withNx.translate(0x1000, ACCESS_FETCH, false)).toBe(-1);
    expect(withNx.faultCode).toBe(PF_I);
    const withoutNx = boot().paging;
    expect(withoutNx.translate(0x1000, ACCESS_FETCH, false)).toBe(-1);
    expect(withoutNx.faultCode).toBe(0);
  });

  it('treats XD as a reserved bit while NXE = 0', () => {
    const { tables, paging } = boot();
    tables.map(0x1000, 0x5000, PTE_P | PTE_RW, XD);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
  });

  it('flushes translations when NXE changes', () => {
    const { tables, paging } = boot(EFER_NXE);
    tables.map(0x1000, 0x5000, PTE_P, XD);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(0x5000);
    paging.setEfer(0);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
  });
});

describe('PAE reserved bits', () => {
  it('rejects address bits at or above MAXPHYADDR in every level', () => {
    const { mem, tables, paging } = boot();
    tables.map(0x1000, 0x5000, PTE_P, 1 << 4);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
    tables.map(0x1000, 0x5000, PTE_P);
    tables.setDirectoryHigh(0x1000, 1 << 30);
    expect(paging.translate(0x1000, ACCESS_WRITE, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD | PF_W | PF_U);
    tables.setDirectoryHigh(0x1000, 0);
    mem.write32(tables.pdpteAddress(0x1000) + 4, 1 << 8);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
  });

  it('rejects PDPTE bits 1, 2, 5..8 and 63 even with NXE', () => {
    for (const [low, high] of [[1 << 1, 0], [1 << 2, 0], [1 << 5, 0], [1 << 7, 0], [1 << 8, 0], [0, XD]]) {
      const { mem, tables, paging } = boot(EFER_NXE);
      tables.map(0x1000, 0x5000, PTE_P);
      const pdpte = tables.pdpteAddress(0x1000);
      expect(paging.pdpteReservedBitsSet(PDPT)).toBe(false);
      mem.write32(pdpte, mem.read32(pdpte) | low);
      mem.write32(pdpte + 4, high);
      expect(paging.pdpteReservedBitsSet(PDPT)).toBe(true);
      expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(-1);
      expect(paging.faultCode).toBe(PF_P | PF_RSVD);
    }
  });

  it('ignores reserved bits in entries that are not present', () => {
    const { mem, tables, paging } = boot();
    tables.map(0x1000, 0x5000, PTE_P);
    mem.write32(tables.pteAddress(0x1000), 0xfffffffe);
    mem.write32(tables.pteAddress(0x1000) + 4, 0xffffffff);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(0);
    expect(paging.pdpteReservedBitsSet(PDPT)).toBe(false);
  });

  it('rejects bits 20:13 of a 2 MiB directory entry', () => {
    const { tables, paging } = boot();
    tables.mapLarge(0x200000, 0x200000 | (1 << 13), PTE_P);
    expect(paging.translate(0x200000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
  });

  it('widens the physical address with MAXPHYADDR', () => {
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x100000 }] });
    const tables = new TablesPae(mem, PDPT, 0x11000);
    const paging = new Paging(mem, { maxPhysAddrBits: 52 });
    paging.setControl(CR0_PE | CR0_PG, PDPT, CR4_PAE, 0);
    tables.map(0x1000, 0x5000, PTE_P, 0xfffff);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(0xfffff_00005000);
    tables.map(0x1000, 0x5000, PTE_P, 0x100000);
    paging.invlpg(0x1000);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
    expect(() => new Paging(mem, { maxPhysAddrBits: 53 })).toThrow(RangeError);
    expect(() => new Paging(mem, { maxPhysAddrBits: 31 })).toThrow(RangeError);
  });
});
