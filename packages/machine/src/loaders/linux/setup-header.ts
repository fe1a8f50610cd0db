import { LoaderError, hex } from '../../loader-error.js';
import { ByteReader } from '../byte-reader.js';

// Offsets into a bzImage (and into boot_params, which embeds the same header), from
// Documentation/arch/x86/boot.rst.
export const HDR_START = 0x1f1;
export const HDR_SETUP_SECTS = 0x1f1;
export const HDR_BOOT_FLAG = 0x1fe;
export const HDR_JUMP = 0x200;
export const HDR_MAGIC = 0x202;
export const HDR_VERSION = 0x206;
export const HDR_TYPE_OF_LOADER = 0x210;
export const HDR_LOADFLAGS = 0x211;
export const HDR_CODE32_START = 0x214;
export const HDR_RAMDISK_IMAGE = 0x218;
export const HDR_RAMDISK_SIZE = 0x21c;
export const HDR_HEAP_END_PTR = 0x224;
export const HDR_CMD_LINE_PTR = 0x228;
export const HDR_INITRD_ADDR_MAX = 0x22c;
export const HDR_XLOADFLAGS = 0x236;
export const HDR_CMDLINE_SIZE = 0x238;
export const HDR_INIT_SIZE = 0x260;
/** End of the 2.15 header (kernel_info_offset is its last field). */
export const HDR_END_2_15 = 0x26c;

/** "HdrS", little-endian. */
export const HDR_MAGIC_VALUE = 0x53726448;
export const BOOT_FLAG_VALUE = 0xaa55;
export const LOADED_HIGH = 1 << 0;
export const CAN_USE_HEAP = 1 << 7;
/** xloadflags: the kernel has a 64-bit entry point at load address + 0x200. */
export const XLF_KERNEL_64 = 1 << 0;
const MIN_VERSION = 0x0202;
/** A setup area larger than this (setup_sects up to 255) is not a bzImage. */
const MAX_SETUP_SECTS = 0x7f;

export interface SetupHeader {
  readonly version: number;
  /** Size of the real-mode part (boot sector + setup) in bytes; the protected-mode kernel follows. */
  readonly setupSize: number;
  /** The header bytes from 0x1f1 to its end (given by the jump at 0x200), copied into boot_params. */
  readonly bytes: Uint8Array;
  readonly loadflags: number;
  readonly initrdAddrMax: number;
  readonly cmdlineSize: number;
  readonly xloadflags: number;
  /** Memory the kernel needs from its load address during decompression (0 before 2.10). */
  readonly initSize: number;
}

function versionText(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
}

/** Parses and checks a bzImage's setup header (boot protocol 2.02 or later, LOADED_HIGH). */
export function parseSetupHeader(image: Uint8Array): SetupHeader {
  const reader = new ByteReader(image, 'linux');
  reader.require(0, HDR_VERSION + 2, 'setup header');
  if (reader.u32(HDR_MAGIC, 'header magic') !== HDR_MAGIC_VALUE) {
    throw new LoaderError('linux', 'not a bzImage (no "HdrS" magic at 0x202)');
  }
  if (reader.u16(HDR_BOOT_FLAG, 'boot_flag') !== BOOT_FLAG_VALUE) {
    throw new LoaderError('linux', 'not a bzImage (boot_flag at 0x1fe is not 0xAA55)');
  }
  const version = reader.u16(HDR_VERSION, 'protocol version');
  if (version < MIN_VERSION) {
    throw new LoaderError('linux', `boot protocol ${versionText(version)} is too old (need 2.02 or later)`);
  }
  const setupSects = reader.u8(HDR_SETUP_SECTS, 'setup_sects') || 4;
  if (setupSects > MAX_SETUP_SECTS) throw new LoaderError('linux', `setup_sects ${setupSects} is implausible`);
  const setupSize = (setupSects + 1) * 512;
  // The two-byte jump at 0x200 skips the header: its end is 0x202 + the jump's displacement.
  const headerEnd = HDR_MAGIC + reader.u8(HDR_JUMP + 1, 'header jump');
  if (headerEnd < HDR_CMD_LINE_PTR + 4) {
    throw new LoaderError('linux', `setup header ends at ${hex(headerEnd)}, before the 2.02 fields`);
  }
  reader.require(HDR_START, headerEnd - HDR_START, 'setup header');
  if (setupSize >= image.length) {
    throw new LoaderError('linux', `image truncated: no protected-mode kernel after ${hex(setupSize)} bytes of setup`);
  }
  const loadflags = reader.u8(HDR_LOADFLAGS, 'loadflags');
  if ((loadflags & LOADED_HIGH) === 0) {
    throw new LoaderError('linux', 'zImage kernels (loaded below 1 MiB) are not supported; need a bzImage');
  }
  const field = (offset: number, size: 4 | 2, since: number, fallback: number, what: string): number => {
    if (version < since || offset + size > headerEnd) return fallback;
    return size === 4 ? reader.u32(offset, what) : reader.u16(offset, what);
  };
  return {
    version,
    setupSize,
    bytes: reader.slice(HDR_START, headerEnd - HDR_START, 'setup header'),
    loadflags,
    initrdAddrMax: field(HDR_INITRD_ADDR_MAX, 4, 0x0203, 0x37ffffff, 'initrd_addr_max'),
    cmdlineSize: field(HDR_CMDLINE_SIZE, 4, 0x0206, 255, 'cmdline_size'),
    xloadflags: field(HDR_XLOADFLAGS, 2, 0x020c, 0, 'xloadflags'),
    initSize: field(HDR_INIT_SIZE, 4, 0x020a, 0, 'init_size'),
  };
}
