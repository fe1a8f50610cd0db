// Loading a domain's boot image into its RAM (through the p2m) with @ringvisor/machine's loaders.
import { readFileSync } from 'node:fs';
import { GUESTS, readGuestImage, type GuestName } from '@ringvisor/guests';
import { loadFlatBinary, loadLinux, loadMultiboot, type EntryState, type PcBoard } from '@ringvisor/machine';
import type { GuestMemory } from '@ringvisor/vmm-api';
import type { DomainBoot } from './platform/schema.js';

/** Where the compute guest loads and counts its rounds (see guests/compute.S). */
export const COMPUTE_LOAD_ADDRESS = 0x100000;
export const COMPUTE_COUNTER_ADDRESS = 0x101000;

let computeImage: Uint8Array | null = null;

/** The compute guest's flat image, shipped in this package's guests/ folder. */
export function readComputeGuest(): Uint8Array {
  computeImage ??= new Uint8Array(readFileSync(new URL('../guests/compute.bin', import.meta.url)));
  return computeImage;
}

/** A para-virtual domain's initrd (the domain builder loads it after the kernel), or null. */
export function pvInitrdOf(boot: DomainBoot): Uint8Array | null {
  return boot.kind === 'pv' && boot.initrd !== undefined ? new Uint8Array(readFileSync(boot.initrd)) : null;
}

/** A para-virtual domain's kernel, or null when the boot image is not one (the pCPU's domain builder loads it). */
export function pvKernelOf(boot: DomainBoot): Uint8Array | null {
  if (boot.kind === 'pv') return new Uint8Array(readFileSync(boot.kernel));
  if (boot.kind === 'guest' && GUESTS[boot.name as GuestName].format.kind === 'xen-pv') return readGuestImage(boot.name as GuestName);
  return null;
}

export function loadBootImage(board: PcBoard, memory: GuestMemory, boot: DomainBoot): EntryState {
  switch (boot.kind) {
    case 'compute':
      return loadFlatBinary(memory, readComputeGuest(), { address: COMPUTE_LOAD_ADDRESS, mode: 'protected' });
    case 'guest': {
      const guest = GUESTS[boot.name as GuestName];
      const image = readGuestImage(guest.name);
      if (guest.format.kind === 'multiboot') return loadMultiboot(memory, image, { memoryMap: board.memoryMap, bootLoaderName: 'ringvisor type1' });
      if (guest.format.kind === 'flat') return loadFlatBinary(memory, image, { address: guest.format.loadAddress, mode: guest.format.mode });
      // xen-pv guests never get here (pvKernelOf); firmware images are refused by validation.
      throw new Error(`bundled guest '${boot.name}' (${guest.format.kind}) is not a domain boot image here`);
    }
    case 'flat': {
      const image = new Uint8Array(readFileSync(boot.file));
      // Below 1 MiB a boot-sector-style real-mode start, above it 32-bit protected mode (as `ringvisor run --flat`).
      const mode = boot.address + image.length <= 0x100000 ? 'real' : 'protected';
      return loadFlatBinary(memory, image, { address: boot.address, mode });
    }
    case 'linux':
      return loadLinux(memory, readFileSync(boot.kernel), {
        memoryMap: board.memoryMap, cmdline: boot.cmdline, acpi: board.acpi,
        ...(boot.initrd !== undefined ? { initrd: readFileSync(boot.initrd) } : {}),
      });
    case 'pv':
      throw new Error('a PV kernel is loaded by strategy para\'s domain builder on a pCPU (pvKernelOf)');
  }
}
