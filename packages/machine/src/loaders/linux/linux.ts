import type { GuestMemory } from '@ringvisor/vmm-api';
import { longModeEntry, protectedModeEntry, type EntryState } from '../../entry-state.js';
import { LoaderError, hex } from '../../loader-error.js';
import type { MemoryMap, VirtioSlot } from '../../memory-map.js';
import { BOOT_CS, BOOT_DS, writeBootGdt } from '../boot-gdt.js';
import { isElf } from '../elf.js';
import { GuestWriter } from '../guest-writer.js';
import { pageAlignDown, pageAlignUp } from '../page.js';
import type { AcpiPlatform } from '../../acpi/platform-tables.js';
import { rangesWithAcpi, writeAcpiTables } from './acpi-placement.js';
import { writeBootParams } from './boot-params.js';
import { writeIdentityPageTables } from './page-tables.js';
import { XLF_KERNEL_64, parseSetupHeader, type SetupHeader } from './setup-header.js';
import { planVmlinux, type KernelPlan } from './vmlinux.js';

/** Zero page and command line where Firecracker puts them; both below the kernel at 1 MiB. */
export const ZERO_PAGE_ADDRESS = 0x7000;
export const CMDLINE_ADDRESS = 0x20000;
/** The command line may grow up to the EBDA-free area's end (0x9fc00 would do; keep it modest). */
const CMDLINE_MAX = 0x10000;
/** The protected-mode kernel's load address for non-relocated bzImages. */
const KERNEL_LOAD_ADDRESS = 0x100000;
/** 64-bit entry point offset from the load address (boot.rst, "64-bit boot protocol"). */
const ENTRY_64_OFFSET = 0x200;

export interface LinuxOptions {
  readonly memoryMap: Pick<MemoryMap, 'ranges' | 'lowRamEnd' | 'virtio'>;
  readonly cmdline?: string;
  readonly initrd?: Uint8Array;
  /** '32': the 32-bit boot protocol (default); '64': long mode with identity page tables (KVM). */
  readonly entry?: '32' | '64';
  /**
   * The board's ACPI description (`PcBoard.acpi`): the loader builds ACPI tables from it, and the
   * kernel finds the virtio-mmio slots in the DSDT. Without it the slots go on the command line.
   */
  readonly acpi?: AcpiPlatform;
}

/**
 * `virtio_mmio.device=4K@0xd0000000:5` for each slot, so that a kernel built with
 * CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES probes them without ACPI (Debian's kernels are not).
 */
export function virtioMmioCmdline(slots: readonly VirtioSlot[]): string {
  return slots.map((slot) => `virtio_mmio.device=${slot.size / 1024}K@${hex(slot.base)}:${slot.irq}`).join(' ');
}

function kernelCmdline(options: LinuxOptions, header: SetupHeader): string {
  // With ACPI the DSDT announces the slots; announcing them twice would make the second probe fail.
  const announced = options.acpi ? '' : virtioMmioCmdline(options.memoryMap.virtio);
  const cmdline = [options.cmdline ?? '', announced]
    .filter((part) => part.length > 0).join(' ');
  const limit = Math.min(header.cmdlineSize, CMDLINE_MAX - 1);
  if (cmdline.length > limit) {
    throw new LoaderError('linux', `command line is ${cmdline.length} bytes; this kernel accepts at most ${limit}`);
  }
  return cmdline;
}

/** Highest page-aligned address below initrd_addr_max and the end of low RAM that fits the initrd. */
function placeInitrd(initrd: Uint8Array, header: SetupHeader, lowRamEnd: number, kernelEnd: number): number {
  const top = Math.min(header.initrdAddrMax + 1, lowRamEnd);
  const address = pageAlignDown(top - initrd.length);
  if (address < kernelEnd) {
    throw new LoaderError('initrd',
      `${initrd.length} bytes do not fit between the kernel (ends ${hex(kernelEnd)}) and ${hex(top)}`);
  }
  return address;
}

