import type { AddressRange } from '../../memory-map.js';
import type { GuestWriter } from '../guest-writer.js';
import {
  CAN_USE_HEAP, HDR_CMD_LINE_PTR, HDR_CODE32_START, HDR_HEAP_END_PTR, HDR_LOADFLAGS, HDR_RAMDISK_IMAGE,
  HDR_RAMDISK_SIZE, HDR_START, HDR_TYPE_OF_LOADER, LOADED_HIGH, type SetupHeader,
} from './setup-header.js';

/** boot_params ("zero page"), 4 KiB; fields outside the setup header (boot.rst, zero-page.rst). */
export const BOOT_PARAMS_SIZE = 4096;
const E820_ENTRIES = 0x1e8;
const E820_TABLE = 0x2d0;
const E820_ENTRY_SIZE = 20;
const E820_MAX_ENTRIES = 128;
const E820_RAM = 1;
const E820_RESERVED = 2;
const E820_ACPI = 3;
const E820_TYPES = { ram: E820_RAM, reserved: E820_RESERVED, acpi: E820_ACPI } as const;
/** acpi_rsdp_addr (u64): where the kernel finds the RSDP without scanning (zero-page.rst, Linux 5.0+). */
const ACPI_RSDP_ADDR = 0x070;
/** "Undefined" boot loader ID: we are not one of the registered loaders. */
const LOADER_UNDEFINED = 0xff;
/** End of the (unused) real-mode heap relative to the setup code, minus 0x200 as boot.rst asks. */
const HEAP_END_PTR = 0xe000 - 0x200;

export interface BootParamsInput {
  readonly header: SetupHeader;
  /** code32_start: where the 32-bit kernel begins (a bzImage's load address, a vmlinux's startup_32). */
  readonly code32Start: number;
  readonly cmdlineAddress: number;
  readonly ramdisk: { readonly address: number; readonly size: number } | null;
  readonly ranges: readonly AddressRange[];
  /** Guest-physical address of the RSDP, or null when the machine has no ACPI tables. */
  readonly acpiRsdp: number | null;
}

/** Writes the zero page at `address`: the image's setup header plus what the loader fills in. */
export function writeBootParams(writer: GuestWriter, address: number, input: BootParamsInput): void {
  const what = 'boot_params';
  writer.zeros(address, BOOT_PARAMS_SIZE, what);
  writer.bytes(address + HDR_START, input.header.bytes, what);
  writer.u8(address + HDR_TYPE_OF_LOADER, LOADER_UNDEFINED, what);
  writer.u8(address + HDR_LOADFLAGS, input.header.loadflags | LOADED_HIGH | CAN_USE_HEAP, what);
  writer.u16(address + HDR_HEAP_END_PTR, HEAP_END_PTR, what);
  writer.u32(address + HDR_CODE32_START, input.code32Start, what);
  writer.u32(address + HDR_CMD_LINE_PTR, input.cmdlineAddress, what);
  writer.u32(address + HDR_RAMDISK_IMAGE, input.ramdisk?.address ?? 0, what);
  writer.u32(address + HDR_RAMDISK_SIZE, input.ramdisk?.size ?? 0, what);
  if (input.acpiRsdp !== null) writer.u64(address + ACPI_RSDP_ADDR, input.acpiRsdp, what);

  const ranges = input.ranges.slice(0, E820_MAX_ENTRIES);
  writer.u8(address + E820_ENTRIES, ranges.length, what);
  ranges.forEach((range, index) => {
    const entry = address + E820_TABLE + index * E820_ENTRY_SIZE;
    writer.u64(entry, range.base, 'e820 table');
    writer.u64(entry + 8, range.size, 'e820 table');
    writer.u32(entry + 16, E820_TYPES[range.type], 'e820 table');
  });
}
