import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, CR0_PG, CR0_WP, CR4_PSE, Paging, PF_P, PF_RSVD, PF_U, PF_W, PhysicalMemory,
  PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US,
} from '../src/index.js';
import { Tables32 } from './guest-tables.js';

const CR0_PE = 1;
const PAGE_DIRECTORY = 0x10000;

/** 4 MiB of RAM, a page directory at 64 KiB, page tables allocated above it. */
function boot(cr0 = CR0_PE | CR0_PG, cr4 = 0) {
  const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x400000 }] });
  const tables = new Tables32(mem, PAGE_DIRECTORY, 0x11000);
  const paging = new Paging(mem);
  paging.setControl(cr0, PAGE_DIRECTORY, cr4, 0);
  return { mem, tables, paging };
}

describe('32-bit paging, 4 KiB pages', () => {
  it('maps a linear page to its frame and keeps the offset', () => {
    const { tables, paging } = boot();
    tables.map(0xc0001000, 0x3000, PTE_P | PTE_RW);
    expect(paging.translate(0xc0001abc, ACCESS_READ, false)).toBe(0x3abc);
    expect(paging.translate(0xc0001fff, ACCESS_WRITE, false)).toBe(0x3fff);
    expect(paging.translate(0xc0001000, ACCESS_FETCH, false)).toBe(0x3000);
  });

  it('takes linear addresses as signed or unsigned 32-bit values', () => {
    const { tables, paging } = boot();
    tables.map(0xfffff000, 0x5000, PTE_P);
    expect(paging.translate(-4, ACCESS_READ, false)).toBe(0x5ffc);
    expect(paging.translate(0xfffffffc, ACCESS_READ, false)).toBe(0x5ffc);
  });

  it('raises #PF with P=0 for a missing directory entry or page-table entry', () => {
    const { tables, paging } = boot();
    expect(paging.translate(0x00800000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(0);
    expect(paging.faultAddress).toBe(0x00800000);
    tables.map(0x00800000, 0x3000, PTE_P);
    expect(paging.translate(0x00801234, ACCESS_WRITE, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_W | PF_U);
    expect(paging.faultAddress).toBe(0x00801234);
  });

  it('never reports I/D in 32-bit paging', () => {
    const { paging } = boot();
    expect(paging.translate(0x1000, ACCESS_FETCH, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_U);
  });

  it('sets A on the directory entry and the PTE, and D on the PTE only for writes', () => {
    const { tables, paging } = boot();
    tables.map(0x400000, 0x5000, PTE_P | PTE_RW);
    tables.map(0x401000, 0x6000, PTE_P | PTE_RW);
    expect(tables.pde(0x400000) & (PTE_A | PTE_D)).toBe(0);
    paging.translate(0x400000, ACCESS_READ, false);
    expect(tables.pde(0x400000) & (PTE_A | PTE_D)).toBe(PTE_A);
    expect(tables.pte(0x400000) & (PTE_A | PTE_D)).toBe(PTE_A);
    paging.translate(0x401000, ACCESS_WRITE, false);
    expect(tables.pte(0x401000) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(tables.pde(0x400000) & PTE_D).toBe(0);
  });

  it('walks again to set D when a page first read is then written', () => {
    const { mem, tables, paging } = boot();
    tables.map(0x400000, 0x5000, PTE_P | PTE_RW);
    paging.translate(0x400000, ACCESS_READ, false);
    paging.translate(0x400004, ACCESS_READ, false);
    expect(paging.walks).toBe(1);
    expect(tables.pte(0x400000) & PTE_D).toBe(0);
    expect(paging.translate(0x400008, ACCESS_WRITE, false)).toBe(0x5008);
    expect(paging.walks).toBe(2);
    expect(tables.pte(0x400000) & PTE_D).toBe(PTE_D);
    // The guest clears A and D (a page-out scan); until INVLPG the TLB keeps the translation.
    mem.write32(tables.pteAddress(0x400000), 0x5000 | PTE_P | PTE_RW);
    paging.translate(0x400008, ACCESS_WRITE, false);
    expect(tables.pte(0x400000) & (PTE_A | PTE_D)).toBe(0);
    paging.invlpg(0x400000);
    paging.translate(0x400008, ACCESS_WRITE, false);
    expect(tables.pte(0x400000) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
  });

  it('sets no A or D bits on a walk that faults', () => {
    const { tables, paging } = boot(CR0_PE | CR0_PG | CR0_WP);
    tables.map(0x400000, 0x5000, PTE_P);
    expect(paging.translate(0x400000, ACCESS_WRITE, false)).toBe(-1);
    expect(tables.pde(0x400000) & PTE_A).toBe(0);
    expect(tables.pte(0x400000) & (PTE_A | PTE_D)).toBe(0);
  });
});

describe('32-bit paging, protection', () => {
  it('keeps user mode out of supervisor pages, at either level', () => {
    const { tables, paging } = boot();
    tables.map(0x400000, 0x5000, PTE_P | PTE_RW);
    tables.map(0x800000, 0x6000, PTE_P | PTE_RW | PTE_US, PTE_P | PTE_RW);
    tables.map(0xc00000, 0x7000, PTE_P | PTE_RW | PTE_US);
    expect(paging.translate(0x400000, ACCESS_READ, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_U);
    expect(paging.translate(0x800000, ACCESS_FETCH, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_U);
    expect(paging.translate(0xc00010, ACCESS_WRITE, true)).toBe(0x7010);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x5000);
  });

  it('lets user mode read but not write read-only pages', () => {
    const { tables, paging } = boot();
    tables.map(0x400000, 0x5000, PTE_P | PTE_US);
    tables.map(0x800000, 0x6000, PTE_P | PTE_US | PTE_RW, PTE_P | PTE_US);
    expect(paging.translate(0x400000, ACCESS_READ, true)).toBe(0x5000);
    expect(paging.translate(0x400000, ACCESS_WRITE, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_W | PF_U);
    expect(paging.translate(0x800000, ACCESS_WRITE, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_W | PF_U);
  });

  it('lets the kernel write read-only pages while CR0.WP = 0, and not once WP is set', () => {
    const { tables, paging } = boot();
    tables.map(0x400000, 0x5000, PTE_P | PTE_US);
    expect(paging.translate(0x400000, ACCESS_WRITE, false)).toBe(0x5000);
    paging.setCr0(CR0_PE | CR0_PG | CR0_WP);
    expect(paging.translate(0x400000, ACCESS_WRITE, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_W);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x5000);
    paging.setCr0(CR0_PE | CR0_PG);
    expect(paging.translate(0x400000, ACCESS_WRITE, false)).toBe(0x5000);
  });
});

describe('32-bit paging, 4 MiB pages (CR4.PSE)', () => {
  it('maps a 4 MiB page from the directory and sets A/D there', () => {
    const { tables, paging } = boot(CR0_PE | CR0_PG, CR4_PSE);
    tables.mapLarge(0xc0000000, 0x00000000, PTE_P | PTE_RW);
    expect(paging.translate(0xc0123456, ACCESS_READ, false)).toBe(0x123456);
    expect(tables.pde(0xc0000000) & (PTE_A | PTE_D)).toBe(PTE_A);
    expect(paging.translate(0xc03ffffc, ACCESS_WRITE, false)).toBe(0x3ffffc);
    expect(tables.pde(0xc0000000) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
  });

  it('ignores PS while CR4.PSE = 0 (the entry points to a page table)', () => {
    const { mem, tables, paging } = boot();
    tables.mapLarge(0x400000, 0x200000, PTE_P | PTE_RW);
    mem.write32(0x200000 + 0x5 * 4, 0x7000 | PTE_P);
    expect(paging.translate(0x405123, ACCESS_READ, false)).toBe(0x7123);
  });

  it('takes physical bits 35:32 from PDE bits 16:13 (PSE-36) and reserves bits 21:17', () => {
    const { tables, paging } = boot(CR0_PE | CR0_PG, CR4_PSE);
    tables.mapLarge(0x400000, 0x00c00000 | (0x3 << 13), PTE_P);
    expect(paging.translate(0x400010, ACCESS_READ, false)).toBe(0x3_00c00010);
    tables.mapLarge(0x800000, 0x00c00000 | (1 << 17), PTE_P);
    expect(paging.translate(0x800010, ACCESS_WRITE, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD | PF_W | PF_U);
    tables.mapLarge(0xc00000, 0x00c00000 | (1 << 21), PTE_P);
    expect(paging.translate(0xc00000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
  });

  it('reserves every PSE-36 bit when MAXPHYADDR is 32', () => {
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x100000 }] });
    const tables = new Tables32(mem, PAGE_DIRECTORY, 0x11000);
    const paging = new Paging(mem, { maxPhysAddrBits: 32 });
    paging.setControl(CR0_PE | CR0_PG, PAGE_DIRECTORY, CR4_PSE, 0);
    tables.mapLarge(0x400000, 0x00c00000 | (1 << 13), PTE_P);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
  });

  it('applies U/S and WP to large pages', () => {
    const { tables, paging } = boot(CR0_PE | CR0_PG | CR0_WP, CR4_PSE);
    tables.mapLarge(0x400000, 0x400000, PTE_P | PTE_US);
    expect(paging.translate(0x400000, ACCESS_READ, true)).toBe(0x400000);
    expect(paging.translate(0x400000, ACCESS_WRITE, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_W);
  });
});

describe('paging disabled', () => {
  it('translates linear to the same physical address and never faults', () => {
    const { paging } = boot(CR0_PE);
    expect(paging.pagingEnabled).toBe(false);
    expect(paging.translate(0xfffffff0, ACCESS_FETCH, true)).toBe(0xfffffff0);
    expect(paging.translate(0x12345, ACCESS_WRITE, false)).toBe(0x12345);
    expect(paging.walks).toBe(0);
  });

  it('applies the A20 gate, also to translations cached before it changed', () => {
    const { mem, paging } = boot(0);
    expect(paging.translate(0x10fff0, ACCESS_READ, false)).toBe(0x10fff0);
    mem.a20Enabled = false;
    expect(paging.translate(0x10fff0, ACCESS_READ, false)).toBe(0xfff0);
    mem.a20Enabled = true;
    expect(paging.translate(0x10fff0, ACCESS_READ, false)).toBe(0x10fff0);
  });

  it('applies the A20 gate to paged translations too', () => {
    const { mem, tables, paging } = boot();
    tables.map(0x400000, 0x105000, PTE_P);
    mem.a20Enabled = false;
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x5000);
  });
});
