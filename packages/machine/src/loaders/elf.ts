import { LoaderError, hex } from '../loader-error.js';
import { ByteReader } from './byte-reader.js';

// ELF header fields (System V ABI; the Intel386 and AMD64 supplements give the machines).
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const E_TYPE = 16;
const E_MACHINE = 18;
const E_ENTRY = 24;
const ET_EXEC = 2;
const EM_386 = 3;
const EM_X86_64 = 62;
const PT_LOAD = 1;
/** More program headers than any kernel has; bounds the work a hostile header can ask for. */
const MAX_PHNUM = 64;

/** Where the two classes keep the fields this loader reads: words are 4 or 8 bytes. */
interface ElfLayout {
  readonly elfClass: number;
  readonly machine: number;
  readonly name: string;
  readonly phoff: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly phdrSize: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly paddr: number;
  readonly filesz: number;
  readonly memsz: number;
}

const ELF32: ElfLayout = {
  elfClass: ELFCLASS32, machine: EM_386, name: 'i386', phoff: 28, phentsize: 42, phnum: 44, phdrSize: 32,
  offset: 4, vaddr: 8, paddr: 12, filesz: 16, memsz: 20,
};
const ELF64: ElfLayout = {
  elfClass: ELFCLASS64, machine: EM_X86_64, name: 'x86-64', phoff: 32, phentsize: 54, phnum: 56, phdrSize: 56,
  offset: 8, vaddr: 16, paddr: 24, filesz: 32, memsz: 40,
};

/** One PT_LOAD segment: `fileSize` bytes from the file, then zeros up to `memSize`. */
export interface ElfSegment {
  readonly physicalAddress: number;
  /** In an ELF64 file a signed number: canonical addresses as the CPU holds linear ones (exact to 2^53). */
  readonly virtualAddress: number;
  readonly data: Uint8Array;
  readonly memSize: number;
}

export interface ElfImage {
  /** 32 for an i386 file, 64 for an x86-64 one. */
  readonly bits: 32 | 64;
  readonly entry: number;
  readonly segments: readonly ElfSegment[];
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** An address or size field: 64-bit ones must fit what a 32-bit physical load can reach. */
function word(reader: ByteReader, layout: ElfLayout, at: number, what: string): number {
  return layout === ELF32 ? reader.u32(at, what) : reader.u64(at, what);
}

/** A virtual address: an ELF64 one is read as signed, so higher-half addresses stay exact. */
function virtualWord(reader: ByteReader, layout: ElfLayout, at: number): number {
  if (layout === ELF32) return reader.u32(at, 'p_vaddr');
  reader.require(at, 8, 'p_vaddr');
  return Number(new DataView(reader.bytes.buffer, reader.bytes.byteOffset + at, 8).getBigInt64(0, true));
}

/** Parses an i386 ELF executable's loadable segments, checking every field against the file. */
export function parseElf32(bytes: Uint8Array): ElfImage {
  return parseElf(bytes, ELF32);
}

/**
 * An i386 or x86-64 ELF executable, by its class; an x86-64 one must be loadable below 4 GiB
 * (physical addresses, sizes and entry point), as a vmlinux's are.
 */
export function parseElfAny(bytes: Uint8Array): ElfImage {
  const reader = new ByteReader(bytes, 'elf');
  if (!isElf(bytes)) throw new LoaderError('elf', 'not an ELF file (bad magic)');
  return parseElf(bytes, reader.u8(EI_CLASS, 'ELF class') === ELFCLASS64 ? ELF64 : ELF32);
}

function parseElf(bytes: Uint8Array, layout: ElfLayout): ElfImage {
  const reader = new ByteReader(bytes, 'elf');
  if (!isElf(bytes)) throw new LoaderError('elf', 'not an ELF file (bad magic)');
  if (reader.u8(EI_CLASS, 'ELF class') !== layout.elfClass) throw new LoaderError('elf', `not a ${layout === ELF32 ? 32 : 64}-bit ELF file`);
  if (reader.u8(EI_DATA, 'ELF data encoding') !== ELFDATA2LSB) throw new LoaderError('elf', 'not a little-endian ELF file');
  if (reader.u16(E_TYPE, 'e_type') !== ET_EXEC) throw new LoaderError('elf', 'not an executable ELF file (e_type)');
  if (reader.u16(E_MACHINE, 'e_machine') !== layout.machine) throw new LoaderError('elf', `not an ${layout.name} ELF file (e_machine)`);
  const phoff = word(reader, layout, layout.phoff, 'e_phoff');
  const phentsize = reader.u16(layout.phentsize, 'e_phentsize');
  const phnum = reader.u16(layout.phnum, 'e_phnum');
  if (phentsize < layout.phdrSize) throw new LoaderError('elf', `program header size ${phentsize} is too small`);
  if (phnum === 0 || phnum > MAX_PHNUM) throw new LoaderError('elf', `program header count ${phnum} out of range 1..${MAX_PHNUM}`);
  reader.require(phoff, phnum * phentsize, 'program headers');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (reader.u32(at, 'p_type') !== PT_LOAD) continue;
    const offset = word(reader, layout, at + layout.offset, 'p_offset');
    const virtualAddress = virtualWord(reader, layout, at + layout.vaddr);
    const physicalAddress = word(reader, layout, at + layout.paddr, 'p_paddr');
    const fileSize = word(reader, layout, at + layout.filesz, 'p_filesz');
    const memSize = word(reader, layout, at + layout.memsz, 'p_memsz');
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
  const entry = word(reader, layout, E_ENTRY, 'e_entry');
  return { bits: layout === ELF32 ? 32 : 64, entry, segments };
}

/**
 * The physical address of a virtual entry point: a higher-half kernel links its entry at its
 * virtual address, but execution starts with paging off, so translate through its segment.
 */
export function physicalEntry(image: ElfImage): number {
  for (const segment of image.segments) {
    const { virtualAddress, physicalAddress, memSize } = segment;
    if (image.entry >= virtualAddress && image.entry < virtualAddress + memSize) {
      return physicalAddress + (image.entry - virtualAddress);
    }
  }
  return image.entry;
}
