import { LoaderError, hex } from '../loader-error.js';
import { ByteReader } from './byte-reader.js';

// ELF32 header offsets (System V ABI, Intel386 supplement).
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS32 = 1;
const ELFDATA2LSB = 1;
const E_TYPE = 16;
const E_MACHINE = 18;
const E_ENTRY = 24;
const E_PHOFF = 28;
const E_PHENTSIZE = 42;
const E_PHNUM = 44;
const ET_EXEC = 2;
const EM_386 = 3;
const PHDR_SIZE = 32;
const PT_LOAD = 1;
/** More program headers than any kernel has; bounds the work a hostile header can ask for. */
const MAX_PHNUM = 64;

/** One PT_LOAD segment: `fileSize` bytes from the file, then zeros up to `memSize`. */
export interface ElfSegment {
  readonly physicalAddress: number;
  readonly virtualAddress: number;
  readonly data: Uint8Array;
  readonly memSize: number;
}

export interface Elf32Image {
  readonly entry: number;
  readonly segments: readonly ElfSegment[];
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Parses an i386 ELF executable's loadable segments, checking every field against the file. */
export function parseElf32(bytes: Uint8Array): Elf32Image {
  const reader = new ByteReader(bytes, 'elf');
  if (!isElf(bytes)) throw new LoaderError('elf', 'not an ELF file (bad magic)');
  if (reader.u8(EI_CLASS, 'ELF class') !== ELFCLASS32) throw new LoaderError('elf', 'not a 32-bit ELF file');
  if (reader.u8(EI_DATA, 'ELF data encoding') !== ELFDATA2LSB) throw new LoaderError('elf', 'not a little-endian ELF file');
  if (reader.u16(E_TYPE, 'e_type') !== ET_EXEC) throw new LoaderError('elf', 'not an executable ELF file (e_type)');
  if (reader.u16(E_MACHINE, 'e_machine') !== EM_386) throw new LoaderError('elf', 'not an i386 ELF file (e_machine)');
  const phoff = reader.u32(E_PHOFF, 'e_phoff');
  const phentsize = reader.u16(E_PHENTSIZE, 'e_phentsize');
  const phnum = reader.u16(E_PHNUM, 'e_phnum');
  if (phentsize < PHDR_SIZE) throw new LoaderError('elf', `program header size ${phentsize} is too small`);
  if (phnum === 0 || phnum > MAX_PHNUM) throw new LoaderError('elf', `program header count ${phnum} out of range 1..${MAX_PHNUM}`);
  reader.require(phoff, phnum * phentsize, 'program headers');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (reader.u32(at, 'p_type') !== PT_LOAD) continue;
    const offset = reader.u32(at + 4, 'p_offset');
    const virtualAddress = reader.u32(at + 8, 'p_vaddr');
    const physicalAddress = reader.u32(at + 12, 'p_paddr');
    const fileSize = reader.u32(at + 16, 'p_filesz');
    const memSize = reader.u32(at + 20, 'p_memsz');
    if (fileSize > memSize) {
      throw new LoaderError('elf', `segment ${i} has p_filesz ${hex(fileSize)} larger than p_memsz ${hex(memSize)}`);
    }
    if (physicalAddress + memSize > 0x100000000) {
      throw new LoaderError('elf', `segment ${i} at ${hex(physicalAddress)} (${hex(memSize)} bytes) wraps past 4 GiB`);
    }
    const data = reader.slice(offset, fileSize, `segment ${i} data`);
    if (memSize > 0) segments.push({ physicalAddress, virtualAddress, data, memSize });
  }
  if (segments.length === 0) throw new LoaderError('elf', 'no loadable (PT_LOAD) segments');
  return { entry: reader.u32(E_ENTRY, 'e_entry'), segments };
}

/**
 * The physical address of a virtual entry point: a higher-half kernel links its entry at its
 * virtual address, but execution starts with paging off, so translate through its segment.
 */
export function physicalEntry(image: Elf32Image): number {
  for (const segment of image.segments) {
    const { virtualAddress, physicalAddress, memSize } = segment;
    if (image.entry >= virtualAddress && image.entry < virtualAddress + memSize) {
      return physicalAddress + (image.entry - virtualAddress);
    }
  }
  return image.entry;
}
