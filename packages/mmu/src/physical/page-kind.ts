/** Guest-physical pages are 4 KiB; the kind table has one byte per page below 4 GiB. */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = PAGE_SIZE - 1;
/** Pages below 4 GiB (the kind table's length). Addresses at or above 4 GiB are unmapped. */
export const PAGE_COUNT = 1 << 20;
/** 2^32: the first address the kind table does not cover. */
export const FOUR_GIB = 0x1_0000_0000;

// Values of `PhysicalMemory.kind[page]`. Ordered so that the CPU's fast paths are one compare:
// a read may go straight to `ram` when `kind <= KIND_RAM_CODE`, a write only when `kind === KIND_RAM`.
/** RAM: `ram[address]` is the byte. */
export const KIND_RAM = 0;
/** RAM holding code the CPU has cached: read directly, but write through `PhysicalMemory`. */
export const KIND_RAM_CODE = 1;
/** ROM: reads return the image, writes are dropped. */
export const KIND_ROM = 2;
/** A registered MMIO window: accesses call its handler. */
export const KIND_MMIO = 3;
/** Nothing here: accesses go to the fallback MMIO bus, or read all ones and drop writes. */
export const KIND_UNMAPPED = 4;
