// The VMM's EPT for a guest: identity guest-physical to host-physical for every RAM and ROM page
// below 4 GiB (RAM read/write/execute, ROM read/execute), nothing for the rest, so MMIO and holes
// end in EPT violations the VMM handles. 2 MiB pages where a whole aligned 2 MiB has one kind.
import {
  EPTP_WALK_4, EPTP_WB, EPT_EXECUTE, EPT_LARGE, EPT_READ, EPT_WRITE, KIND_RAM_CODE, KIND_ROM, PhysicalMemory,
} from '@ringvisor/mmu';

const PAGE = 0x1000;
const PAGES_PER_2M = 512;
const WB_LEAF = 6 << 3;
const RAM_RIGHTS = EPT_READ | EPT_WRITE | EPT_EXECUTE;
const ROM_RIGHTS = EPT_READ | EPT_EXECUTE;
/** PML4, PDPT and the four page directories of the low 4 GiB. */
const FIXED_TABLES = 6;

/** The rights a guest page gets: RAM rwx, ROM r-x, anything else not present (0). */
function rightsOf(kind: number): number {
  if (kind <= KIND_RAM_CODE) return RAM_RIGHTS;
  if (kind === KIND_ROM) return ROM_RIGHTS;
  return 0;
}

/** The VMM's own frames (EPT tables, the MSR bitmap), apart from any frame EPT maps. */
export interface VmmFrames {
  readonly memory: PhysicalMemory;
  readonly eptPointer: number;
  readonly msrBitmap: number;
  /** EPT tables built, for the README's numbers and tests. */
  readonly tables: number;
}

/** Builds the EPT for `guest` (its `kind` array says what each page is) in a new VMM memory. */
export function buildVmmFrames(guest: PhysicalMemory): VmmFrames {
  const kind = guest.kind;
  // First pass: which 2 MiB ranges need a page table (mixed kinds inside).
  const mixed: number[] = [];
  for (let big = 0; big < 2048; big++) {
    const first = rightsOf(kind[big * PAGES_PER_2M]);
    for (let p = 1; p < PAGES_PER_2M; p++) {
      if (rightsOf(kind[big * PAGES_PER_2M + p]) !== first) {
        mixed.push(big);
        break;
      }
    }
  }
  const pages = FIXED_TABLES + mixed.length + 1;
  const memory = new PhysicalMemory({ regions: [{ base: 0, size: pages * PAGE }] });
  const pml4 = 0;
  const pdpt = PAGE;
  const pd = (i: number) => (2 + i) * PAGE;
  memory.write32(pml4, pdpt | RAM_RIGHTS);
  for (let i = 0; i < 4; i++) memory.write32(pdpt + i * 8, pd(i) | RAM_RIGHTS);
  let next = FIXED_TABLES * PAGE;
  const mixedSet = new Set(mixed);
  for (let big = 0; big < 2048; big++) {
    const pde = pd(big >>> 9) + (big & 511) * 8;
    const base = big * PAGES_PER_2M * PAGE;
    if (!mixedSet.has(big)) {
      const rights = rightsOf(kind[big * PAGES_PER_2M]);
      if (rights !== 0) memory.write32(pde, (base | rights | WB_LEAF | EPT_LARGE) >>> 0);
      continue;
    }
    const table = next;
    next += PAGE;
    memory.write32(pde, table | RAM_RIGHTS);
    for (let p = 0; p < PAGES_PER_2M; p++) {
      const rights = rightsOf(kind[big * PAGES_PER_2M + p]);
      if (rights !== 0) memory.write32(table + p * 8, ((base + p * PAGE) | rights | WB_LEAF) >>> 0);
    }
  }
  const msrBitmap = next;
  return { memory, eptPointer: pml4 | EPTP_WB | EPTP_WALK_4, msrBitmap, tables: FIXED_TABLES + mixed.length };
}
