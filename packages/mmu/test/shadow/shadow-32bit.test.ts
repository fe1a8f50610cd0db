// A guest kernel with 32-bit paging talks to its MMU; every access runs on bare hardware and on the
// shadow tables, and must end the same (value or #PF error code, and the guest's A/D bits).
import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, CR0_PG, CR0_WP, CR4_PGE, CR4_PSE, PF_P, PF_U, PF_W, PTE_A, PTE_D, PTE_G,
  PTE_P, PTE_RW, PTE_US, TLB_GLOBAL, type Access,
} from '../../src/index.js';
import { Tables32 } from '../guest-tables.js';
import { createMachine, type Machine } from './machine.js';

const CR0_PE = 1;
const KERNEL = CR0_PE | CR0_PG | CR0_WP;
const PD = 0x10000;

function boot(cr4 = 0, cr0 = KERNEL) {
  const m = createMachine();
  const tables = new Tables32(m.host, PD, 0x11000);
  return { m, tables, start: () => { m.syncBare(); m.control(cr0, PD, cr4); } };
}

function same(m: Machine, linear: number, access: Access, user: boolean, value = 0) {
  const { bare, shadow } = m.both(linear, access, user, value);
  expect(shadow, `0x${linear.toString(16)} access ${access} user ${user}`).toEqual(bare);
  expect(m.sameRam()).toBe(true);
  return shadow;
}

