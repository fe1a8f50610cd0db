// Extended page tables (SDM Vol. 3C, 29.3): the second stage of address translation in VMX
// non-root operation, guest-physical to host-physical through a 4-level table named by the EPTP.
import type { PhysicalMemory } from '../physical/physical-memory.js';

/** Entry bits 0..2: read, write, execute (all clear: not present). */
export const EPT_READ = 1;
export const EPT_WRITE = 2;
export const EPT_EXECUTE = 4;
/** Bit 7 of a PDPTE (1 GiB page) or PDE (2 MiB page): the entry maps a page. */
export const EPT_LARGE = 0x80;
/** Bits 8 and 9, written by the processor when the EPTP enables accessed and dirty flags. */
export const EPT_ACCESSED = 0x100;
export const EPT_DIRTY = 0x200;

/** EPTP bits 2:0 memory type (6 write-back, 0 uncacheable), 5:3 walk length - 1, bit 6 A/D enable. */
export const EPTP_WB = 6;
export const EPTP_UC = 0;
export const EPTP_WALK_4 = 3 << 3;
export const EPTP_AD = 1 << 6;

// Exit qualification of an EPT violation (SDM Vol. 3C, Table 28-7).
export const EPTQ_READ = 1 << 0;
export const EPTQ_WRITE = 1 << 1;
export const EPTQ_FETCH = 1 << 2;
export const EPTQ_READABLE = 1 << 3;
export const EPTQ_WRITABLE = 1 << 4;
export const EPTQ_EXECUTABLE = 1 << 5;
export const EPTQ_LINEAR_VALID = 1 << 7;
export const EPTQ_FINAL = 1 << 8;

/** The access an EPT walk is for. */
export const EPT_ACCESS_READ = 0;
export const EPT_ACCESS_WRITE = 1;
export const EPT_ACCESS_FETCH = 2;

const TWO_32 = 0x1_0000_0000;
/** Bytes mapped by one entry at each level (index = level, 1 = PTE). */
const LEVEL_SPAN = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39];
const PERMISSION = [EPT_READ, EPT_WRITE, EPT_EXECUTE];
/** Leaf memory types 2, 3 and 7 are reserved. */
const BAD_MEMORY_TYPE = (1 << 2) | (1 << 3) | (1 << 7);

/** The answer of one EPT walk, reused so that walking never allocates. */
export class EptWalk {
  hostPhysical = 0;
  /** R/W/X allowed by every entry of the walk (AND over the levels). */
  rights = 0;
  /** 0, or the page size of a large leaf (2 MiB or 1 GiB). */
  largePage = 0;
  /** EPT_ACCESSED/EPT_DIRTY state of the leaf after the walk. */
  leafDirty = false;
  /** Failure: 'violation' (qualification bits 0..5 in `qualification`) or 'misconfig'. */
  failure: 'none' | 'violation' | 'misconfig' = 'none';
  qualification = 0;
  /** Why the structure is misconfigured (for traces and tests). */
  detail = '';
}

/**
 * An EPT walker over host-physical memory. `setPointer` loads an EPTP (checked as VM entry checks
 * it); `walk` translates one guest-physical address for one access.
 */
export class Ept {
  /** Root table's host-physical address. */
  private root = 0;
  /** Accessed and dirty flags enabled (EPTP bit 6). */
  accessedDirty = false;
  /** The EPTP value loaded, as a number (bits up to 51). */
  pointer = 0;
  /** Entries read by walks since creation (a 2-D walk reads up to 24 counting guest levels). */
  entriesRead = 0;
  private readonly addressHighMask: number;

  constructor(
    private readonly memory: PhysicalMemory,
    /** Host MAXPHYADDR: entry address bits at or above it are reserved. */
    readonly maxPhysAddrBits = 39,
  ) {
    this.addressHighMask = 2 ** (maxPhysAddrBits - 32) - 1;
  }

