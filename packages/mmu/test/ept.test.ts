import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, EPTP_AD, EPTP_WALK_4, EPTP_WB, EPT_ACCESSED, EPT_DIRTY, EPT_EXECUTE, EPT_EXIT,
  EPT_LARGE, EPT_READ, EPT_WRITE, NestedPaging, PhysicalMemory,
} from '../src/index.js';

// SDM Vol. 3C 29.3: EPT translation, permissions, misconfigurations, large pages, accessed and
// dirty flags, and the guest's paging structures read through EPT (a 2-D walk).

const RWX = EPT_READ | EPT_WRITE | EPT_EXECUTE;
const WB = 6 << 3;
const ROOT = 0x10000;

class EptSpace {
  readonly memory = new PhysicalMemory({ regions: [{ base: 0, size: 0x2000000 }] });
  readonly paging = new NestedPaging(this.memory);
  private next = ROOT + 0x1000;

  constructor(ad = false) {
    expect(this.paging.ept.setPointer(ROOT | EPTP_WB | EPTP_WALK_4 | (ad ? EPTP_AD : 0))).toBeNull();
    this.paging.eptEnabled = true;
    this.paging.setControl(0x11, 0, 0, 0);
  }

  entry(gpa: number, level: number): number {
    let table = ROOT;
    for (let l = 4; l > level; l--) {
      const at = table + (Math.floor(gpa / 2 ** (12 + 9 * (l - 1))) % 512) * 8;
      if ((this.memory.read32(at) & 7) === 0) {
        this.memory.write32(at, this.next | RWX);
        this.next += 0x1000;
      }
      table = this.memory.read32(at) & ~0xfff;
    }
    return table + (Math.floor(gpa / 2 ** (12 + 9 * (level - 1))) % 512) * 8;
  }

  map(gpa: number, hpa: number, bits: number, level = 1): number {
    const at = this.entry(gpa, level);
    this.memory.write32(at, (hpa | bits | (level > 1 ? EPT_LARGE : 0)) >>> 0);
    this.memory.write32(at + 4, 0);
    return at;
  }
}

describe('EPT translation', () => {
  it('4 KiB pages map guest-physical to host-physical with R/W/X checked for each access', () => {
    const s = new EptSpace();
    s.map(0x5000, 0x100000, EPT_READ | EPT_EXECUTE | WB);
    const p = s.paging;
    expect(p.translate(0x5123, ACCESS_READ, false)).toBe(0x100123);
    expect(p.translate(0x5123, ACCESS_FETCH, false)).toBe(0x100123);
    expect(p.translate(0x5123, ACCESS_WRITE, false)).toBe(EPT_EXIT);
    // Write, entry readable and executable, linear address valid, final translation.
    expect(p.eptExit.kind).toBe('violation');
    expect(p.eptExit.qualification).toBe(0x2 | 0x8 | 0x20 | 0x80 | 0x100);
    expect(p.eptExit.guestPhysical).toBe(0x5123);
    expect(p.stats.violationsWrite).toBe(1);
  });

  it('not present: the permission bits of the qualification are all 0; fetch of a non-executable page is bit 2', () => {
    const s = new EptSpace();
    s.map(0x6000, 0x100000, EPT_READ | EPT_WRITE | WB);
    expect(s.paging.translate(0x9000, ACCESS_READ, false)).toBe(EPT_EXIT);
    expect(s.paging.eptExit.qualification).toBe(0x1 | 0x80 | 0x100);
    expect(s.paging.translate(0x6000, ACCESS_FETCH, false)).toBe(EPT_EXIT);
    expect(s.paging.eptExit.qualification).toBe(0x4 | 0x8 | 0x10 | 0x80 | 0x100);
  });

  it('execute-only pages allow fetches only, and are never cached for reads', () => {
    const s = new EptSpace();
    s.map(0x7000, 0x100000, EPT_EXECUTE | WB);
    expect(s.paging.translate(0x7000, ACCESS_FETCH, false)).toBe(0x100000);
    expect(s.paging.translate(0x7000, ACCESS_READ, false)).toBe(EPT_EXIT);
  });

  it('misconfigurations: write without read, a reserved memory type, reserved bits in a large page, bit 7 in a PML4E', () => {
    const cases: [(s: EptSpace) => void, RegExp][] = [
      [(s) => s.map(0x5000, 0x100000, EPT_WRITE | WB), /writable but not readable/],
      [(s) => s.map(0x5000, 0x100000, RWX | (2 << 3)), /memory type 2/],
      [(s) => s.map(0x200000, 0x301000, RWX | WB, 2), /20:12/],
      [(s) => s.map(0x40000000, 0x40001000, RWX | WB, 3), /29:12/],
      [(s) => {
        s.map(0x5000, 0x100000, RWX | WB);
        s.memory.write32(ROOT, s.memory.read32(ROOT) | EPT_LARGE);
      }, /reserved bits 7:3/],
    ];
    for (const [spoil, why] of cases) {
      const s = new EptSpace();
      spoil(s);
      const gpa = why.source.includes('29') ? 0x40000000 : why.source.includes('20') ? 0x200000 : 0x5000;
      expect(s.paging.translate(gpa, ACCESS_READ, false)).toBe(EPT_EXIT);
      expect(s.paging.eptExit.kind, String(why)).toBe('misconfig');
      expect(s.paging.eptExit.detail).toMatch(why);
      expect(s.paging.stats.misconfigs).toBe(1);
    }
  });

  it('an EPTP with a bad memory type, walk length or reserved bits is refused', () => {
    const s = new EptSpace();
    expect(s.paging.ept.setPointer(ROOT | 5 | EPTP_WALK_4)).toMatch(/memory type 5/);
    expect(s.paging.ept.setPointer(ROOT | EPTP_WB | (4 << 3))).toMatch(/walk length 5/);
    expect(s.paging.ept.setPointer(ROOT | EPTP_WB | EPTP_WALK_4 | 0x100)).toMatch(/reserved/);
  });

  it('2 MiB and 1 GiB pages', () => {
    const s = new EptSpace();
    s.map(0x400000, 0x1000000, RWX | WB, 2);
    s.map(0x80000000, 0x40000000, RWX | WB, 3);
    expect(s.paging.translate(0x5fffff, ACCESS_WRITE, false)).toBe(0x11fffff);
    expect(s.paging.translate(0x80123456, ACCESS_READ, false)).toBe(0x40123456);
  });

  it('accessed and dirty flags: set when the EPTP enables them, a write walks again to set D', () => {
    const s = new EptSpace(true);
    const leaf = s.map(0x5000, 0x100000, RWX | WB);
    expect(s.paging.translate(0x5000, ACCESS_READ, false)).toBe(0x100000);
    expect(s.memory.read32(leaf) & (EPT_ACCESSED | EPT_DIRTY)).toBe(EPT_ACCESSED);
    expect(s.memory.read32(ROOT) & EPT_ACCESSED).toBe(EPT_ACCESSED);
    expect(s.paging.translate(0x5000, ACCESS_WRITE, false)).toBe(0x100000);
    expect(s.memory.read32(leaf) & EPT_DIRTY).toBe(EPT_DIRTY);

    const off = new EptSpace(false);
    const leaf2 = off.map(0x5000, 0x100000, RWX | WB);
    off.paging.translate(0x5000, ACCESS_WRITE, false);
    expect(off.memory.read32(leaf2) & (EPT_ACCESSED | EPT_DIRTY)).toBe(0);
  });
});

