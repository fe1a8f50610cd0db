// Figures for the paths the CPU takes on every memory access: `pnpm bench` prints operations/s.
import { bench, describe } from 'vitest';
import {
  ACCESS_READ, ACCESS_WRITE, accessIndex, CR0_PG, KIND_RAM, Paging, PhysicalMemory, PTE_P, PTE_RW, PTE_US, TLB_HIT_MASK,
  TLB_NOT_RAM, TLB_VALID,
} from '../src/index.js';

const PAGES = 256;
const mem = new PhysicalMemory({ regions: [{ base: 0, size: 16 << 20 }] });
const paging = new Paging(mem);
// Page directory at 0x1000, one page table at 0x2000 mapping linear 0x400000.. to physical 0x100000..
mem.write32(0x1000 + 1 * 4, 0x2000 | PTE_P | PTE_RW | PTE_US);
for (let i = 0; i < PAGES; i++) mem.write32(0x2000 + i * 4, (0x100000 + i * 0x1000) | PTE_P | PTE_RW | PTE_US);
paging.setControl(CR0_PG | 1, 0x1000, 0, 0);
const READ_MASK = TLB_HIT_MASK[accessIndex(ACCESS_READ, true)] | TLB_NOT_RAM;
const WRITE_MASK = TLB_HIT_MASK[accessIndex(ACCESS_WRITE, true)] | TLB_NOT_RAM;
let sink = 0;

describe('per-access cost (1000 accesses per iteration)', () => {
  bench('inline TLB hit + ram[pa] (the CPU fast path)', () => {
    const tlb = paging.tlb;
    const ram = mem.ram;
    for (let i = 0; i < 1000; i++) {
      const linear = 0x400000 + ((i * 0x1004) & 0xfffff);
      const entry = tlb[linear >>> 12];
      sink += (entry & READ_MASK) === TLB_VALID ? ram[((entry & ~0xfff) ^ linear) >>> 0] : mem.read8(paging.translate(linear, ACCESS_READ, true));
    }
  });

  bench('inline write: TLB hit + kind check + ram[pa]', () => {
    const tlb = paging.tlb;
    const ram = mem.ram;
    const kind = mem.kind;
    for (let i = 0; i < 1000; i++) {
      const linear = 0x400000 + ((i * 0x1004) & 0xfffff);
      const entry = tlb[linear >>> 12];
      const physical = ((entry & ~0xfff) ^ linear) >>> 0;
      if ((entry & WRITE_MASK) === TLB_VALID && kind[physical >>> 12] === KIND_RAM) ram[physical] = i;
      else mem.write8(paging.translate(linear, ACCESS_WRITE, true), i);
    }
  });

  bench('translate() TLB hit + mem.read32()', () => {
    for (let i = 0; i < 1000; i++) sink += mem.read32(paging.translate(0x400000 + ((i * 0x1004) & 0xffffc), ACCESS_READ, true));
  });

  bench('translate() miss: a full 2-level walk each time (INVLPG first)', () => {
    for (let i = 0; i < 1000; i++) {
      const linear = 0x400000 + ((i * 0x1000) & 0xfffff);
      paging.invlpg(linear);
      sink += paging.translate(linear, ACCESS_READ, true);
    }
  });

  bench('CR3 reload (non-global flush) after touching 256 pages', () => {
    for (let i = 0; i < PAGES; i++) paging.translate(0x400000 + i * 0x1000, ACCESS_READ, true);
    paging.setCr3(0x1000);
  });
});

export { sink };
