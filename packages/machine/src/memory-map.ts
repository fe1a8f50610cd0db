import type { MemoryRegionSpec } from '@ringvisor/vmm-api';
import { LoaderError } from './loader-error.js';
import { firmwareRegions } from './loaders/firmware.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Conventional memory ends where the VGA window (0xA0000) begins. */
export const LOW_RAM_END = 0xa0000;
/** Extended memory starts above the 640 KiB–1 MiB hole (VGA, option ROMs, BIOS). */
export const HIGH_RAM_BASE = 0x100000;
/** RAM above this address moves to 4 GiB, leaving a hole for MMIO (virtio-mmio slots, firmware). */
export const PCI_HOLE_BASE = 0xc0000000;
export const FOUR_GIB = 4 * GiB;

/** Virtio-mmio slots: one 4 KiB window each, from this base, with the IRQs in VIRTIO_MMIO_IRQS. */
export const VIRTIO_MMIO_BASE = 0xd0000000;
export const VIRTIO_MMIO_SLOT_SIZE = 0x1000;
/**
 * ISA IRQs no board device uses (0 PIT, 1 i8042, 2 cascade, 3/4 COM, 8 RTC, 9 ACPI SCI, 12 mouse,
 * 13 FPU, 14 primary IDE). IRQ 15 (secondary IDE, absent here) takes the sixth slot, so the SCI
 * keeps the PC's usual IRQ 9 to itself: the 8259 lines are edge-triggered and cannot be shared.
 */
export const VIRTIO_MMIO_IRQS: readonly number[] = [5, 6, 7, 10, 11, 15];

const MIN_RAM = 64 * KiB;
/** Above this the emulated strategies cannot allocate a region; KVM could, but no guest needs it here. */
const MAX_RAM = 64 * GiB;

/**
 * One range of the guest-physical address space as firmware tables (e820, multiboot mmap) list it;
 * 'acpi' holds ACPI tables (e820 type 3; a consumer without that type lists it as reserved).
 */
export interface AddressRange {
  readonly base: number;
  readonly size: number;
  readonly type: 'ram' | 'reserved' | 'acpi';
}

export interface VirtioSlot {
  readonly index: number;
  readonly base: number;
  readonly size: number;
  readonly irq: number;
}

export interface MemoryMapOptions {
  /** Guest RAM in bytes, counted as address space: 640 KiB–1 MiB is lost to the hole, as on a PC. */
  readonly ramSize: number;
  /** Firmware ROM image (`--bios FILE`), mapped below 4 GiB with its top aliased below 1 MiB. */
  readonly firmware?: Uint8Array;
  /** Number of virtio-mmio slots to reserve. */
  readonly virtioSlots?: number;
}

/** The PC memory map: what goes into `VmSpec.regions` and what the guest is told about it. */
export interface MemoryMap {
  readonly regions: readonly MemoryRegionSpec[];
  /** RAM and reserved ranges in address order, for e820 and multiboot memory maps. */
  readonly ranges: readonly AddressRange[];
  /** One past the last byte of RAM below the PCI hole (where high loaders place initrds). */
  readonly lowRamEnd: number;
  /** Bytes of RAM below 4 GiB (what the CMOS memory-size bytes report). */
  readonly ramBelow4G: number;
  readonly virtio: readonly VirtioSlot[];
}

function checkRamSize(ramSize: number): void {
  if (!Number.isSafeInteger(ramSize) || ramSize < MIN_RAM || ramSize > MAX_RAM || ramSize % (4 * KiB) !== 0) {
    throw new LoaderError('memory-map',
      `RAM size ${ramSize} must be a multiple of 4 KiB between ${MIN_RAM / KiB} KiB and ${MAX_RAM / GiB} GiB`);
  }
}

/** Builds the memory map of a PC with `ramSize` bytes of RAM. */
export function pcMemoryMap(options: MemoryMapOptions): MemoryMap {
  const { ramSize, firmware } = options;
  checkRamSize(ramSize);
  const slotCount = options.virtioSlots ?? 0;
  if (!Number.isInteger(slotCount) || slotCount < 0 || slotCount > VIRTIO_MMIO_IRQS.length) {
    throw new LoaderError('memory-map', `at most ${VIRTIO_MMIO_IRQS.length} virtio-mmio slots (asked for ${slotCount})`);
  }
  const conventional = Math.min(ramSize, LOW_RAM_END);
  // Up to 1 MiB of RAM is all conventional memory (the hole takes the rest); above, it continues at 1 MiB.
  const lowRamEnd = ramSize > HIGH_RAM_BASE ? Math.min(ramSize, PCI_HOLE_BASE) : conventional;
  const highRam = Math.max(0, ramSize - PCI_HOLE_BASE);
  const ranges: AddressRange[] = [
    { base: 0, size: conventional, type: 'ram' },
    { base: LOW_RAM_END, size: HIGH_RAM_BASE - LOW_RAM_END, type: 'reserved' },
  ];
  const regions: MemoryRegionSpec[] = [{ base: 0, size: conventional }];
  if (lowRamEnd > HIGH_RAM_BASE) {
    ranges.push({ base: HIGH_RAM_BASE, size: lowRamEnd - HIGH_RAM_BASE, type: 'ram' });
    regions.push({ base: HIGH_RAM_BASE, size: lowRamEnd - HIGH_RAM_BASE });
  }
  if (highRam > 0) {
    regions.push({ base: FOUR_GIB, size: highRam });
  }
  if (firmware) {
    const [low, high] = firmwareRegions(firmware);
    regions.push(low, high);
    ranges.push({ base: high.base, size: high.size, type: 'reserved' });
  }
  if (highRam > 0) ranges.push({ base: FOUR_GIB, size: highRam, type: 'ram' });
  const virtio = Array.from({ length: slotCount }, (_, index): VirtioSlot => ({
    index, base: VIRTIO_MMIO_BASE + index * VIRTIO_MMIO_SLOT_SIZE, size: VIRTIO_MMIO_SLOT_SIZE,
    irq: VIRTIO_MMIO_IRQS[index],
  }));
  return { regions, ranges, lowRamEnd, ramBelow4G: ramSize - highRam, virtio };
}
