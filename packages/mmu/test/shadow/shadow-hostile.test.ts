// A hostile guest: page tables pointing at the VMM's frames, MMIO, ROM and beyond 4 GiB, tables
// living there, garbage tables, a tiny shadow pool. It must see exactly what bare hardware shows it,
// never a host exception, never a shadow mapping of a frame outside its RAM and ROM.
import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, PTE_A, PTE_P, PTE_PS, PTE_RW, PTE_US,
  EFER_NXE, SHADOW_UNSUPPORTED, type Access,
} from '../../src/index.js';
import { Tables32 } from '../guest-tables.js';
import { RecordingDevice } from '../recording-device.js';
import { createMachine, MMIO_BASE, randomSource, ROM_BASE, type Machine } from './machine.js';

const CR0_PE = 1;
const KERNEL = CR0_PE | CR0_PG | CR0_WP;
const PD = 0x10000;
const MARK = 0x13371337;

function same(m: Machine, linear: number, access: Access, user: boolean, value = 0) {
  const { bare, shadow } = m.both(linear, access, user, value);
  expect(shadow, `0x${(linear >>> 0).toString(16)} access ${access} user ${user}`).toEqual(bare);
  return shadow;
}

/** No byte the guest wrote ever lands in the VMM's frames. */
function vmmUntouched(m: Machine): boolean {
  const words = new Uint32Array(m.host.ram.buffer, m.ramSize, (m.host.ram.length - m.ramSize) / 4);
  return !words.includes(MARK);
}

