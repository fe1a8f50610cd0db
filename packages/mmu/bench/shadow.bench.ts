// Figures for the shadow pager's paths under vmm-full: `pnpm bench` prints operations/s.
import { bench, describe } from 'vitest';
import {
  ACCESS_READ, ACCESS_WRITE, CR0_PG, CR0_WP, Paging, PhysicalMemory, PTE_P, PTE_RW, PTE_US, ShadowPaging,
} from '../src/index.js';

const RAM = 16 << 20;
const VMM_FRAMES = 256;
const host = new PhysicalMemory({ regions: [{ base: 0, size: RAM + VMM_FRAMES * 0x1000 }] });
const pool: number[] = [];
for (let i = 0; i < VMM_FRAMES; i++) pool.push(RAM + i * 0x1000);
const cpu = new Paging(host);
const shadow = new ShadowPaging({
  host, guestRamEnd: RAM, hostTlb: cpu, allocFrame: () => pool.pop() ?? -1, freeFrame: (hpa) => { pool.push(hpa); },
});
// Two address spaces (directories at 0x1000 and 0x3000) sharing one page table at 0x2000 that maps
// linear 0x400000.. to 0x100000..; the kernel maps that page table itself at 0xc0000000.
for (const pd of [0x1000, 0x3000]) {
  host.write32(pd + 1 * 4, 0x2000 | PTE_P | PTE_RW | PTE_US);
  host.write32(pd + 0x300 * 4, 0x4000 | PTE_P | PTE_RW);
}
for (let i = 0; i < 1024; i++) host.write32(0x2000 + i * 4, (0x100000 + i * 0x1000) | PTE_P | PTE_RW | PTE_US);
host.write32(0x4000, 0x2000 | PTE_P | PTE_RW);
shadow.setGuestControl(1 | CR0_PG | CR0_WP, 0x1000, 0, 0);
cpu.setControl(1 | CR0_PG | CR0_WP, shadow.root, 0, 0);
let sink = 0;

describe('shadow pager (1000 operations per iteration)', () => {
  bench('hidden fault: INVLPG, then fault() fills the entry again', () => {
    for (let i = 0; i < 1000; i++) {
      const linear = 0x400000 + ((i & 1023) << 12);
      shadow.invlpg(linear);
      sink += shadow.fault(linear, ACCESS_READ, true);
    }
  });

  bench('true fault: fault() on an unmapped address', () => {
    for (let i = 0; i < 1000; i++) sink += shadow.fault(0x800000 + ((i & 1023) << 12), ACCESS_WRITE, false);
  });

  bench('traced PTE store: guestWrite() into the live page table', () => {
    for (let i = 0; i < 1000; i++) {
      const index = i & 1023;
      shadow.guestWrite(0x2000 + index * 4, 4, ((0x100000 + index * 0x1000) | PTE_P | PTE_RW | PTE_US) ^ (i & 0x20));
    }
  });

  bench('CR3 switch to a cached root', () => {
    for (let i = 0; i < 1000; i++) {
      shadow.setCr3(i & 1 ? 0x3000 : 0x1000);
      sink += shadow.root;
    }
  });
});

export { sink };
