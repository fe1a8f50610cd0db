import { flatDescriptor } from '../entry-state.js';
import type { GuestWriter } from './guest-writer.js';

/** Where loaders that enter protected mode put their GDT (free low memory, below any zero page). */
export const BOOT_GDT_ADDRESS = 0x500;
/** Linux's __BOOT_CS and __BOOT_DS; multiboot and flat 32-bit guests get the same layout. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
const BOOT_GDT_ENTRIES = 4;

/** Writes null, null, flat code (32- or 64-bit) at BOOT_CS, flat data at BOOT_DS; returns GDTR. */
export function writeBootGdt(writer: GuestWriter, code: 'code32' | 'code64'): { base: number; limit: number } {
  const entries = [0n, 0n, flatDescriptor(code), flatDescriptor('data')];
  entries.forEach((descriptor, index) => {
    const address = BOOT_GDT_ADDRESS + index * 8;
    writer.u32(address, Number(descriptor & 0xffffffffn), 'boot GDT');
    writer.u32(address + 4, Number(descriptor >> 32n), 'boot GDT');
  });
  return { base: BOOT_GDT_ADDRESS, limit: BOOT_GDT_ENTRIES * 8 - 1 };
}

/** True when `[address, address + size)` overlaps the boot GDT. */
export function overlapsBootGdt(address: number, size: number): boolean {
  return address < BOOT_GDT_ADDRESS + BOOT_GDT_ENTRIES * 8 && BOOT_GDT_ADDRESS < address + size;
}
