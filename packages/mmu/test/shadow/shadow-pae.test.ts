// A PAE guest (EFER.NXE = 0) on 32-bit shadow tables: its tables are not traced, so the shadow acts
// as a TLB — kept until INVLPG or a CR3 load, as the SDM lets a TLB keep translations — and every
// access must end as on bare hardware once the guest has flushed what it changed.
import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, CR0_PG, CR0_WP, CR4_PAE, PF_P, PF_RSVD, PF_U, PF_W, PTE_A, PTE_D, PTE_P,
  PTE_RW, PTE_US, type Access,
} from '../../src/index.js';
import { TablesPae } from '../guest-tables.js';
import { createMachine, randomSource, type Machine } from './machine.js';

const CR0_PE = 1;
const PDPT = 0x10000;

function same(m: Machine, linear: number, access: Access, user: boolean, value = 0) {
  const { bare, shadow } = m.both(linear, access, user, value);
  expect(shadow, `0x${(linear >>> 0).toString(16)} access ${access} user ${user}`).toEqual(bare);
  expect(m.sameRam()).toBe(true);
  return shadow;
}

function boot(cr0 = CR0_PE | CR0_PG | CR0_WP) {
  const m = createMachine();
  const tables = new TablesPae(m.host, PDPT, 0x11000);
  return { m, tables, start: () => { m.syncBare(); m.control(cr0, PDPT, CR4_PAE); } };
}

describe('shadow paging: PAE guest tables', () => {
  it('gives every R/W and U/S combination, both CPLs and both WP settings the bare-hardware answer', () => {
    for (const wp of [0, CR0_WP]) {
      const { m, tables, start } = boot(CR0_PE | CR0_PG | wp);
      const pages: number[] = [];
      for (let pte = 0; pte < 4; pte++) {
        const linear = 0x40000000 + pte * 0x1000;
        tables.map(linear, 0x100000 + pte * 0x1000, PTE_P | (pte & 1 ? PTE_RW : 0) | (pte & 2 ? PTE_US : 0));
        pages.push(linear);
      }
      tables.mapLarge(0x80000000, 0x200000, PTE_P | PTE_RW | PTE_US);
      tables.mapLarge(0x80200000, 0x200000, PTE_P | PTE_US);
      pages.push(0x80000000, 0x801ff000, 0x80200000);
      start();
      for (const page of pages) {
        for (const [access, user] of [[ACCESS_READ, true], [ACCESS_WRITE, false], [ACCESS_READ, true], [ACCESS_WRITE, true], [ACCESS_FETCH, true], [ACCESS_WRITE, false]] as const) {
          same(m, page + 0x20, access, user, 0x5150000 + page);
        }
      }
      m.shadow.checkInvariants();
    }
  });

  it('reports reserved bits (XD with NXE = 0) as the guest CPU does', () => {
    const { m, tables, start } = boot();
    tables.map(0x1000, 0x5000, PTE_P | PTE_RW, 1 << 31);
    start();
    expect(same(m, 0x1000, ACCESS_READ, true)).toEqual({ pf: PF_P | PF_RSVD | PF_U });
    expect(same(m, 0x1000, ACCESS_WRITE, false)).toEqual({ pf: PF_P | PF_RSVD | PF_W });
  });

  it('keeps a changed mapping until INVLPG or a CR3 load, then shows the new one', () => {
    const { m, tables, start } = boot();
    tables.map(0x400000, 0x30000, PTE_P | PTE_RW);
    tables.map(0x401000, 0x31000, PTE_P | PTE_RW);
    m.host.write32(0x30000, 0xa);
    m.host.write32(0x31000, 0xb);
    start();
    same(m, 0x400000, ACCESS_READ, false);
    same(m, 0x401000, ACCESS_WRITE, false, 0xbb);
    m.poke(tables.pteAddress(0x400000), 0x31000 | PTE_P | PTE_RW);
    m.invlpg(0x400000);
    expect(same(m, 0x400000, ACCESS_READ, false)).toEqual({ value: 0xbb });
    m.poke(tables.pteAddress(0x401000), 0);
    m.movCr3(PDPT);
    expect(same(m, 0x401000, ACCESS_READ, false)).toEqual({ pf: 0 });
    expect(m.peek(tables.pteAddress(0x400000)) & (PTE_A | PTE_D)).toBe(PTE_A);
    m.shadow.checkInvariants();
  });

  it('survives random garbage PAE tables (fixed seeds), the guest flushing after each store', () => {
    for (const seed of [7, 8, 9]) {
      const m = createMachine({ vmmFrames: 12, maxShadowPages: 10 });
      const random = randomSource(seed);
      const tablePages = 32;
      for (let a = 0; a < tablePages * 0x1000; a += 8) {
        const r = random();
        const flags = PTE_P | (r % 3 === 0 ? 0 : random() & (PTE_RW | PTE_US)) | (r % 5 === 0 ? 0x80 : 0) | (r % 7 === 0 ? 0x60 : 0);
        const low = r % 8 === 0 ? random() : ((random() % tablePages) * 0x1000) | flags;
        m.host.write32(a, low);
        m.host.write32(a + 4, r % 16 === 0 ? random() : 0);
      }
      m.syncBare();
      const tableAt = () => (random() % tablePages) * 0x1000 + (random() % 4) * 32;
      m.control(CR0_PE | CR0_PG | CR0_WP, tableAt(), CR4_PAE);
      for (let step = 0; step < 1500; step++) {
        const op = random() % 10;
        const linear = (((random() % 4) << 30) | ((random() % 8) << 21) | ((random() % 16) << 12) | (random() & 0xffc)) >>> 0;
        if (op < 8) {
          const access = (random() % 3) as Access;
          same(m, linear, access, random() % 2 === 0, random() % 2 ? ((random() % tablePages) * 0x1000) | 0x67 : random());
          if (access === ACCESS_WRITE) m.movCr3(m.cr3);
        } else if (op < 9) {
          m.movCr3(tableAt());
        } else {
          m.invlpg(linear);
        }
      }
      m.shadow.checkInvariants();
      expect(m.shadow.hiddenFaults).toBeGreaterThan(50);
    }
  }, 60_000);
});
