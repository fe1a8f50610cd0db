/**
 * Guest-physical memory as loaders and DMA-capable devices see it. Addresses are guest-physical;
 * every method checks bounds itself, because the address usually comes from the guest.
 */
export interface GuestMemory {
  /** One past the highest guest-physical address backed by RAM. */
  readonly ramEnd: number;
  read8(address: number): number;
  read16(address: number): number;
  read32(address: number): number;
  write8(address: number, value: number): void;
  write16(address: number, value: number): void;
  write32(address: number, value: number): void;
  /** Copies guest RAM into `into`. False (and nothing copied) unless the whole range is RAM. */
  readBytes(address: number, into: Uint8Array): boolean;
  /** Copies `from` into guest RAM. False (and nothing written) unless the whole range is RAM. */
  writeBytes(address: number, from: Uint8Array): boolean;
  /**
   * A zero-copy view of guest RAM for DMA, or null unless `[address, address+length)` lies inside
   * one RAM region. Writes through the view must be followed by `notifyWrite` for the same range
   * so that an emulated CPU can drop decoded code it caches for those bytes.
   */
  view(address: number, length: number): Uint8Array | null;
  notifyWrite(address: number, length: number): void;
}

/** One RAM or ROM region of a VM's guest-physical address space. */
export interface MemoryRegionSpec {
  readonly base: number;
  readonly size: number;
  /** Contents for ROM (read-only to the guest); RAM starts zeroed. */
  readonly rom?: Uint8Array;
}