describe('shadow paging: 32-bit guest tables', () => {
  it('maps guest pages through a hidden fault, then runs without faulting', () => {
    const { m, tables, start } = boot();
    tables.map(0xc0001000, 0x3000, PTE_P | PTE_RW);
    m.poke(0x3abc, 0x12345678);
    start();
    expect(same(m, 0xc0001abc, ACCESS_READ, false)).toEqual({ value: 0x12345678 });
    expect(m.shadow.hiddenFaults).toBe(1);
    same(m, 0xc0001ab0, ACCESS_READ, false);
    expect(m.shadow.hiddenFaults).toBe(1);
    m.shadow.checkInvariants();
  });

  it('gives every combination of R/W and U/S at both levels, CPL 0 and 3, WP 0 and 1, the bare-hardware answer', () => {
    for (const wp of [0, CR0_WP]) {
      const { m, tables, start } = boot(0, CR0_PE | CR0_PG | wp);
      let linear = 0x00400000;
      const cases: number[] = [];
      for (let pde = 0; pde < 4; pde++) {
        for (let pte = 0; pte < 4; pte++) {
          const pdeFlags = PTE_P | (pde & 1 ? PTE_RW : 0) | (pde & 2 ? PTE_US : 0);
          tables.map(linear + pte * 0x1000, 0x100000 + cases.length * 0x1000, PTE_P | (pte & 1 ? PTE_RW : 0) | (pte & 2 ? PTE_US : 0), pdeFlags);
          cases.push(linear + pte * 0x1000);
        }
        linear += 0x400000;
      }
      start();
      for (const page of cases) {
        // Reads and writes in every order, user and supervisor, so WP = 0's supervisor-only writable trick is exercised.
        for (const [access, user] of [[ACCESS_READ, true], [ACCESS_WRITE, false], [ACCESS_READ, true], [ACCESS_WRITE, true], [ACCESS_FETCH, true], [ACCESS_WRITE, false], [ACCESS_READ, false]] as const) {
          same(m, page + 0x10, access, user, 0xabcd0000 + page);
        }
      }
      m.shadow.checkInvariants();
      expect(m.shadow.trueFaults).toBeGreaterThan(0);
    }
  });

  it('reports true faults with the guest CPL, not the host CPL 1, and the guest CR2', () => {
    const { m, tables, start } = boot();
    tables.map(0x1000, 0x5000, PTE_P | PTE_US);
    start();
    expect(same(m, 0x1000, ACCESS_WRITE, true)).toEqual({ pf: PF_P | PF_W | PF_U });
    expect(same(m, 0x1000, ACCESS_WRITE, false)).toEqual({ pf: PF_P | PF_W });
    expect(same(m, 0x800000, ACCESS_READ, false)).toEqual({ pf: 0 });
    expect(same(m, 0x800000, ACCESS_FETCH, true)).toEqual({ pf: PF_U });
  });

  it('sets D only when the page is first written: the shadow maps a clean page read-only', () => {
    const { m, tables, start } = boot();
    tables.map(0x400000, 0x5000, PTE_P | PTE_RW);
    start();
    same(m, 0x400000, ACCESS_READ, false);
    expect(tables.pte(0x400000) & (PTE_A | PTE_D)).toBe(PTE_A);
    same(m, 0x400008, ACCESS_WRITE, false, 7);
    expect(tables.pte(0x400000) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    same(m, 0x40000c, ACCESS_WRITE, false, 8);
    expect(m.shadow.hiddenFaults).toBe(2);
  });

  it('traces writes to the page tables: the kernel clearing A and D is seen by the next access', () => {
    const { m, tables, start } = boot();
    tables.map(0x400000, 0x5000, PTE_P | PTE_RW);
    // The kernel maps its own page directory and page table at 0xc0010000 and 0xc0011000.
    tables.map(0xc0010000, PD, PTE_P | PTE_RW);
    tables.map(0xc0011000, tables.pde(0x400000) & ~0xfff, PTE_P | PTE_RW);
    start();
    same(m, 0x400000, ACCESS_WRITE, false, 1);
    expect(tables.pte(0x400000) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    // A page-out scan: clear A and D through the kernel's mapping of the page table.
    same(m, 0xc0011000, ACCESS_WRITE, false, 0x5000 | PTE_P | PTE_RW);
    expect(m.shadow.tracedFaults).toBe(1);
    expect(m.shadow.tracedWrites).toBe(1);
    same(m, 0x400000, ACCESS_READ, false);
    expect(tables.pte(0x400000) & (PTE_A | PTE_D)).toBe(PTE_A);
    same(m, 0x400000, ACCESS_WRITE, false, 2);
    expect(tables.pte(0x400000) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    // Remapping the page to another frame and unmapping the table through the directory.
    same(m, 0xc0011000, ACCESS_WRITE, false, 0x6000 | PTE_P);
    expect(same(m, 0x400000, ACCESS_WRITE, false, 3)).toEqual({ pf: PF_P | PF_W });
    same(m, 0xc0010000 + 4, ACCESS_WRITE, false, 0);
    expect(same(m, 0x400000, ACCESS_READ, false)).toEqual({ pf: 0 });
    m.shadow.checkInvariants();
  });

  it('installs a PTE the page-fault handler stores with A set, so the retried access does not fault again', () => {
    const { m, tables, start } = boot(CR4_PSE);
    tables.mapLarge(0xc0000000, 0, PTE_P | PTE_RW);
    tables.map(0x8000000, 0x30000, PTE_P | PTE_RW | PTE_US);
    start();
    same(m, 0x8000000, ACCESS_READ, true);
    // Demand paging of the next page: the user touches it, the kernel fills the PTE, the user retries.
    expect(same(m, 0x8001000, ACCESS_WRITE, true, 1)).toEqual({ pf: PF_W | PF_U });
    const pte = 0xc0000000 + tables.pteAddress(0x8001000);
    same(m, pte, ACCESS_WRITE, false, 0x31000 | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
    const hidden = m.shadow.hiddenFaults;
    expect(same(m, 0x8001000, ACCESS_WRITE, true, 2)).toEqual({ value: 0 });
    expect(m.shadow.hiddenFaults).toBe(hidden);
    // Without A the access must walk (and set A), so nothing is installed.
    same(m, pte + 4, ACCESS_WRITE, false, 0x32000 | PTE_P | PTE_US);
    same(m, 0x8002000, ACCESS_READ, true);
    expect(m.shadow.hiddenFaults).toBe(hidden + 1);
    m.shadow.checkInvariants();
  });

  it('handles a recursive directory entry (the directory mapped as its own page table)', () => {
    const { m, tables, start } = boot();
    m.host.write32(PD + 0x3ff * 4, PD | PTE_P | PTE_RW);
    tables.map(0x1000, 0x30000, PTE_P | PTE_RW | PTE_US);
    start();
    const selfPde = 0xfffff000 + 0x3ff * 4;
    const pteOf = (linear: number) => 0xffc00000 + (linear >>> 22) * 0x1000 + ((linear >>> 12) & 0x3ff) * 4;
    expect(same(m, selfPde, ACCESS_READ, false)).toEqual({ value: (PD | PTE_P | PTE_RW | PTE_A) >>> 0 });
    same(m, 0x1000, ACCESS_WRITE, true, 5);
    // Remap through the recursive window: the PTE, then a new directory entry, then the PTE under it.
    same(m, pteOf(0x1000), ACCESS_WRITE, false, 0x31000 | PTE_P | PTE_US);
    expect(same(m, 0x1000, ACCESS_WRITE, true, 6)).toEqual({ pf: PF_P | PF_W | PF_U });
    same(m, 0xfffff000 + 8, ACCESS_WRITE, false, 0x50000 | PTE_P | PTE_RW | PTE_US);
    same(m, pteOf(0x800000), ACCESS_WRITE, false, 0x32000 | PTE_P | PTE_RW | PTE_US);
    expect(same(m, 0x800000, ACCESS_WRITE, true, 7)).toEqual({ value: 0 });
    expect(same(m, 0xc0000000 + 0, ACCESS_READ, false)).toEqual({ pf: 0 });
    expect(m.shadow.tracedFaults).toBe(2); // the new page table was not shadowed yet: stored directly
    m.shadow.checkInvariants();
  });

  it('stops tracing a page table the kernel freed and reused as data (write flooding)', () => {
    const { m, tables, start } = boot(CR4_PSE);
    tables.mapLarge(0xc0000000, 0, PTE_P | PTE_RW);
    tables.map(0x1000, 0x30000, PTE_P | PTE_RW | PTE_US);
    start();
    same(m, 0x1000, ACCESS_READ, true);
    const table = tables.pde(0x1000) & ~0xfff;
    // munmap: the kernel clears the directory entry (traced), then reuses the table page for data.
    same(m, 0xc0000000 + PD, ACCESS_WRITE, false, 0);
    for (let i = 0; i < 256; i++) same(m, 0xc0000000 + table + i * 4, ACCESS_WRITE, false, i);
    expect(m.shadow.tracedFaults).toBe(2);
    expect(same(m, 0x1000, ACCESS_READ, true)).toEqual({ pf: PF_U });
    m.shadow.checkInvariants();
  });

  it('shadows 4 MiB pages as 4 KiB pieces and traces the page tables living inside them', () => {
    const { m, tables, start } = boot(CR4_PSE);
    // A Linux-like direct map: linear 0xc0000000 + pa for the first 4 MiB, page tables inside it.
    tables.mapLarge(0xc0000000, 0, PTE_P | PTE_RW);
    tables.map(0x08048000, 0x7000, PTE_P | PTE_RW | PTE_US);
    start();
    expect(same(m, 0xc0007010, ACCESS_READ, false)).toEqual({ value: 0 });
    expect(tables.pde(0xc0000000) & (PTE_A | PTE_D)).toBe(PTE_A);
    same(m, 0x08048010, ACCESS_WRITE, true, 0x11111111);
    expect(same(m, 0xc0007010, ACCESS_READ, false)).toEqual({ value: 0x11111111 });
    same(m, 0xc0007014, ACCESS_WRITE, false, 5);
    expect(tables.pde(0xc0000000) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    // The user page's PTE through the direct map: a traced write that write-protects the user page.
    const pte = tables.pteAddress(0x08048000);
    same(m, 0xc0000000 + pte, ACCESS_WRITE, false, 0x7000 | PTE_P | PTE_US);
    expect(m.shadow.tracedFaults).toBe(1);
    expect(same(m, 0x08048010, ACCESS_WRITE, true, 1)).toEqual({ pf: PF_P | PF_W | PF_U });
    // The page directory too.
    same(m, 0xc0000000 + PD + (0x08048000 >>> 22) * 4, ACCESS_WRITE, false, 0);
    expect(same(m, 0x08048010, ACCESS_READ, true)).toEqual({ pf: PF_U });
    m.shadow.checkInvariants();
  });

  it('reuses a cached shadow on a CR3 switch while its tables are unchanged, and sees changes made meanwhile', () => {
    const { m, tables, start } = boot(CR4_PSE);
    const other = new Tables32(m.host, 0x20000, 0x21000);
    tables.mapLarge(0xc0000000, 0, PTE_P | PTE_RW);
    other.mapLarge(0xc0000000, 0, PTE_P | PTE_RW);
    tables.map(0x1000, 0x30000, PTE_P | PTE_RW | PTE_US);
    other.map(0x1000, 0x31000, PTE_P | PTE_RW | PTE_US);
    m.poke(0x30000, 0xaaaa);
    m.poke(0x31000, 0xbbbb);
    start();
    expect(same(m, 0x1000, ACCESS_READ, true)).toEqual({ value: 0xaaaa });
    m.movCr3(0x20000);
    expect(same(m, 0x1000, ACCESS_READ, true)).toEqual({ value: 0xbbbb });
    const built = m.shadow.shadowsBuilt;
    const hidden = m.shadow.hiddenFaults;
    for (let i = 0; i < 4; i++) {
      m.movCr3(PD);
      expect(same(m, 0x1000, ACCESS_READ, true)).toEqual({ value: 0xaaaa });
      m.movCr3(0x20000);
      expect(same(m, 0x1000, ACCESS_READ, true)).toEqual({ value: 0xbbbb });
    }
    expect(m.shadow.shadowsBuilt).toBe(built);
    expect(m.shadow.hiddenFaults).toBe(hidden);
    expect(m.shadow.rootsReused).toBeGreaterThanOrEqual(8);
    // While running on 0x20000 the kernel repoints the first address space's page through the direct map.
    same(m, 0xc0000000 + tables.pteAddress(0x1000), ACCESS_WRITE, false, 0x31000 | PTE_P | PTE_US);
    m.movCr3(PD);
    expect(same(m, 0x1000, ACCESS_READ, true)).toEqual({ value: 0xbbbb });
    expect(same(m, 0x1000, ACCESS_WRITE, true, 1)).toEqual({ pf: PF_P | PF_W | PF_U });
    m.shadow.checkInvariants();
  });

  it('keeps global kernel pages working across CR3 switches and PGE toggles', () => {
    const { m, tables, start } = boot(CR4_PGE);
    const other = new Tables32(m.host, 0x20000, 0x21000);
    tables.map(0xc0100000, 0x40000, PTE_P | PTE_RW | PTE_G);
    other.map(0xc0100000, 0x40000, PTE_P | PTE_RW | PTE_G);
    start();
    same(m, 0xc0100000, ACCESS_WRITE, false, 9);
    m.movCr3(0x20000);
    expect(same(m, 0xc0100000, ACCESS_READ, false)).toEqual({ value: 9 });
    m.control(KERNEL, 0x20000, 0);
    m.control(KERNEL, 0x20000, CR4_PGE);
    expect(same(m, 0xc0100000, ACCESS_READ, false)).toEqual({ value: 9 });
    expect(m.shadow.flushes).toBeGreaterThanOrEqual(3);
    m.shadow.checkInvariants();
  });

  it('INVLPG drops the shadow entry: the next access walks the guest tables again', () => {
    const { m, tables, start } = boot(CR4_PSE);
    tables.map(0x1000, 0x30000, PTE_P | PTE_RW);
    tables.mapLarge(0x800000, 0, PTE_P | PTE_RW);
    start();
    same(m, 0x1000, ACCESS_READ, false);
    same(m, 0x800000, ACCESS_READ, false);
    const hidden = m.shadow.hiddenFaults;
    m.invlpg(0x1000);
    m.invlpg(0x9ff000);
    same(m, 0x1000, ACCESS_READ, false);
    same(m, 0x800000, ACCESS_READ, false);
    expect(m.shadow.hiddenFaults).toBe(hidden + 2);
    expect(m.shadow.invlpgs).toBe(2);
  });

  it('runs the guest with paging off on an identity shadow of its RAM', () => {
    const { m } = boot();
    m.poke(0x2000, 0x1234);
    m.control(CR0_PE, 0, 0);
    expect(same(m, 0x2000, ACCESS_READ, false)).toEqual({ value: 0x1234 });
    same(m, 0x3000, ACCESS_WRITE, true, 0x77);
    expect(m.peek(0x3000)).toBe(0x77);
    m.shadow.checkInvariants();
  });

  it('peekFetch reads a mapping as a supervisor fetch sees it, without setting accessed bits', () => {
    const { m, tables, start } = boot(CR4_PGE);
    tables.map(0xc0001000, 0x3000, PTE_P | PTE_G);
    tables.map(0xc0002000, 0x4000, PTE_P | PTE_RW);
    start();
    const pde = m.host.read32(tables.pdeAddress(0xc0001000));
    expect(m.shadow.peekFetch(0xc0001234)).toBe(0x3234);
    expect(m.shadow.peekFlags & TLB_GLOBAL).toBe(TLB_GLOBAL);
    expect(m.shadow.peekFetch(0xc0002000)).toBe(0x4000);
    expect(m.shadow.peekFlags & TLB_GLOBAL).toBe(0);
    expect(tables.pte(0xc0001000) & PTE_A).toBe(0);
    expect(tables.pte(0xc0002000) & PTE_A).toBe(0);
    expect(m.host.read32(tables.pdeAddress(0xc0001000))).toBe(pde);
    expect(m.shadow.peekFetch(0xc0003000)).toBe(-1);
    // The walk that fetches does set them.
    expect(m.shadow.translateGuest(0xc0001000, ACCESS_FETCH, false)).toBe(0x3000);
    expect(tables.pte(0xc0001000) & PTE_A).toBe(PTE_A);
  });
});
