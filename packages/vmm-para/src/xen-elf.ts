// A PV kernel image: ELF32 (i386, executable) whose PT_NOTE segments carry Xen's "Xen" notes
// (xen/include/public/elfnote.h). Every field is bounds-checked: the image comes from the user.

/** Xen ELF note types (elfnote.h). */
export const XEN_ELFNOTE = {
  ENTRY: 1, HYPERCALL_PAGE: 2, VIRT_BASE: 3, PADDR_OFFSET: 4, XEN_VERSION: 5, GUEST_OS: 6,
  LOADER: 8, PAE_MODE: 9, FEATURES: 10,
} as const;

export interface XenElfSegment {
  /** Virtual address the segment is loaded at. */
  readonly vaddr: number;
  readonly memSize: number;
  /** The file bytes (memSize - data.length bytes of zeros follow). */
  readonly data: Uint8Array;
}

export interface XenElfImage {
  readonly entry: number;
  readonly virtBase: number;
  readonly hypercallPage: number | null;
  readonly guestOs: string;
  readonly features: string;
  readonly paeMode: string;
  readonly segments: readonly XenElfSegment[];
  /** Lowest and one past the highest virtual address of the loaded segments. */
  readonly start: number;
  readonly end: number;
}

export class XenElfError extends Error {}

const PT_LOAD = 1;
const PT_NOTE = 4;

/** True when `image` is an ELF32 i386 executable with at least one Xen note. */
export function isXenElf(image: Uint8Array): boolean {
  try {
    return parseXenElf(image) !== null;
  } catch {
    return false;
  }
}

/** Parses the image; throws XenElfError (one line) for what cannot be booted as an x86-32 PV kernel. */
export function parseXenElf(image: Uint8Array): XenElfImage {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const need = (offset: number, length: number, what: string) => {
    if (offset < 0 || length < 0 || offset + length > image.length) throw new XenElfError(`truncated ELF: ${what} lies outside the file`);
  };
  need(0, 52, 'the ELF header');
  if (view.getUint32(0, false) !== 0x7f454c46) throw new XenElfError('not an ELF image');
  if (image[4] !== 1 || image[5] !== 1) throw new XenElfError('not a little-endian ELF32 image (x86-32 PV needs one)');
  if (view.getUint16(18, true) !== 3) throw new XenElfError('not an i386 ELF image');
  const entry = view.getUint32(24, true);
  const phoff = view.getUint32(28, true);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phentsize < 32) throw new XenElfError('bad program header size');
  need(phoff, phnum * phentsize, 'the program headers');
  const notes = new Map<number, Uint8Array>();
  const segments: XenElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    const type = view.getUint32(ph, true);
    const offset = view.getUint32(ph + 4, true);
    const vaddr = view.getUint32(ph + 8, true);
    const fileSize = view.getUint32(ph + 16, true);
    const memSize = view.getUint32(ph + 20, true);
    if (type === PT_NOTE) {
      need(offset, fileSize, 'a note segment');
      readNotes(image.subarray(offset, offset + fileSize), notes);
    } else if (type === PT_LOAD && memSize > 0) {
      need(offset, fileSize, 'a loadable segment');
      if (fileSize > memSize) throw new XenElfError('a loadable segment has more file bytes than memory');
      segments.push({ vaddr, memSize, data: image.subarray(offset, offset + fileSize) });
    }
  }
  if (notes.size === 0) throw new XenElfError('no Xen ELF notes: not a PV kernel');
  const word = (type: number): number | null => {
    const d = notes.get(type);
    if (!d) return null;
    if (d.length < 4) throw new XenElfError(`Xen note ${type} is too short`);
    return new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0, true);
  };
  const text = (type: number): string => {
    const d = notes.get(type);
    if (!d) return '';
    const end = d.indexOf(0);
    return new TextDecoder().decode(end < 0 ? d : d.subarray(0, end));
  };
  const paeMode = text(XEN_ELFNOTE.PAE_MODE);
  if (paeMode !== '' && paeMode !== 'no') throw new XenElfError(`PAE_MODE '${paeMode}': only non-PAE x86-32 guests are supported`);
  if (segments.length === 0) throw new XenElfError('no loadable segment');
  const virtBase = word(XEN_ELFNOTE.VIRT_BASE) ?? 0;
  const noteEntry = word(XEN_ELFNOTE.ENTRY);
  const start = Math.min(...segments.map((s) => s.vaddr));
  const end = Math.max(...segments.map((s) => s.vaddr + s.memSize));
  return {
    entry: noteEntry ?? entry, virtBase, hypercallPage: word(XEN_ELFNOTE.HYPERCALL_PAGE),
    guestOs: text(XEN_ELFNOTE.GUEST_OS), features: text(XEN_ELFNOTE.FEATURES), paeMode, segments, start, end,
  };
}

/** Collects the notes named "Xen" (namesz 4, name padded to 4 bytes, descriptor padded to 4). */
export function readNotes(bytes: Uint8Array, into: Map<number, Uint8Array>): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 12 <= bytes.length) {
    const nameSize = view.getUint32(at, true);
    const descSize = view.getUint32(at + 4, true);
    const type = view.getUint32(at + 8, true);
    const nameAt = at + 12;
    const descAt = nameAt + align4(nameSize);
    if (nameSize > bytes.length || descSize > bytes.length || descAt + descSize > bytes.length) {
      throw new XenElfError('a note runs past its segment');
    }
    const name = new TextDecoder().decode(bytes.subarray(nameAt, nameAt + Math.max(0, nameSize - 1)));
    if (name === 'Xen') into.set(type, bytes.subarray(descAt, descAt + descSize));
    at = descAt + align4(descSize);
  }
}

const align4 = (n: number) => (n + 3) & ~3;
