// The board's ACPI tables, laid out in one block of guest memory: RSDP → RSDT/XSDT → FADT → FACS and
// DSDT. The DSDT names each populated virtio-mmio slot (_HID LNRO0005, which Linux's virtio_mmio
// driver matches) and the soft-off sleep type; the FADT points at the board's PM registers.
import {
  PM_TIMER_LENGTH, PM_TIMER_OFFSET, PM1_CONTROL_LENGTH, PM1_CONTROL_OFFSET, PM1_EVENT_LENGTH, PM1_STATUS_OFFSET,
} from '@ringvisor/devices';
import type { VirtioSlot } from '../memory-map.js';
import { buffer, device, integer, name, packageOf, scope, string } from './aml.js';
import { irqNoFlags, memory32Fixed, resourceTemplate } from './resources.js';
import {
  ACCESS_BYTE, ACCESS_DWORD, ACCESS_WORD, BOOT_ARCH_8042, BOOT_ARCH_LEGACY_DEVICES, BOOT_ARCH_VGA_NOT_PRESENT,
  FACS_SIZE, FADT_SIZE, FADT_FIX_RTC, FADT_PROC_C1, FADT_RESET_REG_SUP, FADT_SLP_BUTTON, FADT_WBINVD,
  RSDP_SIZE, buildDsdt, buildFacs, buildFadt, buildRsdp, buildRsdt, buildXsdt, ioRegister,
} from './tables.js';

/** The fixed hardware the tables describe (the board supplies it: `PcBoard.acpi`). */
export interface AcpiPlatform {
  /** First port of the PM block: PM1a event +0, PM1a control +4, PM timer +8 (PIIX4 layout). */
  readonly pmBase: number;
  /** ISA IRQ of the SCI (PIC mode: no MADT, no I/O APIC). */
  readonly sciIrq: number;
  /** SLP_TYPx of soft-off, as \_S5 announces it and the PM1 control register acts on. */
  readonly softOffSleepType: number;
  /** The reset register (an I/O port) and the value that resets. */
  readonly reset: { readonly port: number; readonly value: number };
  /** CMOS index of the RTC century byte. */
  readonly rtcCenturyIndex: number;
  readonly virtio: readonly VirtioSlot[];
}

/** The tables as placed at `address`; `rsdp` is the RSDP's guest-physical address. */
export interface AcpiTables {
  readonly address: number;
  readonly bytes: Uint8Array;
  readonly rsdp: number;
}

/** The _HID of a virtio-mmio transport (Linaro's ACPI ID; drivers/virtio/virtio_mmio.c matches it). */
export const VIRTIO_MMIO_HID = 'LNRO0005';
/** The FACS must sit on a 64-byte boundary; the others need only be reachable, 16 keeps them tidy. */
const FACS_ALIGN = 64;
const TABLE_ALIGN = 16;

/** Device name of virtio slot n: VR00, VR01, ... */
export function virtioDeviceName(slot: VirtioSlot): string {
  return `VR${slot.index.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** The DSDT's definition block: \_S5 and one device per virtio-mmio slot under \_SB. */
export function dsdtAml(platform: AcpiPlatform): number[] {
  const softOff = integer(platform.softOffSleepType);
  return [
    // \_S5: SLP_TYPa, SLP_TYPb (PM1b is absent, so it repeats a), two reserved elements.
    ...name('\\_S5_', packageOf([softOff, softOff, integer(0), integer(0)])),
    ...scope('\\_SB_', ...platform.virtio.map((slot) => device(virtioDeviceName(slot),
      name('_HID', string(VIRTIO_MMIO_HID)),
      name('_UID', integer(slot.index)),
      name('_CRS', buffer(resourceTemplate(memory32Fixed(slot.base, slot.size), irqNoFlags(slot.irq)))),
    ))),
  ];
}

const alignUp = (value: number, align: number): number => Math.ceil(value / align) * align;

/** Builds every table for `platform`, laid out from `address` (which must be 64-byte aligned). */
export function buildAcpiTables(platform: AcpiPlatform, address: number): AcpiTables {
  if (address % FACS_ALIGN !== 0) throw new RangeError(`ACPI tables at ${address} are not 64-byte aligned`);
  const dsdt = buildDsdt(dsdtAml(platform));
  // Layout (offsets from `address`): RSDP, FACS, FADT, DSDT, RSDT, XSDT.
  const facs = alignUp(RSDP_SIZE, FACS_ALIGN);
  const fadt = alignUp(facs + FACS_SIZE, TABLE_ALIGN);
  const dsdtAt = alignUp(fadt + FADT_SIZE, TABLE_ALIGN);
  const rsdt = alignUp(dsdtAt + dsdt.length, TABLE_ALIGN);
  const entries = [address + fadt];
  const rsdtBytes = buildRsdt(entries);
  const xsdt = alignUp(rsdt + rsdtBytes.length, TABLE_ALIGN);
  const xsdtBytes = buildXsdt(entries);
  const pm = platform.pmBase;
  const bytes = new Uint8Array(xsdt + xsdtBytes.length);
  bytes.set(buildRsdp(address + rsdt, address + xsdt), 0);
  bytes.set(buildFacs(), facs);
  bytes.set(buildFadt({
    facs: address + facs,
    dsdt: address + dsdtAt,
    sciIrq: platform.sciIrq,
    pm1aEvent: ioRegister(pm + PM1_STATUS_OFFSET, PM1_EVENT_LENGTH, ACCESS_WORD),
    pm1aControl: ioRegister(pm + PM1_CONTROL_OFFSET, PM1_CONTROL_LENGTH, ACCESS_WORD),
    pmTimer: ioRegister(pm + PM_TIMER_OFFSET, PM_TIMER_LENGTH, ACCESS_DWORD),
    reset: { register: ioRegister(platform.reset.port, 1, ACCESS_BYTE), value: platform.reset.value },
    century: platform.rtcCenturyIndex,
    bootArch: BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042 | BOOT_ARCH_VGA_NOT_PRESENT,
    // PWR_BUTTON clear: the power button is the fixed-feature one (PWRBTN_STS/EN in PM1a); no sleep button.
    flags: FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC | FADT_RESET_REG_SUP,
  }), fadt);
  bytes.set(dsdt, dsdtAt);
  bytes.set(rsdtBytes, rsdt);
  bytes.set(xsdtBytes, xsdt);
  return { address, bytes, rsdp: address };
}