  /** Why `eptp` is not a valid EPT pointer (SDM 26.2.1.1), or null after loading it. */
  setPointer(eptp: number): string | null {
    const low = eptp % TWO_32;
    const high = Math.floor(eptp / TWO_32);
    const type = low & 7;
    if (type !== EPTP_WB && type !== EPTP_UC) return `EPTP memory type ${type} is not supported (0 or 6)`;
    if (((low >>> 3) & 7) !== 3) return `EPTP walk length ${((low >>> 3) & 7) + 1} is not 4`;
    if ((low & 0xf80) !== 0 || (high & ~this.addressHighMask) !== 0) return 'EPTP sets reserved bits';
    this.pointer = eptp;
    this.root = high * TWO_32 + ((low & 0xfffff000) >>> 0);
    this.accessedDirty = (low & EPTP_AD) !== 0;
    return null;
  }

  /**
   * Translates `gpa` for `access` (EPT_ACCESS_*); false with `out.failure` set on an EPT violation
   * or misconfiguration. With A/D enabled, entries used get A and a written leaf gets D.
   */
  walk(gpa: number, access: number, out: EptWalk): boolean {
    const memory = this.memory;
    let table = this.root;
    let rights = 7;
    const need = PERMISSION[access];
    for (let level = 4; level >= 1; level--) {
      const span = LEVEL_SPAN[level];
      const index = Math.floor(gpa / span) % 512;
      const address = table + index * 8;
      const low = memory.read32(address) >>> 0;
      const high = memory.read32(address + 4) >>> 0;
      this.entriesRead++;
      const perm = low & 7;
      rights &= perm;
      if (perm === 0) return this.violation(out, access, 0);
      const leaf = level === 1 || ((low & EPT_LARGE) !== 0 && level <= 3);
      const problem = this.misconfigured(low, high, level, leaf);
      if (problem !== null) {
        out.failure = 'misconfig';
        out.detail = problem;
        out.qualification = 0;
        return false;
      }
      if (!leaf) {
        if (this.accessedDirty && (low & EPT_ACCESSED) === 0) memory.or32(address, EPT_ACCESSED);
        table = (high & this.addressHighMask) * TWO_32 + ((low & 0xfffff000) >>> 0);
        continue;
      }
      if ((rights & need) === 0) return this.violation(out, access, rights);
      const frameLow = level === 1 ? low & 0xfffff000 : level === 2 ? low & 0xffe00000 : low & 0xc0000000;
      out.hostPhysical = (high & this.addressHighMask) * TWO_32 + (frameLow >>> 0) + (gpa % span);
      out.rights = rights;
      out.largePage = level === 1 ? 0 : span;
      out.failure = 'none';
      if (this.accessedDirty) {
        const bits = access === EPT_ACCESS_WRITE ? EPT_ACCESSED | EPT_DIRTY : EPT_ACCESSED;
        if ((low & bits) !== bits) memory.or32(address, bits);
        out.leafDirty = access === EPT_ACCESS_WRITE || (low & EPT_DIRTY) !== 0;
      } else out.leafDirty = true;
      return true;
    }
    return false;
  }

  private violation(out: EptWalk, access: number, rights: number): false {
    out.failure = 'violation';
    out.qualification = (1 << access) | (rights << 3);
    out.detail = '';
    return false;
  }

  /** SDM 29.3.3.1: write without read, reserved bits, a reserved memory type in a leaf. */
  private misconfigured(low: number, high: number, level: number, leaf: boolean): string | null {
    if ((low & 3) === EPT_WRITE) return `level-${level} entry is writable but not readable`;
    if ((high & 0xfffff & ~this.addressHighMask) !== 0) return `level-${level} entry sets address bits above MAXPHYADDR`;
    if (leaf) {
      if ((BAD_MEMORY_TYPE >> ((low >>> 3) & 7)) & 1) return `level-${level} entry has reserved memory type ${(low >>> 3) & 7}`;
      if (level === 2 && (low & 0x1ff000) !== 0) return 'a 2 MiB entry sets reserved address bits 20:12';
      if (level === 3 && (low & 0x3ffff000) !== 0) return 'a 1 GiB entry sets reserved address bits 29:12';
      return null;
    }
    if ((low & 0xf8) !== 0) return `level-${level} entry sets reserved bits 7:3`;
    return null;
  }
}
