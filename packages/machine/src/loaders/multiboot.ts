import type { GuestMemory } from '@ringvisor/vmm-api';
import { protectedModeEntry, type EntryState } from '../entry-state.js';
import { LoaderError, hex } from '../loader-error.js';
import type { MemoryMap } from '../memory-map.js';
import { BOOT_CS, BOOT_DS, overlapsBootGdt, writeBootGdt } from './boot-gdt.js';
import { isElf, parseElf32, physicalEntry } from './elf.js';
import { GuestWriter } from './guest-writer.js';
import { pageAlignUp } from './page.js';
import { findMultibootHeader, type MultibootAddresses } from './multiboot-header.js';
import { writeMultibootInfo, multibootInfoSize, type LoadedModule } from './multiboot-info.js';

/** EAX at entry tells the kernel a multiboot loader started it (spec §3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

export interface MultibootModule {
  readonly data: Uint8Array;
  /** The module's string (by convention its path and arguments). */
  readonly cmdline?: string;
}

export interface MultibootOptions {
  readonly memoryMap: Pick<MemoryMap, 'ranges' | 'lowRamEnd'>;
  readonly cmdline?: string;
  readonly modules?: readonly MultibootModule[];
  readonly bootLoaderName?: string;
}

/** Where a kernel image goes, worked out and checked before anything is written to guest RAM. */
interface KernelPlan {
  readonly entry: number;
  readonly start: number;
  readonly end: number;
  /** Copies the image and zeroes its bss. */
  write(writer: GuestWriter): void;
}

function checkBelowRamEnd(end: number, lowRamEnd: number, what: string): void {
  if (end > lowRamEnd) throw new LoaderError('multiboot', `${what} ends at ${hex(end)}, beyond RAM (${hex(lowRamEnd)})`);
}

function planAout(image: Uint8Array, headerOffset: number, fields: MultibootAddresses): KernelPlan {
  const { headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr } = fields;
  if (loadAddr > headerAddr) throw new LoaderError('multiboot', `load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  const fileOffset = headerOffset - (headerAddr - loadAddr);
  if (fileOffset < 0) throw new LoaderError('multiboot', `header_addr ${hex(headerAddr)} places the load before the file start`);
  const loadSize = loadEndAddr === 0 ? image.length - fileOffset : loadEndAddr - loadAddr;
  if (loadSize < 0 || fileOffset + loadSize > image.length) {
    throw new LoaderError('multiboot', `load_end_addr ${hex(loadEndAddr)} is outside the file`);
  }
  const end = bssEndAddr === 0 ? loadAddr + loadSize : bssEndAddr;
  if (end < loadAddr + loadSize) throw new LoaderError('multiboot', `bss_end_addr ${hex(bssEndAddr)} is below load_end_addr`);
  if (entryAddr < loadAddr || entryAddr >= end) {
    throw new LoaderError('multiboot', `entry_addr ${hex(entryAddr)} is outside the loaded image ${hex(loadAddr)}..${hex(end)}`);
  }
  return {
    entry: entryAddr, start: loadAddr, end,
    write: (writer) => {
      writer.bytes(loadAddr, image.subarray(fileOffset, fileOffset + loadSize), 'kernel image');
      writer.zeros(loadAddr + loadSize, end - loadAddr - loadSize, 'kernel bss');
    },
  };
}

function planElf(image: Uint8Array): KernelPlan {
  const elf = parseElf32(image);
  let start = Number.MAX_SAFE_INTEGER;
  let end = 0;
  for (const segment of elf.segments) {
    start = Math.min(start, segment.physicalAddress);
    end = Math.max(end, segment.physicalAddress + segment.memSize);
  }
  return {
    entry: physicalEntry(elf), start, end,
    write: (writer) => elf.segments.forEach((segment, index) => {
      const what = `ELF segment ${index}`;
      writer.bytes(segment.physicalAddress, segment.data, what);
      writer.zeros(segment.physicalAddress + segment.data.length, segment.memSize - segment.data.length, `${what} bss`);
    }),
  };
}

/**
 * Loads a multiboot v1 kernel (ELF32, or any format through the header's address fields), its
 * modules, and the boot information block, and returns the entry state of spec §3.2: flat
 * protected mode, paging and interrupts off, EAX = 0x2BADB002, EBX = the info block.
 */
export function loadMultiboot(memory: GuestMemory, image: Uint8Array, options: MultibootOptions): EntryState {
  const writer = new GuestWriter(memory, 'multiboot');
  const header = findMultibootHeader(image);
  if (header === null) throw new LoaderError('multiboot', 'no multiboot header in the first 8 KiB');
  if (header.addresses === undefined && !isElf(image)) {
    throw new LoaderError('multiboot', 'image is not ELF and its header has no address fields (flag 16)');
  }
  const { lowRamEnd } = options.memoryMap;
  const kernel = header.addresses ? planAout(image, header.offset, header.addresses) : planElf(image);
  // Checked before writing, so a bss of gigabytes is refused at once rather than after zeroing RAM.
  if (kernel.end > lowRamEnd) {
    throw new LoaderError('multiboot',
      `kernel at ${hex(kernel.start)}..${hex(kernel.end)} is outside guest RAM (it ends at ${hex(lowRamEnd)})`);
  }
  if (overlapsBootGdt(kernel.start, kernel.end - kernel.start)) {
    throw new LoaderError('multiboot', `kernel at ${hex(kernel.start)} overlaps the boot GDT`);
  }
  kernel.write(writer);

  // Modules and the info block go after the kernel, page-aligned, where nothing else lives.
  let cursor = pageAlignUp(kernel.end);
  const modules: LoadedModule[] = (options.modules ?? []).map((module, index) => {
    const start = cursor;
    checkBelowRamEnd(start + module.data.length, lowRamEnd, `module ${index}`);
    writer.bytes(start, module.data, `module ${index}`);
    cursor = pageAlignUp(start + module.data.length);
    return { start, end: start + module.data.length, cmdline: module.cmdline ?? '' };
  });
  const info = {
    ranges: options.memoryMap.ranges, lowRamEnd, modules,
    cmdline: options.cmdline ?? '', bootLoaderName: options.bootLoaderName ?? 'Ringvisor',
  };
  checkBelowRamEnd(cursor + multibootInfoSize(info), lowRamEnd, 'multiboot info');
  writeMultibootInfo(writer, cursor, info);

  const state = protectedModeEntry(kernel.entry, BOOT_CS, BOOT_DS, writeBootGdt(writer, 'code32'));
  return { regs: { ...state.regs, eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: cursor }, sregs: state.sregs };
}
