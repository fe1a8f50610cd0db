import { LoaderError, hex } from '../loader-error.js';
import { ByteReader } from './byte-reader.js';

// Multiboot Specification 0.6.96, §3.1 (OS image format).
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** The header must lie, 4-byte aligned, within the image's first 8 KiB. */
const HEADER_SEARCH_LIMIT = 8192;
export const FLAG_PAGE_ALIGN = 1 << 0;
export const FLAG_MEMORY_INFO = 1 << 1;
export const FLAG_VIDEO_MODE = 1 << 2;
export const FLAG_ADDRESS_FIELDS = 1 << 16;
/** Requirement bits (0..15) this loader honours; any other one set means we must refuse. */
const SUPPORTED_REQUIREMENTS = FLAG_PAGE_ALIGN | FLAG_MEMORY_INFO | FLAG_VIDEO_MODE;

/** The a.out kludge: where to load the image when FLAG_ADDRESS_FIELDS is set. */
export interface MultibootAddresses {
  readonly headerAddr: number;
  readonly loadAddr: number;
  readonly loadEndAddr: number;
  readonly bssEndAddr: number;
  readonly entryAddr: number;
}

export interface MultibootHeader {
  /** File offset of the header's magic field. */
  readonly offset: number;
  readonly flags: number;
  readonly addresses?: MultibootAddresses;
}

/** Finds and validates the multiboot header, or returns null when the image has none. */
export function findMultibootHeader(image: Uint8Array): MultibootHeader | null {
  const reader = new ByteReader(image, 'multiboot');
  const end = Math.min(HEADER_SEARCH_LIMIT, image.length) - 12;
  for (let offset = 0; offset <= end; offset += 4) {
    if (reader.u32(offset, 'header magic') !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = reader.u32(offset + 4, 'header flags');
    const checksum = reader.u32(offset + 8, 'header checksum');
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) continue;
    const unsupported = flags & 0xffff & ~SUPPORTED_REQUIREMENTS;
    if (unsupported !== 0) {
      throw new LoaderError('multiboot', `header requires features this loader lacks (flags ${hex(unsupported)})`);
    }
    if ((flags & FLAG_ADDRESS_FIELDS) === 0) return { offset, flags };
    const addresses: MultibootAddresses = {
      headerAddr: reader.u32(offset + 12, 'header_addr'),
      loadAddr: reader.u32(offset + 16, 'load_addr'),
      loadEndAddr: reader.u32(offset + 20, 'load_end_addr'),
      bssEndAddr: reader.u32(offset + 24, 'bss_end_addr'),
      entryAddr: reader.u32(offset + 28, 'entry_addr'),
    };
    return { offset, flags, addresses };
  }
  return null;
}