describe('shadow paging: hostile guests', () => {
  it('PTEs pointing at VMM frames, MMIO, ROM and beyond 4 GiB get the bare-hardware answer', () => {
    const m = createMachine();
    const tables = new Tables32(m.host, PD, 0x11000);
    const rw = PTE_P | PTE_RW | PTE_US;
    tables.map(0x1000, m.ramSize, rw);                  // the first VMM frame
    tables.map(0x2000, m.ramSize + 0x3000, rw);
    tables.map(0x3000, MMIO_BASE, rw);
    tables.map(0x4000, ROM_BASE + 0x1000, rw);
    tables.map(0x5000, 0xfffff000, rw);                  // above the ROM? no: inside it; hole below
    tables.map(0x6000, 0x80000000, rw);                  // a hole
    tables.mapLarge(0x400000, 0, rw | (1 << 13));        // PSE-36: physical 4 GiB
    tables.mapLarge(0x800000, m.ramSize, rw);            // a 4 MiB page over all VMM frames
    m.syncBare();
    m.control(KERNEL, PD, CR4_PSE);
    for (const linear of [0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x400000, 0x401000, 0x800000, 0x803000, 0xbff000]) {
      for (const user of [false, true]) {
        same(m, linear + 8, ACCESS_READ, user);
        same(m, linear + 8, ACCESS_WRITE, user, MARK);
        same(m, linear + 8, ACCESS_READ, user);
        same(m, linear + 8, ACCESS_FETCH, user);
      }
    }
    expect(m.sameRam()).toBe(true);
    expect(vmmUntouched(m)).toBe(true);
    expect(m.shadow.mmioFaults).toBeGreaterThan(0);
    m.shadow.checkInvariants();
  });

  it('page directories and tables placed in VMM frames, MMIO or ROM read as the guest bus shows them', () => {
    const m = createMachine();
    m.syncBare();
    for (const cr3 of [m.ramSize, m.ramSize + 0x5000, MMIO_BASE, ROM_BASE, 0x90000000]) {
      m.control(KERNEL, cr3, CR4_PSE);
      for (const linear of [0, 0x1000, 0x400000, 0xc0000000, 0xffc00000, 0xfffff000]) {
        same(m, linear, ACCESS_READ, false);
        same(m, linear, ACCESS_WRITE, true, MARK);
      }
      m.movCr3(cr3);
      m.shadow.checkInvariants();
    }
    expect(vmmUntouched(m)).toBe(true);
    expect(m.sameRam()).toBe(true);
  });

  it('maps every physical address with 4 MiB pages and sweeps the whole linear space: nothing of the VMM shows', () => {
    const m = createMachine();
    for (let slot = 0; slot < 1024; slot++) m.host.write32(PD + slot * 4, ((slot << 22) | PTE_P | PTE_RW | PTE_US | PTE_PS) >>> 0);
    m.syncBare();
    m.control(KERNEL, PD, CR4_PSE);
    for (let page = 0; page < 0x100000; page += page < 0x800 ? 1 : 61) {
      const linear = (page << 12) + ((page * 4) & 0xffc);
      const user = (page & 1) === 0;
      same(m, linear, ACCESS_READ, user);
      if (linear >>> 0 < 0x10000 + 0x1000 && linear >>> 0 >= 0x10000) continue; // keep the directory intact
      same(m, linear, ACCESS_WRITE, user, MARK);
    }
    expect(m.sameRam()).toBe(true);
    expect(vmmUntouched(m)).toBe(true);
    m.shadow.checkInvariants();
  }, 60_000);

  it('an MMIO window mapped over guest RAM takes effect at once, and the CPU\'s root stays a root', () => {
    const m = createMachine();
    const tables = new Tables32(m.host, PD, 0x11000);
    tables.map(0x5000, 0x200000, PTE_P | PTE_RW | PTE_US);
    m.syncBare();
    m.control(KERNEL, PD, 0);
    same(m, 0x5000, ACCESS_WRITE, true, 1);
    const root = m.shadow.root;
    m.host.addMmio(0x200000, 0x1000, new RecordingDevice());
    m.bareMem.addMmio(0x200000, 0x1000, new RecordingDevice());
    expect(m.shadow.root).toBe(root);
    expect(same(m, 0x5000, ACCESS_READ, true)).toEqual({ value: RecordingDevice.answer(0, 4) });
    m.shadow.checkInvariants();
  });

  it('recycles shadow tables when the pool runs dry and still answers like bare hardware', () => {
    const m = createMachine({ vmmFrames: 4 });
    const tables = new Tables32(m.host, PD, 0x11000);
    for (let i = 0; i < 24; i++) {
      tables.map(i << 22, 0x100000 + i * 0x1000, PTE_P | PTE_RW | PTE_US);
      m.host.write32(0x100000 + i * 0x1000, i);
    }
    m.syncBare();
    m.control(KERNEL, PD, 0);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 24; i++) {
        expect(same(m, i << 22, ACCESS_READ, true)).toEqual({ value: round === 0 ? i : i + round * 100 });
        same(m, i << 22, ACCESS_WRITE, false, i + (round + 1) * 100);
      }
      m.shadow.checkInvariants();
    }
    expect(m.shadow.shadowsRecycled).toBeGreaterThan(20);
    expect(m.pool.length).toBe(0);
    expect(m.sameRam()).toBe(true);
  });

  it('keeps the VMM area in every root; guest mappings there are never installed, and it moves', () => {
    const m = createMachine();
    const vmmTable = m.pool.pop() as number;
    const vmmPde = vmmTable | PTE_P | PTE_RW;
    m.shadow.reserveVmmArea(0xffc00000, [vmmPde]);
    m.host.ram.fill(0, vmmTable, vmmTable + 0x1000);
    m.host.write32(vmmTable, (m.pool[0] | PTE_P | PTE_RW) >>> 0);
    const tables = new Tables32(m.host, PD, 0x11000);
    const other = new Tables32(m.host, 0x20000, 0x21000);
    tables.map(0xffc00000, 0x5000, PTE_P | PTE_RW | PTE_US);
    tables.map(0xff800000, 0x6000, PTE_P | PTE_RW | PTE_US);
    other.map(0xffc01000, 0x5000, PTE_P | PTE_RW);
    m.syncBare();
    m.control(KERNEL, PD, 0);
    expect(m.onShadow(0xffc00000, ACCESS_READ, true)).toEqual({ vmmArea: true });
    expect(m.host.read32(m.shadow.root + 0x3ff * 4)).toBe(vmmPde);
    // The VMM's own supervisor access there (host CPL 0): the CPU sets A in the VMM's entries.
    expect(m.cpu.translate(0xffc00010, ACCESS_WRITE, false)).toBe(m.pool[0] + 0x10);
    expect(m.host.read32(m.shadow.root + 0x3ff * 4)).toBe(vmmPde | PTE_A);
    m.shadow.checkInvariants();
    m.movCr3(0x20000);
    expect(m.onShadow(0xffc01000, ACCESS_WRITE, false, MARK)).toEqual({ vmmArea: true });
    expect(m.host.read32(m.shadow.root + 0x3ff * 4)).toBe(vmmPde);
    m.movCr3(PD);
    same(m, 0xff800000, ACCESS_WRITE, true, 3);
    m.shadow.relocateVmmArea(0xff800000);
    m.cpu.flush(true);
    expect(m.onShadow(0xff800000, ACCESS_READ, true)).toEqual({ vmmArea: true });
    expect(same(m, 0xffc00000, ACCESS_READ, true)).toEqual({ value: 0 });
    expect(m.host.read32(m.shadow.root + 0x3fe * 4) & ~PTE_A).toBe(vmmPde);
    m.shadow.checkInvariants();
    expect(vmmUntouched(m)).toBe(true);
  });

  it('refuses PAE paging with EFER.NXE = 1 with a reason, and still walks the PAE tables for the VMM', () => {
    const m = createMachine();
    m.host.write32(0x10000, 0x11000 | PTE_P);            // PDPTE 0
    m.host.write32(0x11000, 0x12000 | PTE_P | PTE_RW);   // PDE 0
    m.host.write32(0x12008, 0x7000 | PTE_P | PTE_RW);    // PTE 1
    m.syncBare();
    m.control(KERNEL, PD, CR4_PAE, EFER_NXE);
    expect(m.shadow.unsupportedReason).toMatch(/NXE/);
    expect(m.cpu.translate(0x1000, ACCESS_READ, false)).toBe(-1);
    expect(m.shadow.fault(0x1000, ACCESS_READ, false)).toBe(SHADOW_UNSUPPORTED);
    expect(m.shadow.translateGuest(0x1234, ACCESS_READ, false)).toBe(0x7234);
    expect(m.shadow.translateGuest(0x3000, ACCESS_READ, false)).toBe(-1);
    expect(m.shadow.guestErrorCode).toBe(0);
    m.control(KERNEL, PD, CR4_PAE, 0);
    expect(m.shadow.unsupportedReason).toBeNull();
    expect(same(m, 0x1234 & ~3, ACCESS_READ, false)).toEqual({ value: 0 });
  });

  it('survives random garbage page tables (fixed seeds): same outcomes, invariants hold, no escape', () => {
    for (const seed of [1, 2, 3, 0xdead, 0xbeef, 42]) {
      const small = seed % 2 === 0;
      const m = createMachine(small ? { vmmFrames: 10, maxShadowPages: 8 } : {});
      const random = randomSource(seed);
      const vmmTable = m.pool.pop() as number;
      m.shadow.reserveVmmArea(0xffc00000, [vmmTable | PTE_P | PTE_RW]);
      const tablePages = 48;
      /** An entry: mostly pointing into the table area or low RAM, sometimes anywhere at all. */
      const entry = (): number => {
        const r = random();
        const flags = random() & 0x1ff & ~(r & 1 ? 0 : PTE_PS);
        switch (r % 8) {
          case 0: return random();
          case 1: return (m.ramSize + (random() % 8) * 0x1000) | flags;
          case 2: return [MMIO_BASE, ROM_BASE, 0xfffff000, 0x80000000][random() % 4] | flags;
          case 3: return ((random() % 16) << 22) | flags | PTE_PS;
          default: return ((random() % tablePages) * 0x1000) | flags | PTE_P;
        }
      };
      for (let a = 0; a < tablePages * 0x1000; a += 4) m.host.write32(a, random() % 3 !== 0 ? entry() : 0);
      // Every directory also maps the table area at 0xc0000000 (a kernel's direct map), so stores
      // there rewrite live tables: traced writes.
      const kernelTable = tablePages * 0x1000;
      for (let i = 0; i < tablePages; i++) {
        m.host.write32(kernelTable + i * 4, (i * 0x1000) | PTE_P | PTE_RW);
        m.host.write32(i * 0x1000 + 0x300 * 4, kernelTable | PTE_P | PTE_RW | PTE_US);
      }
      m.syncBare();
      const pageTables = () => (random() % tablePages) * 0x1000;
      const cr4s = [0, CR4_PSE, CR4_PGE, CR4_PSE | CR4_PGE];
      m.control(KERNEL, pageTables(), CR4_PSE);
      const slots = [0, 1, 2, 3, 0x300, 0x300, 0x300, 0x3fe, random() & 0x3fe];
      for (let step = 0; step < 2500; step++) {
        const op = random() % 100;
        if (op < 80) {
          const linear = ((slots[random() % slots.length] << 22) | ((random() % 64) << 12) | (random() & 0xffc)) >>> 0;
          const access = (random() % 3) as Access;
          const value = random() % 2 === 0 ? entry() : random();
          same(m, linear, access, random() % 2 === 0, value);
        } else if (op < 88) {
          m.movCr3(pageTables());
        } else if (op < 94) {
          const linear = ((slots[random() % slots.length] << 22) | ((random() % 64) << 12)) >>> 0;
          m.invlpg(linear);
        } else if (op < 98) {
          m.control(random() % 8 === 0 ? CR0_PE : CR0_PE | CR0_PG | (random() % 2 ? CR0_WP : 0), m.cr3, cr4s[random() % 4]);
        } else {
          m.shadow.checkInvariants();
        }
        if (step % 50 === 0) expect(m.sameRam(), `seed ${seed} step ${step}`).toBe(true);
      }
      m.shadow.checkInvariants();
      expect(m.sameRam()).toBe(true);
      expect(m.shadow.tracedWrites).toBeGreaterThan(2);
      expect(m.shadow.hiddenFaults).toBeGreaterThan(200);
      expect(m.shadow.trueFaults + m.shadow.mmioFaults).toBeGreaterThan(0);
      if (small) expect(m.shadow.shadowsRecycled).toBeGreaterThan(0);
      expect(vmmUntouched(m)).toBe(true);
    }
  }, 60_000);
});
