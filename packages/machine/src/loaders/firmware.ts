import type { MemoryRegionSpec } from '@ringvisor/vmm-api';
import { resetEntry, type EntryState } from '../entry-state.js';
import { LoaderError } from '../loader-error.js';

const MiB = 1024 * 1024;
/** The largest firmware image that fits below 4 GiB without reaching the virtio-mmio window. */
const MAX_FIRMWARE_SIZE = 16 * MiB;
/** How much of the firmware's top is aliased below 1 MiB (the legacy E and F segments). */
const FIRMWARE_LOW_ALIAS = 128 * 1024;
const FOUR_GIB = 4 * 1024 * MiB;

/**
 * ROM regions for a firmware image (`--bios FILE`): the whole image ends at 4 GiB, where the reset
 * vector FFFFFFF0 lies, and its last 128 KiB (or all of a smaller image) also ends at 1 MiB so the
 * real-mode far jump from the reset vector into segment F000 finds the same code.
 */
export function firmwareRegions(rom: Uint8Array): MemoryRegionSpec[] {
  if (rom.length === 0 || rom.length > MAX_FIRMWARE_SIZE || rom.length % 4096 !== 0) {
    throw new LoaderError('firmware',
      `image size ${rom.length} must be a non-zero multiple of 4 KiB up to ${MAX_FIRMWARE_SIZE / MiB} MiB`);
  }
  const alias = Math.min(rom.length, FIRMWARE_LOW_ALIAS);
  return [
    { base: MiB - alias, size: alias, rom: rom.subarray(rom.length - alias) },
    { base: FOUR_GIB - rom.length, size: rom.length, rom },
  ];
}

/** The CPU state firmware starts from: RESET, executing at F000:FFF0 (physical FFFFFFF0). */
export function firmwareEntry(): EntryState {
  return resetEntry();
}
