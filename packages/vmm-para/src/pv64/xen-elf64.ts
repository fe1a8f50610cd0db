// A 64-bit PV kernel image: ELF64 (x86-64, executable) with Xen's notes, read as Xen's libelf
// reads it (elf_xen_parse, elf_xen_note_check, elf_xen_addr_calc_check): segments are placed by
// p_paddr at virt_base - paddr_offset, the entry and the INIT_P2M base must fall where Xen allows,
// and every feature the kernel marks required ('!name') must be one this hypervisor supports.
// Every field is bounds-checked: the image comes from the user. Addresses are canonical signed
// numbers (-2^47..2^47), as x86-core's long mode keeps them.
import { XenElfError, readNotes } from '../xen-elf.js';
import { HYPERVISOR_VIRT_END } from './abi.js';

/** Xen ELF note types (elfnote.h). */
export const XEN_ELFNOTE_64 = {
  ENTRY: 1, HYPERCALL_PAGE: 2, VIRT_BASE: 3, PADDR_OFFSET: 4, XEN_VERSION: 5, GUEST_OS: 6, GUEST_VERSION: 7,
  LOADER: 8, PAE_MODE: 9, FEATURES: 10, HV_START_LOW: 12, INIT_P2M: 15, MOD_START_PFN: 16, SUPPORTED_FEATURES: 17,
} as const;

/** Feature names by XENFEAT_* number (features.h), as the FEATURES note spells them. */
export const XEN_FEATURE_NAMES: readonly string[] = [
  'writable_page_tables', 'writable_descriptor_tables', 'auto_translated_physmap', 'supervisor_mode_kernel',
  'pae_pgdir_above_4gb', 'mmu_pt_update_preserve_ad', 'highmem_assist', 'gnttab_map_avail_bits',
  'hvm_callback_vector', 'hvm_safe_pvclock', 'hvm_pirqs', 'dom0',
];
/**
 * The features this hypervisor gives a 64-bit PV guest (XENVER_get_features): page tables anywhere
 * in machine memory, MMU_PT_UPDATE_PRESERVE_AD, and writable page tables (Xen's ptwr assist, which
 * Linux marks required).
 */
export const SUPPORTED_FEATURES_64 = (1 << 0) | (1 << 4) | (1 << 5);

export interface XenElf64Segment {
  /** Bytes from the kernel's first loaded byte (p_paddr - the lowest p_paddr). */
  readonly offset: number;
  readonly memSize: number;
  /** The file bytes (memSize - data.length zeros follow). */
  readonly data: Uint8Array;
}

export interface XenElf64Image {
  readonly entry: number;
  readonly virtBase: number;
  /** virt_kstart..virt_kend: where the segments land (p_paddr + virt_base - paddr_offset). */
  readonly kernelStart: number;
  readonly kernelEnd: number;
  readonly hypercallPage: number | null;
  /** INIT_P2M: where the builder maps the p2m list outside the kernel mapping; null: after the kernel. */
  readonly p2mBase: number | null;
  readonly hvStartLow: number | null;
  readonly guestOs: string;
  readonly loader: string;
  readonly xenVersion: string;
  /** XENFEAT bits the kernel supports and requires (bit n: XEN_FEATURE_NAMES[n]). */
  readonly featuresSupported: number;
  readonly featuresRequired: number;
  readonly modStartPfn: boolean;
  readonly segments: readonly XenElf64Segment[];
}

const PT_LOAD = 1;
const PT_NOTE = 4;
const EM_X86_64 = 62;
const ET_EXEC = 2;
/** The loaded span a kernel may claim: far more than any domain here has, far less than 2^53. */
const MAX_KERNEL_SPAN = 2 ** 32;

/** The canonical signed number for a 64-bit address, or a one-line error naming `what`. */
export function canonicalAddress(value: bigint, what: string): number {
  const signed = BigInt.asIntN(64, value);
  if (signed < -(2n ** 47n) || signed >= 2n ** 47n) throw new XenElfError(`${what} 0x${BigInt.asUintN(64, value).toString(16)} is not a canonical address`);
  return Number(signed);
}

const hex = (v: number) => (v < 0 ? BigInt.asUintN(64, BigInt(v)) : BigInt(v)).toString(16);

/** True when `image` starts as an ELF64 file (the x86-64 PV builder's input, not the x86-32 one's). */
export function isElf64(image: Uint8Array): boolean {
  return image.length >= 5 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46 && image[4] === 2;
}

