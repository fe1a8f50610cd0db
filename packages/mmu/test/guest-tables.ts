// What a guest kernel does before enabling paging: allocate page-table frames in its RAM and fill
// in entries. Tests build real tables with these and then translate through them.
import { PTE_P, PTE_PS, PTE_RW, PTE_US, type PhysicalMemory } from '../src/index.js';

/** Directory entries made by `map` allow everything, so the PTE alone decides unless a test says otherwise. */
const OPEN_DIRECTORY = PTE_P | PTE_RW | PTE_US;

/** 32-bit paging tables: a page directory at `cr3`, page tables allocated from `nextFrame` upwards. */
export class Tables32 {
  constructor(private readonly mem: PhysicalMemory, readonly cr3: number, private nextFrame: number) {}

  pdeAddress(linear: number): number {
    return this.cr3 + (linear >>> 22) * 4;
  }

  pteAddress(linear: number): number {
    const pde = this.mem.read32(this.pdeAddress(linear));
    return (pde & 0xfffff000) + ((linear >>> 12) & 0x3ff) * 4;
  }

  /** Maps the 4 KiB page at `linear` to `physical` with PTE `flags`; `pdeFlags` for a new directory entry. */
  map(linear: number, physical: number, flags: number, pdeFlags = OPEN_DIRECTORY): void {
    const pdeAddress = this.pdeAddress(linear);
    if ((this.mem.read32(pdeAddress) & PTE_P) === 0) {
      this.mem.write32(pdeAddress, this.nextFrame | pdeFlags);
      this.nextFrame += 0x1000;
    }
    this.mem.write32(this.pteAddress(linear), (physical | flags) >>> 0);
  }

  /** A 4 MiB page (needs CR4.PSE); `entry` supplies any extra bits such as PSE-36 high bits. */
  mapLarge(linear: number, physical: number, flags: number): void {
    this.mem.write32(this.pdeAddress(linear), (physical | flags | PTE_PS) >>> 0);
  }

  pte(linear: number): number {
    return this.mem.read32(this.pteAddress(linear));
  }

  pde(linear: number): number {
    return this.mem.read32(this.pdeAddress(linear));
  }
}

/** PAE tables: a 32-byte PDPT at `cr3`, directories and tables allocated from `nextFrame` upwards. */
export class TablesPae {
  constructor(private readonly mem: PhysicalMemory, readonly cr3: number, private nextFrame: number) {}

  pdpteAddress(linear: number): number {
    return this.cr3 + (linear >>> 30) * 8;
  }

  pdeAddress(linear: number): number {
    return this.tableBase(this.pdpteAddress(linear), PTE_P) + ((linear >>> 21) & 0x1ff) * 8;
  }

  pteAddress(linear: number): number {
    return this.tableBase(this.pdeAddress(linear), OPEN_DIRECTORY) + ((linear >>> 12) & 0x1ff) * 8;
  }

  /** Maps a 4 KiB page; `high` is the entry's upper dword (XD, physical bits 32+). */
  map(linear: number, physical: number, flags: number, high = 0): void {
    this.write64(this.pteAddress(linear), (physical | flags) >>> 0, high);
  }

  /** A 2 MiB page. */
  mapLarge(linear: number, physical: number, flags: number, high = 0): void {
    this.write64(this.pdeAddress(linear), (physical | flags | PTE_PS) >>> 0, high);
  }

  /** Writes a directory entry's upper dword (to set XD or reserved bits on it). */
  setDirectoryHigh(linear: number, high: number): void {
    this.mem.write32(this.pdeAddress(linear) + 4, high);
  }

  write64(address: number, low: number, high: number): void {
    this.mem.write32(address, low);
    this.mem.write32(address + 4, high);
  }

  /** Address of the next-level table an entry points to, allocating it if the entry is empty. */
  private tableBase(entryAddress: number, flags: number): number {
    let low = this.mem.read32(entryAddress);
    if ((low & PTE_P) === 0) {
      low = this.nextFrame | flags;
      this.nextFrame += 0x1000;
      this.write64(entryAddress, low, 0);
    }
    return low & 0xfffff000;
  }
}
