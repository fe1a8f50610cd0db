import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, CR0_PG, CR0_WP, CR4_PAE, EFER_LMA, EFER_NXE, Paging, PF_I, PF_P, PF_RSVD,
  PF_U, PF_W, PhysicalMemory, PTE_A, PTE_D, PTE_G, PTE_P, PTE_PS, PTE_RW, PTE_US, CR4_PGE,
} from '../src/index.js';

const CR0_PE = 1;
const PML4 = 0x10000;
const XD = 1 << 31;
const TWO_32 = 0x1_0000_0000;
const TWO_48 = 0x1_0000_0000_0000;
const LME = 1 << 8;

/** 4-level tables built in guest memory: one new frame per missing table, entries P|RW|US unless told. */
class Tables4 {
  private next = PML4 + 0x1000;
  constructor(private readonly mem: PhysicalMemory) {}

  /** Index of `linear` (canonical, signed) at `shift` (39, 30, 21, 12). */
  private index(linear: number, shift: number): number {
    const l = linear < 0 ? linear + TWO_48 : linear;
    return Math.floor(l / 2 ** shift) % 512;
  }

  /** Address of the entry for `linear` at the level of `shift`, creating tables above it. */
  entry(linear: number, shift: number, tableFlags = PTE_P | PTE_RW | PTE_US, tableHigh = 0): number {
    let table = PML4;
    for (let s = 39; s > shift; s -= 9) {
      const at = table + this.index(linear, s) * 8;
      let e = this.mem.read32(at);
      if ((e & PTE_P) === 0) {
        e = this.next | tableFlags;
        this.next += 0x1000;
        this.mem.write32(at, e);
        this.mem.write32(at + 4, tableHigh);
      }
      table = (e & ~0xfff) >>> 0;
    }
    return table + this.index(linear, shift) * 8;
  }

  map(linear: number, physical: number, flags: number, high = 0, shift = 12): number {
    const at = this.entry(linear, shift);
    this.mem.write32(at, ((physical % TWO_32) | flags) >>> 0);
    this.mem.write32(at + 4, Math.floor(physical / TWO_32) | high);
    return at;
  }
}

function boot(efer = EFER_LMA | LME, cr0 = CR0_PE | CR0_PG) {
  const mem = new PhysicalMemory({ regions: [{ base: 0, size: 0x800000 }] });
  const tables = new Tables4(mem);
  const paging = new Paging(mem, { maxPhysAddrBits: 40 });
  paging.setControl(cr0, PML4, CR4_PAE, efer);
  return { mem, tables, paging };
}