/** Parses the image; throws XenElfError (one line) for what cannot be booted as an x86-64 PV kernel. */
export function parseXenElf64(image: Uint8Array): XenElf64Image {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const need = (offset: bigint | number, length: bigint | number, what: string) => {
    if (BigInt(offset) + BigInt(length) > BigInt(image.length)) throw new XenElfError(`truncated ELF: ${what} lies outside the file`);
  };
  need(0, 64, 'the ELF header');
  if (view.getUint32(0, false) !== 0x7f454c46) throw new XenElfError('not an ELF image');
  if (image[4] !== 2 || image[5] !== 1) throw new XenElfError('not a little-endian ELF64 image (x86-64 PV needs one)');
  if (view.getUint16(16, true) !== ET_EXEC) throw new XenElfError('not an executable ELF image');
  if (view.getUint16(18, true) !== EM_X86_64) throw new XenElfError('not an x86-64 ELF image');
  const elfEntry = view.getBigUint64(24, true);
  const phoff = view.getBigUint64(32, true);
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phentsize < 56) throw new XenElfError('bad program header size');
  need(phoff, phnum * phentsize, 'the program headers');
  const notes = new Map<number, Uint8Array>();
  const loads: { paddr: bigint; memSize: bigint; data: Uint8Array }[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = Number(phoff) + i * phentsize;
    const type = view.getUint32(ph, true);
    const offset = view.getBigUint64(ph + 8, true);
    const paddr = view.getBigUint64(ph + 24, true);
    const fileSize = view.getBigUint64(ph + 32, true);
    const memSize = view.getBigUint64(ph + 40, true);
    if (type === PT_NOTE) {
      need(offset, fileSize, 'a note segment');
      readNotes(image.subarray(Number(offset), Number(offset + fileSize)), notes);
    } else if (type === PT_LOAD && memSize > 0n) {
      need(offset, fileSize, 'a loadable segment');
      if (fileSize > memSize) throw new XenElfError('a loadable segment has more file bytes than memory');
      if (paddr + memSize > 2n ** 64n) throw new XenElfError('a loadable segment wraps around the address space');
      loads.push({ paddr, memSize, data: image.subarray(Number(offset), Number(offset + fileSize)) });
    }
  }
  if (notes.size === 0) throw new XenElfError('no Xen ELF notes: not a PV kernel');
  if (loads.length === 0) throw new XenElfError('no loadable segment');
  const word = (type: number): bigint | null => {
    const d = notes.get(type);
    if (!d) return null;
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    if (d.length >= 8) return dv.getBigUint64(0, true);
    if (d.length >= 4) return BigInt(dv.getUint32(0, true));
    throw new XenElfError(`Xen note ${type} is too short`);
  };
  const text = (type: number): string => {
    const d = notes.get(type);
    if (!d) return '';
    const end = d.indexOf(0);
    return new TextDecoder().decode(end < 0 ? d : d.subarray(0, end));
  };
  const guestOs = text(XEN_ELFNOTE_64.GUEST_OS);
  const loader = text(XEN_ELFNOTE_64.LOADER);
  const xenVersion = text(XEN_ELFNOTE_64.XEN_VERSION);
  if (!loader.startsWith('generic') && !guestOs.startsWith('linux')) {
    throw new XenElfError(`will only load images built for the generic loader or Linux images (not '${loader}' and '${guestOs}')`);
  }
  if (!xenVersion.startsWith('xen-3.0')) throw new XenElfError(`XEN_VERSION '${xenVersion}': only images built for Xen 3.0 load`);
  const { supported, required } = parseFeatures(text(XEN_ELFNOTE_64.FEATURES));
  const missing = required & ~SUPPORTED_FEATURES_64;
  if (missing !== 0) {
    const names = XEN_FEATURE_NAMES.filter((_, bit) => (missing & (1 << bit)) !== 0);
    throw new XenElfError(`the kernel requires features this hypervisor lacks: ${names.join(', ')}`);
  }

  // elf_xen_addr_calc_check: with notes, VIRT_BASE and PADDR_OFFSET default to 0.
  loads.sort((a, b) => (a.paddr < b.paddr ? -1 : a.paddr > b.paddr ? 1 : 0));
  for (let i = 1; i < loads.length; i++) {
    if (loads[i].paddr < loads[i - 1].paddr + loads[i - 1].memSize) throw new XenElfError('two loadable segments overlap');
  }
  const pstart = loads[0].paddr;
  const pend = loads.reduce((end, s) => (s.paddr + s.memSize > end ? s.paddr + s.memSize : end), 0n);
  if (pend - pstart > BigInt(MAX_KERNEL_SPAN)) throw new XenElfError(`the loadable segments span 0x${(pend - pstart).toString(16)} bytes`);
  const virtBaseRaw = word(XEN_ELFNOTE_64.VIRT_BASE) ?? 0n;
  const virtOffset = virtBaseRaw - (word(XEN_ELFNOTE_64.PADDR_OFFSET) ?? 0n);
  const virtBase = canonicalAddress(virtBaseRaw, 'VIRT_BASE');
  const kernelStart = canonicalAddress(pstart + virtOffset, 'the kernel start');
  const kernelEnd = canonicalAddress(pend + virtOffset, 'the kernel end');
  const entry = canonicalAddress(word(XEN_ELFNOTE_64.ENTRY) ?? elfEntry, 'ENTRY');
  if (kernelStart > kernelEnd || entry < kernelStart || entry > kernelEnd || virtBase > kernelStart) {
    throw new XenElfError(`ELF start or entry out of bounds (kernel 0x${hex(kernelStart)}-0x${hex(kernelEnd)}, entry 0x${hex(entry)}, VIRT_BASE 0x${hex(virtBase)})`);
  }
  const hvStartLowRaw = word(XEN_ELFNOTE_64.HV_START_LOW);
  const hvStartLow = hvStartLowRaw === null ? null : canonicalAddress(hvStartLowRaw, 'HV_START_LOW');
  // The kernel must lie outside the hypervisor's hole, wherever the kernel believes it starts.
  const hole = hvStartLow ?? -0x8000_0000_0000;
  if (kernelEnd > hole && kernelStart < HYPERVISOR_VIRT_END) throw new XenElfError(`the kernel 0x${hex(kernelStart)}-0x${hex(kernelEnd)} overlaps the hypervisor's region`);
  const hypercallRaw = word(XEN_ELFNOTE_64.HYPERCALL_PAGE);
  const hypercallPage = hypercallRaw === null ? null : canonicalAddress(hypercallRaw, 'HYPERCALL_PAGE');
  if (hypercallPage !== null && (hypercallPage < kernelStart || hypercallPage + 4096 > kernelEnd || hypercallPage % 4096 !== 0)) {
    throw new XenElfError(`HYPERCALL_PAGE 0x${hex(hypercallPage)} is not a page of the kernel`);
  }
  const p2mRaw = word(XEN_ELFNOTE_64.INIT_P2M);
  let p2mBase = p2mRaw === null ? null : canonicalAddress(p2mRaw, 'INIT_P2M');
  // Xen's builder ignores an INIT_P2M at or above VIRT_BASE or not page-aligned, and maps the list after the kernel.
  const unsigned = (v: number) => (v < 0 ? v + 2 ** 64 : v);
  if (p2mBase !== null && (unsigned(p2mBase) >= unsigned(virtBase) || p2mBase % 4096 !== 0)) p2mBase = null;
  if (p2mBase !== null && p2mBase < HYPERVISOR_VIRT_END && p2mBase >= hole) throw new XenElfError(`INIT_P2M 0x${hex(p2mBase)} lies in the hypervisor's region`);
  return {
    entry, virtBase, kernelStart, kernelEnd, hypercallPage, p2mBase, hvStartLow, guestOs, loader, xenVersion,
    featuresSupported: supported, featuresRequired: required, modStartPfn: (word(XEN_ELFNOTE_64.MOD_START_PFN) ?? 0n) !== 0n,
    segments: loads.map((s) => ({ offset: Number(s.paddr - pstart), memSize: Number(s.memSize), data: s.data })),
  };
}

/** The FEATURES note: names separated by '|', '!' marking the required ones; unknown names are refused. */
export function parseFeatures(note: string): { supported: number; required: number } {
  let supported = 0;
  let required = 0;
  for (const raw of note.split('|')) {
    if (raw === '') continue;
    const isRequired = raw.startsWith('!');
    const name = isRequired ? raw.slice(1) : raw;
    const bit = XEN_FEATURE_NAMES.indexOf(name);
    if (bit < 0) throw new XenElfError(`unknown feature '${name}' in the FEATURES note`);
    supported |= 1 << bit;
    if (isRequired) required |= 1 << bit;
  }
  return { supported, required };
}
