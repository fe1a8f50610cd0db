import type { MemoryRegionSpec, MmioHandler } from '@ringvisor/vmm-api';
import { FOUR_GIB, KIND_MMIO, KIND_RAM, KIND_ROM, PAGE_MASK } from './page-kind.js';

/** One past the highest physical address any x86 MAXPHYADDR (52 bits) reaches. */
export const MAX_PHYSICAL = 2 ** 52;

/** One entry of the physical map. `data` holds a ROM image; `handler` serves an MMIO window. */
export interface Region {
  readonly kind: typeof KIND_RAM | typeof KIND_ROM | typeof KIND_MMIO;
  readonly base: number;
  readonly size: number;
  readonly data: Uint8Array | null;
  readonly handler: MmioHandler | null;
}

/**
 * Checks a region's placement. Layout comes from the host's configuration, not the guest, so a bad
 * one is a programming error and throws.
 */
export function checkPlacement(what: string, base: number, size: number, top = FOUR_GIB): void {
  if (!Number.isInteger(base) || !Number.isInteger(size) || base < 0 || size <= 0) {
    throw new RangeError(`${what}: base ${base} and size ${size} must be non-negative integers, size > 0`);
  }
  if ((base & PAGE_MASK) !== 0 || (size & PAGE_MASK) !== 0) {
    throw new RangeError(`${what}: base 0x${base.toString(16)} and size 0x${size.toString(16)} must be 4 KiB multiples`);
  }
  if (base + size > top) {
    throw new RangeError(`${what}: 0x${base.toString(16)}+0x${size.toString(16)} ends above 0x${top.toString(16)}`);
  }
  if (base < FOUR_GIB && base + size > FOUR_GIB) {
    throw new RangeError(`${what}: 0x${base.toString(16)}+0x${size.toString(16)} crosses 4 GiB`);
  }
}

/** Builds a RAM or ROM region from the vmm-api spec. A short ROM image is padded with 0xff (erased flash). */
export function regionFromSpec(spec: MemoryRegionSpec): Region {
  const { base, size, rom } = spec;
  // RAM may lie above 4 GiB, up to what physical addresses reach (52 bits, the widest MAXPHYADDR).
  checkPlacement(rom ? 'ROM region' : 'RAM region', base, size, rom ? FOUR_GIB : MAX_PHYSICAL);
  if (!rom) return { kind: KIND_RAM, base, size, data: null, handler: null };
  if (rom.length > size) {
    throw new RangeError(`ROM region at 0x${base.toString(16)}: image of ${rom.length} bytes exceeds size ${size}`);
  }
  const data = new Uint8Array(size).fill(0xff);
  data.set(rom);
  return { kind: KIND_ROM, base, size, data, handler: null };
}

export function overlaps(a: Region, base: number, size: number): boolean {
  return base < a.base + a.size && a.base < base + size;
}
