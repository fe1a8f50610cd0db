// @ringvisor/machine: the PC board both hypervisor types share (memory map, clocks, exit
// counters, guest loaders).
export { LoaderError, type LoaderFormat } from './loader-error.js';
export {
  pcMemoryMap, VIRTIO_MMIO_BASE, VIRTIO_MMIO_SLOT_SIZE, VIRTIO_MMIO_IRQS, PCI_HOLE_BASE,
  type MemoryMap, type MemoryMapOptions, type AddressRange, type VirtioSlot,
} from './memory-map.js';
export {
  realModeEntry, resetEntry, protectedModeEntry, longModeEntry, realModeSegment, flatSegment,
  type EntryState,
} from './entry-state.js';
export { VirtualClock, DEFAULT_VIRTUAL_HZ } from './clock/virtual-clock.js';
export { HostClock } from './clock/host-clock.js';
export { DrivenClock } from './clock/driven-clock.js';
export { ExitCounters } from './exit-stats.js';
export { firmwareRegions, firmwareEntry } from './loaders/firmware.js';
export { loadFlatBinary, type FlatBinaryOptions } from './loaders/flat.js';
export {
  loadMultiboot, MULTIBOOT_BOOTLOADER_MAGIC, type MultibootOptions, type MultibootModule,
} from './loaders/multiboot.js';
export { findMultibootHeader, type MultibootHeader } from './loaders/multiboot-header.js';
export {
  loadLinux, virtioMmioCmdline, ZERO_PAGE_ADDRESS, CMDLINE_ADDRESS, type LinuxOptions,
} from './loaders/linux/linux.js';
export { BOOT_CS, BOOT_DS, BOOT_GDT_ADDRESS } from './loaders/boot-gdt.js';
export {
  buildAcpiTables, dsdtAml, VIRTIO_MMIO_HID, type AcpiPlatform, type AcpiTables,
} from './acpi/platform-tables.js';
export { ACPI_TABLES_ADDRESS } from './loaders/linux/acpi-placement.js';
export {
  PcBoard, IRQ_PIT, IRQ_KEYBOARD, IRQ_COM1, IRQ_RTC, IRQ_SCI, IRQ_MOUSE, COM1_BASE, VIRTUAL_RTC_EPOCH,
  ACPI_PM_BASE, SOFT_OFF_SLEEP_TYPE,
  type PcBoardOptions, type ShutdownRequest,
} from './board/pc-board.js';
export type { VirtioDeviceConfig } from './board/virtio-slots.js';
