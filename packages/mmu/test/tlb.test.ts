import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, accessIndex, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, KIND_RAM, Paging,
  PhysicalMemory, PTE_G, PTE_P, PTE_RW, PTE_US, TLB_CLEAN, TLB_GLOBAL, TLB_HIT_MASK, TLB_LARGE, TLB_NO_FETCH,
  TLB_NO_USER, TLB_NO_WRITE_SUPER, TLB_NO_WRITE_USER, TLB_NOT_RAM, TLB_VALID,
} from '../src/index.js';
import { Tables32, TablesPae } from './guest-tables.js';
import { RecordingDevice } from './recording-device.js';

const CR0_PE = 1;
const PD_A = 0x10000;
const PD_B = 0x20000;

function boot(cr4 = 0) {
  const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x400000 }] });
  const a = new Tables32(mem, PD_A, 0x11000);
  const b = new Tables32(mem, PD_B, 0x21000);
  const paging = new Paging(mem);
  paging.setControl(CR0_PE | CR0_PG, PD_A, cr4, 0);
  return { mem, a, b, paging };
}

describe('TLB', () => {
  it('keeps a stale translation after the guest edits its PTE, until INVLPG', () => {
    const { a, paging } = boot();
    a.map(0x400000, 0x5000, PTE_P | PTE_RW);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x5000);
    a.map(0x400000, 0x6000, PTE_P | PTE_RW);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x5000);
    paging.invlpg(0x400abc);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x6000);
  });

  it('keeps a stale translation of an unmapped page until INVLPG (the guest must flush)', () => {
    const { mem, a, paging } = boot();
    a.map(0x400000, 0x5000, PTE_P);
    paging.translate(0x400000, ACCESS_READ, false);
    mem.write32(a.pteAddress(0x400000), 0);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x5000);
    paging.invlpg(0x400000);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(-1);
  });

  it('switches address spaces on a CR3 load but keeps global pages', () => {
    const { a, b, paging } = boot(CR4_PGE);
    a.map(0x400000, 0x5000, PTE_P);
    a.map(0xc0000000, 0x7000, PTE_P | PTE_G);
    b.map(0x400000, 0x6000, PTE_P);
    b.map(0xc0000000, 0x8000, PTE_P | PTE_G);
    paging.translate(0x400000, ACCESS_READ, false);
    paging.translate(0xc0000000, ACCESS_READ, false);
    paging.setCr3(PD_B);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x6000);
    expect(paging.translate(0xc0000000, ACCESS_READ, false)).toBe(0x7000);
    paging.invlpg(0xc0000000);
    expect(paging.translate(0xc0000000, ACCESS_READ, false)).toBe(0x8000);
  });

  it('flushes a reload of the same CR3 (the classic full non-global flush)', () => {
    const { a, paging } = boot();
    a.map(0x400000, 0x5000, PTE_P);
    paging.translate(0x400000, ACCESS_READ, false);
    a.map(0x400000, 0x6000, PTE_P);
    paging.setCr3(PD_A);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x6000);
  });

  it('ignores G while CR4.PGE = 0, and drops global pages when PGE is toggled', () => {
    const { a, b, paging } = boot();
    a.map(0xc0000000, 0x7000, PTE_P | PTE_G);
    b.map(0xc0000000, 0x8000, PTE_P | PTE_G);
    paging.translate(0xc0000000, ACCESS_READ, false);
    paging.setCr3(PD_B);
    expect(paging.translate(0xc0000000, ACCESS_READ, false)).toBe(0x8000);

    paging.setCr4(CR4_PGE);
    paging.translate(0xc0000000, ACCESS_READ, false);
    paging.setCr3(PD_A);
    expect(paging.translate(0xc0000000, ACCESS_READ, false)).toBe(0x8000);
    paging.setCr4(0);
    expect(paging.translate(0xc0000000, ACCESS_READ, false)).toBe(0x7000);
  });

  it('drops every piece of a large page on one INVLPG', () => {
    const { a, paging } = boot(CR4_PSE);
    a.mapLarge(0x800000, 0x000000, PTE_P | PTE_RW);
    expect(paging.translate(0x800000, ACCESS_READ, false)).toBe(0x000000);
    expect(paging.translate(0xbff000, ACCESS_READ, false)).toBe(0x3ff000);
    a.mapLarge(0x800000, 0x400000, PTE_P | PTE_RW);
    paging.invlpg(0x900000);
    expect(paging.translate(0x800000, ACCESS_READ, false)).toBe(0x400000);
    expect(paging.translate(0xbff000, ACCESS_READ, false)).toBe(0x7ff000);
  });

  it('flushes everything when paging is turned off and on, or CR0.WP or CR4.PSE change', () => {
    const { a, paging } = boot();
    a.map(0x400000, 0x5000, PTE_P | PTE_G);
    paging.translate(0x400000, ACCESS_READ, false);
    paging.setCr0(CR0_PE);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x400000);
    paging.setCr0(CR0_PE | CR0_PG);
    expect(paging.translate(0x400000, ACCESS_READ, false)).toBe(0x5000);
    const walks = paging.walks;
    paging.setCr0(CR0_PE | CR0_PG | CR0_WP);
    paging.translate(0x400000, ACCESS_READ, false);
    paging.setCr4(CR4_PSE);
    paging.translate(0x400000, ACCESS_READ, false);
    expect(paging.walks).toBe(walks + 2);
  });

  it('switches walkers when CR4.PAE changes', () => {
    const { mem, a, paging } = boot();
    a.map(0x1000, 0x5000, PTE_P);
    const pae = new TablesPae(mem, 0x30000, 0x31000);
    pae.map(0x1000, 0x6000, PTE_P);
    paging.translate(0x1000, ACCESS_READ, false);
    paging.setCr4(CR4_PAE);
    paging.setCr3(0x30000);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(0x6000);
  });

  it('survives more translations than it tracks, and still flushes all of them', () => {
    const { mem, a, paging } = boot(CR4_PGE);
    for (let page = 0; page < 10000; page++) a.map(0x40000000 + page * 0x1000, page % 2 ? 0x5000 : 0x6000, PTE_P | (page % 3 ? 0 : PTE_G));
    for (let page = 0; page < 10000; page++) paging.translate(0x40000000 + page * 0x1000, ACCESS_READ, false);
    paging.flush(false);
    const kept = Array.from({ length: 10000 }, (_, page) => paging.tlb[0x40000 + page] !== 0);
    expect(kept).toEqual(Array.from({ length: 10000 }, (_, page) => page % 3 === 0));
    paging.flush(false);
    expect(paging.tlb.filter((entry) => entry !== 0).length).toBe(3334);
    paging.flush(true);
    expect(paging.tlb.every((entry) => entry === 0)).toBe(true);
    expect(mem.kind[0]).toBe(KIND_RAM);
  });

  it('keeps tracking exact when a global page is invalidated and refilled before a CR3 load', () => {
    const { a, paging } = boot(CR4_PGE);
    a.map(0xc0000000, 0x7000, PTE_P | PTE_G);
    paging.translate(0xc0000000, ACCESS_READ, false);
    paging.invlpg(0xc0000000);
    paging.translate(0xc0000000, ACCESS_READ, false);
    paging.setCr3(PD_A);
    paging.setCr3(PD_A);
    expect(paging.tlb[0xc0000]).not.toBe(0);
    a.map(0xc0000000, 0x8000, PTE_P | PTE_G);
    paging.flush(true);
    expect(paging.translate(0xc0000000, ACCESS_READ, false)).toBe(0x8000);
  });
});