/** A bzImage's protected-mode part at 1 MiB, checked against RAM before anything is written. */
function planBzImage(image: Uint8Array, lowRamEnd: number, mode: '32' | '64'): KernelPlan {
  const header = parseSetupHeader(image);
  if (mode === '64' && (header.xloadflags & XLF_KERNEL_64) === 0) {
    throw new LoaderError('linux', 'kernel has no 64-bit entry point (xloadflags.XLF_KERNEL_64 clear)');
  }
  const kernel = image.subarray(header.setupSize);
  const end = KERNEL_LOAD_ADDRESS + Math.max(kernel.length, header.initSize);
  if (end > lowRamEnd) {
    throw new LoaderError('linux', `kernel needs RAM up to ${hex(end)}; guest RAM ends at ${hex(lowRamEnd)}`);
  }
  return {
    header, entry: KERNEL_LOAD_ADDRESS, bits: mode === '64' ? 64 : 32, end,
    write: (writer) => writer.bytes(KERNEL_LOAD_ADDRESS, kernel, 'kernel'),
  };
}

/**
 * Loads a Linux kernel by the boot protocol: a bzImage (protected-mode part at 1 MiB, its setup
 * header copied into the zero page) or an uncompressed i386 or x86-64 vmlinux ELF (segments at their
 * physical addresses, a setup header written for it; see vmlinux.ts), told apart by the ELF magic.
 * Then the command line (plus the virtio-mmio devices unless ACPI tables describe them), the initrd
 * high in RAM, the e820 map, ACPI tables when `acpi` is given, and a boot GDT. Returns the 32-bit
 * entry state (ESI = zero page, EIP = code32_start, or an i386 vmlinux's physical startup_32) or the
 * 64-bit one (long mode, identity page tables; RIP = load address + 0x200 for a bzImage with
 * `entry: '64'`, an x86-64 vmlinux's physical startup_64, which has no other entry).
 */
export function loadLinux(memory: GuestMemory, image: Uint8Array, options: LinuxOptions): EntryState {
  const writer = new GuestWriter(memory, 'linux');
  const { lowRamEnd } = options.memoryMap;
  const vmlinux = isElf(image);
  const kernel = vmlinux ? planVmlinux(image, lowRamEnd) : planBzImage(image, lowRamEnd, options.entry ?? '32');
  if (vmlinux && options.entry !== undefined && options.entry !== String(kernel.bits)) {
    throw new LoaderError('linux', `a ${kernel.bits}-bit vmlinux is booted through its ${kernel.bits}-bit entry point only (entry ${kernel.bits} or a bzImage)`);
  }
  const { header } = kernel;
  const cmdline = kernelCmdline(options, header);
  const ramdisk = options.initrd
    ? { address: placeInitrd(options.initrd, header, lowRamEnd, pageAlignUp(kernel.end)), size: options.initrd.length }
    : null;

  kernel.write(writer);
  if (ramdisk && options.initrd) writer.bytes(ramdisk.address, options.initrd, 'initrd');
  writer.cString(CMDLINE_ADDRESS, cmdline, 'command line');
  const acpi = options.acpi ? writeAcpiTables(writer, options.acpi) : null;
  writeBootParams(writer, ZERO_PAGE_ADDRESS, {
    header, code32Start: kernel.entry, cmdlineAddress: CMDLINE_ADDRESS, ramdisk,
    ranges: acpi ? rangesWithAcpi(options.memoryMap.ranges) : options.memoryMap.ranges,
    acpiRsdp: acpi ? acpi.rsdp : null,
  });

  const state = kernel.bits === 64
    ? longModeEntry(vmlinux ? kernel.entry : KERNEL_LOAD_ADDRESS + ENTRY_64_OFFSET, BOOT_CS, BOOT_DS, writeBootGdt(writer, 'code64'),
      writeIdentityPageTables(writer))
    : protectedModeEntry(kernel.entry, BOOT_CS, BOOT_DS, writeBootGdt(writer, 'code32'));
  return { regs: { ...state.regs, esi: ZERO_PAGE_ADDRESS }, sregs: state.sregs };
}