describe('4-level paging (EFER.LMA)', () => {
  it('caches translations above 4 GiB like the TLB: stale until INVLPG or CR3, global pages kept, D set on the first write', () => {
    const { mem, tables, paging } = boot();
    paging.setCr4(CR4_PAE | CR4_PGE);
    const kernel = -0x7f000000; // 0xffffffff81000000
    const pte = tables.map(kernel, 0x200000, PTE_P | PTE_RW);
    const global = tables.map(kernel + 0x1000, 0x201000, PTE_P | PTE_RW | PTE_G);
    expect(paging.translateLong(kernel + 0x10, ACCESS_READ, false)).toBe(0x200010);
    expect(paging.translateLong(kernel + 0x1010, ACCESS_READ, false)).toBe(0x201010);
    const walks = paging.walks;
    mem.write32(pte, 0x300000 | PTE_P | PTE_RW | PTE_A);
    mem.write32(global, 0x301000 | PTE_P | PTE_RW | PTE_G | PTE_A);
    expect(paging.translateLong(kernel + 0x20, ACCESS_READ, false)).toBe(0x200020); // cached
    expect(paging.walks).toBe(walks);
    // The first write walks again (the cached entry is clean) and sets D.
    expect(paging.translateLong(kernel + 0x20, ACCESS_WRITE, false)).toBe(0x300020);
    expect(mem.read32(pte) & PTE_D).toBe(PTE_D);
    paging.invlpg(kernel + 0x1fff);
    paging.invlpg(kernel);
    mem.write32(pte, 0x400000 | PTE_P | PTE_RW | PTE_A);
    expect(paging.translateLong(kernel, ACCESS_READ, false)).toBe(0x400000);
    expect(paging.translateLong(kernel + 0x1000, ACCESS_READ, false)).toBe(0x301000);
    mem.write32(pte, 0x500000 | PTE_P | PTE_RW | PTE_A);
    mem.write32(global, 0x501000 | PTE_P | PTE_RW | PTE_G | PTE_A);
    paging.setCr3(PML4);
    expect(paging.translateLong(kernel, ACCESS_READ, false)).toBe(0x500000);
    expect(paging.translateLong(kernel + 0x1000, ACCESS_READ, false)).toBe(0x301000); // global: kept
    paging.flush(true);
    expect(paging.translateLong(kernel + 0x1000, ACCESS_READ, false)).toBe(0x501000);
    // A user access to a supervisor page still faults from the cache.
    expect(paging.translateLong(kernel + 0x1000, ACCESS_READ, true)).toBe(-1);
  });

  it('walks PML4E, PDPTE, PDE and PTE, for low and high canonical addresses', () => {
    const { tables, paging } = boot();
    tables.map(0x1000, 0x3000, PTE_P | PTE_RW);
    const kernel = -0x80000000 + 0x1000; // 0xffffffff80001000
    tables.map(kernel, 0x4000, PTE_P | PTE_RW);
    const high = 0x7fff_ffff_f000; // the last user page
    tables.map(high, 0x5000, PTE_P | PTE_RW | PTE_US);
    expect(paging.translate(0x1abc, ACCESS_READ, false)).toBe(0x3abc);
    expect(paging.translateLong(kernel + 0x10, ACCESS_WRITE, false)).toBe(0x4010);
    expect(paging.translateLong(high + 0xfff, ACCESS_READ, true)).toBe(0x5fff);
  });

  it('maps 2 MiB pages from the PDE and 1 GiB pages from the PDPTE', () => {
    const { mem, tables, paging } = boot();
    const pde = tables.map(0x200000, 0x600000, PTE_P | PTE_RW | PTE_PS, 0, 21);
    expect(paging.translate(0x3fffff, ACCESS_WRITE, false)).toBe(0x7fffff);
    expect(mem.read32(pde) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    tables.map(-0x40000000, 0x40000000 * 3, PTE_P | PTE_RW | PTE_PS, 0, 30);
    expect(paging.translateLong(-0x40000000 + 0x12345678, ACCESS_READ, false)).toBe(0xc0000000 + 0x12345678);
  });

  it('drops every cached piece of a 2 MiB or 1 GiB page at INVLPG of any address in it, above and below 4 GiB', () => {
    const { mem, tables, paging } = boot();
    const kernel = -0x80000000; // 0xffffffff80000000, a 2 MiB page
    const pde = tables.map(kernel, 0x200000, PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D, 0, 21);
    const other = tables.map(kernel + 0x200000, 0x400000, PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D, 0, 21);
    expect(paging.translateLong(kernel + 0x1000, ACCESS_READ, false)).toBe(0x201000);
    expect(paging.translateLong(kernel + 0x1ff000, ACCESS_READ, false)).toBe(0x3ff000);
    expect(paging.translateLong(kernel + 0x200000, ACCESS_READ, false)).toBe(0x400000);
    mem.write32(pde, 0x600000 | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D);
    mem.write32(other, 0x800000 | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D);
    paging.invlpg(kernel + 0x1ff000);
    expect(paging.translateLong(kernel + 0x1000, ACCESS_READ, false)).toBe(0x601000);
    expect(paging.translateLong(kernel + 0x200000, ACCESS_READ, false)).toBe(0x400000); // another 2 MiB page: kept
    // A 1 GiB page: pieces 512 MiB apart, in slots no 2 MiB search reaches.
    const huge = -0x40000000; // 0xffffffffc0000000
    const pdpte = tables.map(huge, 0x40000000, PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D, 0, 30);
    expect(paging.translateLong(huge + 0x20000000, ACCESS_READ, false)).toBe(0x60000000);
    mem.write32(pdpte, 0x80000000 | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D);
    paging.invlpg(huge);
    expect(paging.translateLong(huge + 0x20000000, ACCESS_READ, false)).toBe(0xa0000000);
    // The same below 4 GiB, where the TLB searched only 4 MiB around the address.
    const low = tables.map(0x40000000, 0x40000000, PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D, 0, 30);
    expect(paging.translate(0x40000000 + 0x30000000, ACCESS_READ, false)).toBe(0x70000000);
    mem.write32(low, 0x80000000 | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D);
    paging.invlpg(0x40000000);
    expect(paging.translate(0x40000000 + 0x30000000, ACCESS_READ, false)).toBe(0xb0000000);
  });

  it('sets A at every level, D only in the leaf, and nothing when the walk faults', () => {
    const { mem, tables, paging } = boot();
    const pte = tables.map(0x5000, 0x6000, PTE_P | PTE_RW);
    paging.translate(0x5000, ACCESS_WRITE, false);
    expect(mem.read32(pte) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    for (const shift of [39, 30, 21]) expect(mem.read32(tables.entry(0x5000, shift)) & (PTE_A | PTE_D)).toBe(PTE_A);
    const other = tables.map(0x40000000, 0x7000, PTE_P); // user access to a supervisor page
    expect(paging.translate(0x40000000, ACCESS_READ, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_U);
    expect(mem.read32(other) & PTE_A).toBe(0);
    expect(mem.read32(tables.entry(0x40000000, 21)) & PTE_A).toBe(0);
  });

  it('combines R/W, U/S and XD over the levels; reports I/D with NXE', () => {
    const { mem, tables, paging } = boot(EFER_LMA | LME | EFER_NXE, CR0_PE | CR0_PG | CR0_WP);
    tables.map(0x1000, 0x3000, PTE_P | PTE_US);
    expect(paging.translate(0x1000, ACCESS_WRITE, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_W | PF_U);
    expect(paging.translate(0x1000, ACCESS_WRITE, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_W);
    tables.map(0x2000, 0x4000, PTE_P | PTE_RW | PTE_US, XD);
    expect(paging.translate(0x2000, ACCESS_READ, true)).toBe(0x4000);
    expect(paging.translate(0x2000, ACCESS_FETCH, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_U | PF_I);
    // XD in the PML4E forbids fetches from everything under it.
    const high = 0x1_0000_0000_00; // PML4 slot 2
    tables.map(high, 0x5000, PTE_P | PTE_RW);
    const pml4e = tables.entry(high, 39);
    mem.write32(pml4e + 4, XD);
    expect(paging.translateLong(high, ACCESS_FETCH, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_I);
    expect(paging.faultAddress).toBe(high);
  });

  it('faults with RSVD for PS in a PML4E, reserved address bits, XD without NXE and bad large-page bits', () => {
    const { mem, tables, paging } = boot();
    tables.map(0x1000, 0x3000, PTE_P | PTE_RW, XD);
    expect(paging.translate(0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
    tables.map(0x2000, 0x3000, PTE_P | PTE_RW, 1 << 10); // bit 42 >= MAXPHYADDR 40
    expect(paging.translate(0x2000, ACCESS_WRITE, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD | PF_W | PF_U);
    tables.map(0x3000, 0x3000, PTE_P | PTE_RW, 1 << 25); // bit 57: ignored
    expect(paging.translate(0x3000, ACCESS_READ, false)).toBe(0x3000);
    const slot = tables.entry(0x8000_0000_0000 - 0x1000, 39);
    mem.write32(slot, 0x20000 | PTE_P | PTE_RW | PTE_PS);
    expect(paging.translateLong(0x8000_0000_0000 - 0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
    tables.map(0x600000, 0x600000 | 0x2000, PTE_P | PTE_PS, 0, 21);
    expect(paging.translate(0x600000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(PF_P | PF_RSVD);
  });

  it('faults not-present at each level with the linear address kept', () => {
    const { tables, paging } = boot();
    expect(paging.translateLong(-0x1000, ACCESS_READ, false)).toBe(-1);
    expect(paging.faultCode).toBe(0);
    expect(paging.faultAddress).toBe(-0x1000);
    tables.entry(0x1000, 12);
    expect(paging.translate(0x1000, ACCESS_FETCH, true)).toBe(-1);
    expect(paging.faultCode).toBe(PF_U);
  });

  it('survives random garbage tables: every answer is a fault code or an address inside MAXPHYADDR', () => {
    const { mem, paging } = boot(EFER_LMA | LME | EFER_NXE);
    let seed = 0x1234567;
    const next = () => {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      return seed >>> 0;
    };
    for (let i = 0; i < 0x8000; i++) mem.write32(PML4 + i * 4, next() & 0x7ffffff | (next() & 1));
    for (let i = 0; i < 5000; i++) {
      const linear = (next() & 0xffff) * TWO_32 + next() - (next() & 1 ? TWO_48 / 2 : 0);
      const canonical = linear >= TWO_48 / 2 ? linear - TWO_48 : linear;
      const pa = paging.translateLong(canonical, (next() % 3) as 0 | 1 | 2, (next() & 1) === 1);
      if (pa < 0) expect(paging.faultCode & ~0x1f).toBe(0);
      else expect(pa).toBeLessThan(2 ** 40);
    }
  });
});
