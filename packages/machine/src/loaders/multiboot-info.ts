import type { AddressRange } from '../memory-map.js';
import type { GuestWriter } from './guest-writer.js';

// Multiboot Specification 0.6.96, §3.3 (boot information format): field offsets and flag bits.
const INFO_SIZE = 120;
const INFO_MEMORY = 1 << 0;
const INFO_CMDLINE = 1 << 2;
const INFO_MODULES = 1 << 3;
const INFO_MEMORY_MAP = 1 << 6;
const INFO_BOOT_LOADER_NAME = 1 << 9;
const OFF_FLAGS = 0;
const OFF_MEM_LOWER = 4;
const OFF_MEM_UPPER = 8;
const OFF_CMDLINE = 16;
const OFF_MODS_COUNT = 20;
const OFF_MODS_ADDR = 24;
const OFF_MMAP_LENGTH = 44;
const OFF_MMAP_ADDR = 48;
const OFF_BOOT_LOADER_NAME = 64;
/** Each mmap entry: u32 size (20, excluding itself), u64 base_addr, u64 length, u32 type. */
const MMAP_ENTRY_SIZE = 24;
const MMAP_TYPE_RAM = 1;
const MMAP_TYPE_RESERVED = 2;
/** Each module entry: mod_start, mod_end, string, reserved. */
const MODULE_ENTRY_SIZE = 16;

export interface LoadedModule {
  readonly start: number;
  readonly end: number;
  readonly cmdline: string;
}

export interface MultibootInfoInput {
  readonly ranges: readonly AddressRange[];
  readonly lowRamEnd: number;
  readonly cmdline: string;
  readonly bootLoaderName: string;
  readonly modules: readonly LoadedModule[];
}

/** Bytes the info block needs: struct, memory map, module list and the strings they point to. */
export function multibootInfoSize(input: MultibootInfoInput): number {
  const strings = input.cmdline.length + 1 + input.bootLoaderName.length + 1
    + input.modules.reduce((sum, module) => sum + module.cmdline.length + 1, 0);
  return INFO_SIZE + input.ranges.length * MMAP_ENTRY_SIZE + input.modules.length * MODULE_ENTRY_SIZE + strings;
}

/** Writes the boot information block at `address`; the kernel receives `address` in EBX. */
export function writeMultibootInfo(writer: GuestWriter, address: number, input: MultibootInfoInput): void {
  writer.zeros(address, INFO_SIZE, 'multiboot info');
  let cursor = address + INFO_SIZE;

  const mmapAddress = cursor;
  for (const range of input.ranges) {
    writer.u32(cursor, MMAP_ENTRY_SIZE - 4, 'multiboot memory map');
    writer.u64(cursor + 4, range.base, 'multiboot memory map');
    writer.u64(cursor + 12, range.size, 'multiboot memory map');
    writer.u32(cursor + 20, range.type === 'ram' ? MMAP_TYPE_RAM : MMAP_TYPE_RESERVED, 'multiboot memory map');
    cursor += MMAP_ENTRY_SIZE;
  }

  const modulesAddress = cursor;
  cursor += input.modules.length * MODULE_ENTRY_SIZE;
  input.modules.forEach((module, index) => {
    const entry = modulesAddress + index * MODULE_ENTRY_SIZE;
    writer.u32(entry, module.start, 'multiboot module list');
    writer.u32(entry + 4, module.end, 'multiboot module list');
    writer.u32(entry + 8, cursor, 'multiboot module list');
    writer.u32(entry + 12, 0, 'multiboot module list');
    cursor += writer.cString(cursor, module.cmdline, 'module string');
  });

  const cmdlineAddress = cursor;
  cursor += writer.cString(cursor, input.cmdline, 'command line');
  const nameAddress = cursor;
  writer.cString(cursor, input.bootLoaderName, 'boot loader name');

  let flags = INFO_MEMORY | INFO_CMDLINE | INFO_MEMORY_MAP | INFO_BOOT_LOADER_NAME;
  const lowRam = input.ranges.find((range) => range.type === 'ram' && range.base === 0);
  writer.u32(address + OFF_MEM_LOWER, Math.floor((lowRam?.size ?? 0) / 1024), 'multiboot info');
  writer.u32(address + OFF_MEM_UPPER, Math.floor(Math.max(0, input.lowRamEnd - 0x100000) / 1024), 'multiboot info');
  writer.u32(address + OFF_CMDLINE, cmdlineAddress, 'multiboot info');
  writer.u32(address + OFF_MMAP_LENGTH, input.ranges.length * MMAP_ENTRY_SIZE, 'multiboot info');
  writer.u32(address + OFF_MMAP_ADDR, mmapAddress, 'multiboot info');
  writer.u32(address + OFF_BOOT_LOADER_NAME, nameAddress, 'multiboot info');
  if (input.modules.length > 0) {
    flags |= INFO_MODULES;
    writer.u32(address + OFF_MODS_COUNT, input.modules.length, 'multiboot info');
    writer.u32(address + OFF_MODS_ADDR, modulesAddress, 'multiboot info');
  }
  writer.u32(address + OFF_FLAGS, flags, 'multiboot info');
}