describe('TLB entries as the CPU reads them inline', () => {
  it('encode the physical page, rights and dirty state', () => {
    const { mem, a, paging } = boot();
    paging.setCr0(CR0_PE | CR0_PG | CR0_WP);
    a.map(0x400000, 0x5000, PTE_P);
    paging.translate(0x400123, ACCESS_READ, false);
    const entry = paging.tlb[0x400];
    expect(((entry & ~0xfff) ^ 0x400123) >>> 0).toBe(0x5123);
    expect(entry & 0xfff).toBe(TLB_VALID | TLB_NO_USER | TLB_NO_WRITE_USER | TLB_NO_WRITE_SUPER | TLB_CLEAN);
    expect((entry & TLB_HIT_MASK[accessIndex(ACCESS_READ, false)]) === TLB_VALID).toBe(true);
    expect((entry & TLB_HIT_MASK[accessIndex(ACCESS_READ, true)]) === TLB_VALID).toBe(false);
    expect((entry & TLB_HIT_MASK[accessIndex(ACCESS_WRITE, false)]) === TLB_VALID).toBe(false);
    expect(entry & TLB_NOT_RAM).toBe(0);

    mem.addMmio(0x300000, 0x1000, new RecordingDevice());
    a.map(0x401000, 0x300000, PTE_P | PTE_RW | PTE_US);
    paging.translate(0x401000, ACCESS_WRITE, true);
    expect(paging.tlb[0x401] & 0xfff).toBe(TLB_VALID | TLB_NOT_RAM);
    expect((paging.tlb[0x401] & TLB_HIT_MASK[accessIndex(ACCESS_FETCH, true)]) === TLB_VALID).toBe(true);
  });

  it('are dropped when the physical map changes (an MMIO window appears over RAM)', () => {
    const { mem, a, paging } = boot();
    a.map(0x400000, 0x5000, PTE_P | PTE_RW);
    paging.translate(0x400000, ACCESS_READ, false);
    expect(paging.tlb[0x400] & TLB_NOT_RAM).toBe(0);
    mem.addMmio(0x5000, 0x1000, new RecordingDevice());
    expect(paging.tlb[0x400]).toBe(0);
    paging.translate(0x400000, ACCESS_READ, false);
    expect(paging.tlb[0x400] & TLB_NOT_RAM).toBe(TLB_NOT_RAM);
  });

  it('mark large, global and execute-disabled pages', () => {
    const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x400000 }] });
    const tables = new TablesPae(mem, 0x10000, 0x11000);
    const paging = new Paging(mem);
    paging.setControl(CR0_PE | CR0_PG, 0x10000, CR4_PAE | CR4_PGE, 1 << 11);
    tables.mapLarge(0xc0000000, 0x200000, PTE_P | PTE_RW | PTE_G | (1 << 6), 1 << 31);
    paging.translate(0xc0000000, ACCESS_READ, false);
    expect(paging.tlb[0xc0000] & 0xfff).toBe(TLB_VALID | TLB_NO_USER | TLB_NO_FETCH | TLB_GLOBAL | TLB_LARGE);
  });
});

describe('a detached Paging', () => {
  it('no longer hears about layout changes', () => {
    const { mem, a, paging } = boot();
    a.map(0x400000, 0x5000, PTE_P);
    paging.translate(0x400000, ACCESS_READ, false);
    paging.detach();
    mem.addMmio(0x5000, 0x1000, new RecordingDevice());
    expect(paging.tlb[0x400] & TLB_NOT_RAM).toBe(0);
    expect(paging.tlb[0x400]).not.toBe(0);
  });
});
