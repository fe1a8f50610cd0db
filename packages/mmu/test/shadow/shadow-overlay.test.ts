// The overlay vmm-full uses to show its shadow GDT at the guest's GDT address while ring 3 runs:
// the CPU's supervisor reads there reach the VMM's frames, user accesses are the VMM's to emulate,
// and once cleared the guest's own mapping is back.
import { describe, expect, it } from 'vitest';
import {
  ACCESS_READ, ACCESS_WRITE, CR0_PG, CR0_WP, PTE_P, PTE_RW, PTE_US, SHADOW_HIDDEN, SHADOW_OVERLAY, SHADOW_TRUE, type Access,
} from '../../src/index.js';
import { Tables32 } from '../guest-tables.js';
import { createMachine, type Machine } from './machine.js';

const KERNEL = 1 | CR0_PG | CR0_WP;
const PD = 0x10000;
const USER_RW = PTE_P | PTE_RW | PTE_US;

/** A guest whose user-accessible pages 0xc0000000/0xc0001000 hold guest frames 0x3000/0x4000, and two VMM frames to overlay. */
function boot() {
  const m = createMachine();
  const tables = new Tables32(m.host, PD, 0x11000);
  tables.map(0xc0000000, 0x3000, USER_RW);
  tables.map(0xc0001000, 0x4000, USER_RW);
  m.host.write32(0x3f80, 0x11111111);
  m.host.write32(0x4010, 0x22222222);
  const frames = m.pool.pop()!;
  expect(m.pool.pop()).toBe(frames + 0x1000);
  m.host.write32(frames + 0xf80, 0xaaaaaaaa);
  m.host.write32(frames + 0x1010, 0xbbbbbbbb);
  m.control(KERNEL, PD, 0);
  return { m, tables, frames };
}

/** One access on the shadow tables with hidden faults resumed: the host-physical address, or the fault kind that stopped it. */
function access(m: Machine, linear: number, kind: Access, user: boolean): { pa: number } | { fault: number } {
  for (let attempt = 0; attempt < 4; attempt++) {
    const pa = m.cpu.translate(linear, kind, user);
    if (pa >= 0) return { pa };
    const fault = m.shadow.fault(m.cpu.faultAddress, kind, user);
    if (fault !== SHADOW_HIDDEN) return { fault };
  }
  throw new Error('hidden faults never end');
}

describe('shadow paging: overlay of VMM frames at guest pages', () => {
  it('shows a table that is not page aligned and spans two pages to supervisor reads only, then gives the guest its memory back', () => {
    const { m, frames } = boot();
    expect(m.shadow.setOverlay(0xc0000f80, 0x100, frames)).toBe(true);
    expect(access(m, 0xc0000f80, ACCESS_READ, false)).toEqual({ pa: frames + 0xf80 });
    expect(access(m, 0xc0001010, ACCESS_READ, false)).toEqual({ pa: frames + 0x1010 });
    // The guest maps both pages user-accessible: ring 3's own reads and writes there are emulated.
    expect(access(m, 0xc0000f80, ACCESS_READ, true)).toEqual({ fault: SHADOW_OVERLAY });
    expect(access(m, 0xc0001010, ACCESS_WRITE, true)).toEqual({ fault: SHADOW_OVERLAY });
    expect(m.shadow.overlayFaults).toBe(2);
    m.shadow.checkInvariants();

    m.shadow.clearOverlay();
    m.shadow.checkInvariants();
    expect(access(m, 0xc0000f80, ACCESS_READ, false)).toEqual({ pa: 0x3f80 });
    expect(access(m, 0xc0001010, ACCESS_WRITE, true)).toEqual({ pa: 0x4010 });
    m.shadow.checkInvariants();
  });

  it('holds the leaf where the guest maps no table, and that page faults for the guest again once cleared', () => {
    const { m, frames } = boot();
    expect(m.shadow.setOverlay(0x80000010, 8, frames)).toBe(true);
    expect(access(m, 0x80000010, ACCESS_READ, false)).toEqual({ pa: frames + 0x10 });
    m.shadow.checkInvariants();
    m.shadow.clearOverlay();
    expect(access(m, 0x80000010, ACCESS_READ, false)).toEqual({ fault: SHADOW_TRUE });
    m.shadow.checkInvariants();
  });

  it('puts a leaf the pager dropped back at the next supervisor access', () => {
    const { m, frames } = boot();
    expect(m.shadow.setOverlay(0xc0000f80, 0x100, frames)).toBe(true);
    m.shadow.reset();
    m.cpu.setCr3(m.shadow.root);
    expect(access(m, 0xc0001010, ACCESS_READ, false)).toEqual({ pa: frames + 0x1010 });
    m.shadow.checkInvariants();
    m.shadow.clearOverlay();
    expect(access(m, 0xc0001010, ACCESS_READ, false)).toEqual({ pa: 0x4010 });
  });

  it('emulates a user access to another linear page sharing the overlaid leaf (a page table mapped twice)', () => {
    const { m, tables, frames } = boot();
    m.poke(tables.pdeAddress(0x40000000), m.host.read32(tables.pdeAddress(0xc0000000)));
    m.control(KERNEL, PD, 0);
    // Both directory slots now link the one shadow of that page table.
    expect(access(m, 0x40000000, ACCESS_READ, true)).toEqual({ pa: 0x3000 });
    expect(access(m, 0xc0000000, ACCESS_READ, true)).toEqual({ pa: 0x3000 });
    expect(m.shadow.setOverlay(0xc0000000, 8, frames)).toBe(true);
    expect(access(m, 0x40000000, ACCESS_READ, true)).toEqual({ fault: SHADOW_OVERLAY });
    m.shadow.clearOverlay();
    expect(access(m, 0x40000000, ACCESS_READ, true)).toEqual({ pa: 0x3000 });
    m.shadow.checkInvariants();
  });

  it('refuses ranges into the VMM area, past 4 GiB or longer than 17 pages, and frames that are guest RAM', () => {
    const { m, frames } = boot();
    m.shadow.reserveVmmArea(0xffc00000, [m.pool.pop()! | PTE_P | PTE_RW]);
    expect(m.shadow.setOverlay(0xffbfff00, 0x200, frames)).toBe(false);
    expect(m.shadow.setOverlay(0xfffff000, 0x2000, frames)).toBe(false);
    expect(m.shadow.setOverlay(0x1000, 0x11001, frames)).toBe(false);
    expect(m.shadow.setOverlay(0x1000, 0, frames)).toBe(false);
    expect(() => m.shadow.setOverlay(0x1000, 8, 0x3000)).toThrow(RangeError);
    expect(access(m, 0xc0000f80, ACCESS_READ, false)).toEqual({ pa: 0x3f80 });
    m.shadow.checkInvariants();
  });
});
