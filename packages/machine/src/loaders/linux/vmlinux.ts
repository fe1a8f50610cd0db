// An uncompressed vmlinux (i386 or x86-64 ELF) booted as Firecracker boots one: no setup code and no
// decompressor, so the loader places the PT_LOAD segments at their physical addresses itself and
// writes the setup header the kernel would have carried. The kernel proper reads from it the
// version (2.07+ for hardware_subarch, 2.14+ for acpi_rsdp_addr), type_of_loader, loadflags,
// cmd_line_ptr, ramdisk_image/size and setup_data; the rest (kernel_alignment, init_size,
// payload_*) only matters to a decompressor, which this path skips — and with it KASLR.
import { LoaderError, hex } from '../../loader-error.js';
import { parseElfAny } from '../elf.js';
import type { GuestWriter } from '../guest-writer.js';
import {
  BOOT_FLAG_VALUE, HDR_BOOT_FLAG, HDR_CMDLINE_SIZE, HDR_END_2_15, HDR_INITRD_ADDR_MAX, HDR_JUMP, HDR_LOADFLAGS,
  HDR_MAGIC, HDR_MAGIC_VALUE, HDR_START, HDR_VERSION, LOADED_HIGH, type SetupHeader,
} from './setup-header.js';

/** Protocol 2.15: the newest the 6.x kernels define; acpi_rsdp_addr (2.14) is honoured. */
const VMLINUX_PROTOCOL = 0x020f;
/** x86 COMMAND_LINE_SIZE (2048) less the terminating NUL, as a bzImage of the same kernel says. */
const VMLINUX_CMDLINE_SIZE = 2047;
/** What current bzImages say; a 32-bit kernel moves an initrd above its low memory itself. */
const VMLINUX_INITRD_ADDR_MAX = 0x7fffffff;
/** Nothing of the kernel goes below 1 MiB, where the zero page, command line, GDT and ACPI tables live. */
const KERNEL_MIN_ADDRESS = 0x100000;

/** A kernel checked and ready to write: the header for the zero page, where it lies, where it starts. */
export interface KernelPlan {
  readonly header: SetupHeader;
  readonly entry: number;
  /** Which boot protocol enters it: an x86-64 vmlinux only through the 64-bit one (startup_64). */
  readonly bits: 32 | 64;
  /** First byte after the kernel (including its bss), where the initrd may begin. */
  readonly end: number;
  write(writer: GuestWriter): void;
}

/** The setup header a vmlinux has no room for, as a bzImage of the same kernel would carry it. */
export function vmlinuxSetupHeader(): SetupHeader {
  const bytes = new Uint8Array(HDR_END_2_15 - HDR_START);
  const view = new DataView(bytes.buffer);
  const at = (offset: number): number => offset - HDR_START;
  view.setUint16(at(HDR_BOOT_FLAG), BOOT_FLAG_VALUE, true);
  // The short jump over the header: its displacement tells readers where the header ends.
  view.setUint8(at(HDR_JUMP), 0xeb);
  view.setUint8(at(HDR_JUMP) + 1, HDR_END_2_15 - HDR_MAGIC);
  view.setUint32(at(HDR_MAGIC), HDR_MAGIC_VALUE, true);
  view.setUint16(at(HDR_VERSION), VMLINUX_PROTOCOL, true);
  view.setUint8(at(HDR_LOADFLAGS), LOADED_HIGH);
  view.setUint32(at(HDR_INITRD_ADDR_MAX), VMLINUX_INITRD_ADDR_MAX, true);
  view.setUint32(at(HDR_CMDLINE_SIZE), VMLINUX_CMDLINE_SIZE, true);
  return {
    version: VMLINUX_PROTOCOL, setupSize: 0, bytes, loadflags: LOADED_HIGH,
    initrdAddrMax: VMLINUX_INITRD_ADDR_MAX, cmdlineSize: VMLINUX_CMDLINE_SIZE, xloadflags: 0, initSize: 0,
  };
}

/**
 * Parses a vmlinux and checks it before anything is written: every segment between 1 MiB and the
 * end of low RAM, no two overlapping, the entry point (physical startup_32) inside one of them.
 */
export function planVmlinux(image: Uint8Array, lowRamEnd: number): KernelPlan {
  const elf = parseElfAny(image);
  const segments = [...elf.segments].sort((a, b) => a.physicalAddress - b.physicalAddress);
  segments.forEach((segment, index) => {
    const start = segment.physicalAddress;
    const end = start + segment.memSize;
    if (start < KERNEL_MIN_ADDRESS) {
      throw new LoaderError('linux', `vmlinux segment at ${hex(start)} is below 1 MiB, where the zero page and command line go`);
    }
    if (end > lowRamEnd) {
      throw new LoaderError('linux', `vmlinux segment at ${hex(start)}..${hex(end)} is beyond guest RAM (it ends at ${hex(lowRamEnd)})`);
    }
    const next = segments[index + 1];
    if (next && next.physicalAddress < end) {
      throw new LoaderError('linux', `vmlinux segments at ${hex(start)} and ${hex(next.physicalAddress)} overlap`);
    }
  });
  // A vmlinux's e_entry is already physical (phys_startup_32, or startup_64 at its load address).
  const entry = elf.entry;
  if (!segments.some((s) => entry >= s.physicalAddress && entry < s.physicalAddress + s.memSize)) {
    throw new LoaderError('linux', `vmlinux entry point ${hex(entry)} is not inside a loaded segment`);
  }
  const last = segments[segments.length - 1];
  return {
    header: vmlinuxSetupHeader(),
    entry,
    bits: elf.bits,
    end: last.physicalAddress + last.memSize,
    write: (writer) => segments.forEach((segment) => {
      const what = `vmlinux segment at ${hex(segment.physicalAddress)}`;
      writer.bytes(segment.physicalAddress, segment.data, what);
      writer.zeros(segment.physicalAddress + segment.data.length, segment.memSize - segment.data.length, what);
    }),
  };
}