describe('two-dimensional walks', () => {
  /** Guest 32-bit paging: directory at GPA 0x10000 (host 0x110000), table at GPA 0x11000. */
  function guest(): EptSpace {
    const s = new EptSpace();
    for (let gpa = 0; gpa < 0x400000; gpa += 0x1000) s.map(gpa, gpa + 0x100000, RWX | WB);
    s.memory.write32(0x110000, 0x11000 | 7);
    s.memory.write32(0x111000 + 5 * 4, 0x8000 | 7); // linear 0x5000 -> GPA 0x8000
    s.paging.setControl(0x80000011, 0x10000, 0, 0);
    return s;
  }

  it('the guest tables are read through EPT and the result translated again', () => {
    const s = guest();
    expect(s.paging.translate(0x5004, ACCESS_READ, false)).toBe(0x108004);
    expect(s.paging.stats.walks2d).toBe(1);
    // Guest A bits land in the host frames behind the guest tables.
    expect(s.memory.read32(0x111000 + 5 * 4) & 0x20).toBe(0x20);
  });

  it('a guest paging structure missing from EPT: a violation of a paging-structure access (bit 8 clear)', () => {
    const s = guest();
    s.map(0x11000, 0, 0);
    expect(s.paging.translate(0x5004, ACCESS_READ, false)).toBe(EPT_EXIT);
    expect(s.paging.eptExit.guestPhysical).toBe(0x11014);
    expect(s.paging.eptExit.guestLinear).toBe(0x5004);
    expect(s.paging.eptExit.qualification & 0x180).toBe(0x80);
  });

  it('a guest #PF stays a guest #PF', () => {
    const s = guest();
    expect(s.paging.translate(0x6000, ACCESS_READ, false)).toBe(-1);
    expect(s.paging.faultAddress).toBe(0x6000);
  });

  it('TLB: a changed EPT entry is not seen until INVEPT (a flush); a guest CR3 load drops non-global entries', () => {
    const s = guest();
    expect(s.paging.translate(0x5000, ACCESS_READ, false)).toBe(0x108000);
    s.map(0x8000, 0x200000, RWX | WB);
    expect(s.paging.translate(0x5000, ACCESS_READ, false)).toBe(0x108000);
    s.paging.flush(true);
    expect(s.paging.translate(0x5000, ACCESS_READ, false)).toBe(0x200000);
    s.memory.write32(0x111000 + 5 * 4, 0x9000 | 7);
    expect(s.paging.translate(0x5000, ACCESS_READ, false)).toBe(0x200000);
    s.paging.setCr3(0x10000);
    expect(s.paging.translate(0x5000, ACCESS_READ, false)).toBe(0x109000);
  });
});
