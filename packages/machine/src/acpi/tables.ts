// ACPI system description tables (ACPI 6.5, chapter 5.2): RSDP, RSDT, XSDT, FADT, FACS and the
// DSDT framing. Each builder returns the table's bytes with its checksum already correct.

/** Every table but the RSDP and FACS starts with this 36-byte header (5.2.6). */
export const SDT_HEADER_SIZE = 36;
const CHECKSUM_OFFSET = 9;
export const OEM_ID = 'RINGVS';
export const OEM_TABLE_ID = 'RINGVISR';
const OEM_REVISION = 1;
const CREATOR_ID = 'RVSR';
const CREATOR_REVISION = 1;

/** RSDP (5.2.5.3): 20 bytes of ACPI 1.0 fields covered by Checksum, 36 in all covered by the Extended Checksum. */
export const RSDP_SIZE = 36;
const RSDP_V1_SIZE = 20;
const RSDP_REVISION_2 = 2;
/** FACS (5.2.10), version 2 (ACPI 4.0 and later): 64 bytes, 64-byte aligned, no checksum. */
export const FACS_SIZE = 64;
const FACS_VERSION = 2;
/** FADT revision 4 (ACPI 3.0/4.0 layout): 244 bytes, reset register and 64-bit addresses. */
export const FADT_SIZE = 244;
const FADT_REVISION = 4;
/** DSDT revision 2: AML integers are 64-bit. */
const DSDT_REVISION = 2;

/** The byte that makes `bytes[start, end)` sum to zero modulo 256, given the checksum byte is 0 there. */
export function checksumOf(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += bytes[i];
  return (0x100 - (sum & 0xff)) & 0xff;
}

class TableWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  ascii(offset: number, text: string): void {
    for (let i = 0; i < text.length; i++) this.bytes[offset + i] = text.charCodeAt(i);
  }

  u8(offset: number, value: number): void {
    this.view.setUint8(offset, value);
  }

  u16(offset: number, value: number): void {
    this.view.setUint16(offset, value, true);
  }

  u32(offset: number, value: number): void {
    this.view.setUint32(offset, value >>> 0, true);
  }

  u64(offset: number, value: number): void {
    this.view.setBigUint64(offset, BigInt(value), true);
  }

  /** Generic Address Structure (5.2.3.2): space, bit width, bit offset 0, access size, address. */
  gas(offset: number, register: GenericAddress): void {
    this.u8(offset, register.space);
    this.u8(offset + 1, register.bitWidth);
    this.u8(offset + 2, 0);
    this.u8(offset + 3, register.accessSize);
    this.u64(offset + 4, register.address);
  }

  /** Fills the common header and then the checksum over the whole table. */
  header(signature: string, revision: number): Uint8Array {
    this.ascii(0, signature);
    this.u32(4, this.bytes.length);
    this.u8(8, revision);
    this.ascii(10, OEM_ID);
    this.ascii(16, OEM_TABLE_ID);
    this.u32(24, OEM_REVISION);
    this.ascii(28, CREATOR_ID);
    this.u32(32, CREATOR_REVISION);
    this.bytes[CHECKSUM_OFFSET] = checksumOf(this.bytes);
    return this.bytes;
  }
}

export const SPACE_SYSTEM_IO = 1;
export const ACCESS_BYTE = 1;
export const ACCESS_WORD = 2;
export const ACCESS_DWORD = 3;

export interface GenericAddress {
  readonly space: number;
  readonly bitWidth: number;
  readonly accessSize: number;
  readonly address: number;
}

/** An I/O port register of `bytes` bytes accessed `accessSize` at a time. */
export function ioRegister(address: number, bytes: number, accessSize: number): GenericAddress {
  return { space: SPACE_SYSTEM_IO, bitWidth: bytes * 8, accessSize, address };
}

/** RSDP revision 2 pointing at both the RSDT and the XSDT. */
export function buildRsdp(rsdt: number, xsdt: number): Uint8Array {
  const t = new TableWriter(RSDP_SIZE);
  t.ascii(0, 'RSD PTR ');
  t.ascii(9, OEM_ID);
  t.u8(15, RSDP_REVISION_2);
  t.u32(16, rsdt);
  t.u32(20, RSDP_SIZE);
  t.u64(24, xsdt);
  t.u8(8, checksumOf(t.bytes, 0, RSDP_V1_SIZE));
  t.u8(32, checksumOf(t.bytes, 0, RSDP_SIZE));
  return t.bytes;
}

/** RSDT: 32-bit pointers to the other description tables. */
export function buildRsdt(entries: readonly number[]): Uint8Array {
  const t = new TableWriter(SDT_HEADER_SIZE + 4 * entries.length);
  entries.forEach((address, i) => t.u32(SDT_HEADER_SIZE + 4 * i, address));
  return t.header('RSDT', 1);
}

/** XSDT: the same pointers, 64 bits wide (preferred by ACPI 2.0+ operating systems). */
export function buildXsdt(entries: readonly number[]): Uint8Array {
  const t = new TableWriter(SDT_HEADER_SIZE + 8 * entries.length);
  entries.forEach((address, i) => t.u64(SDT_HEADER_SIZE + 8 * i, address));
  return t.header('XSDT', 1);
}

/** FACS: no firmware waking vector (no S3), global lock free. */
export function buildFacs(): Uint8Array {
  const t = new TableWriter(FACS_SIZE);
  t.ascii(0, 'FACS');
  t.u32(4, FACS_SIZE);
  t.u8(32, FACS_VERSION);
  return t.bytes;
}

/** DSDT: the header around a definition block's AML. */
export function buildDsdt(aml: readonly number[]): Uint8Array {
  const t = new TableWriter(SDT_HEADER_SIZE + aml.length);
  t.bytes.set(aml, SDT_HEADER_SIZE);
  return t.header('DSDT', DSDT_REVISION);
}

// FADT fields (5.2.9, Table 5.9).
const FADT_FIRMWARE_CTRL = 36;
const FADT_DSDT = 40;
const FADT_SCI_INT = 46;
const FADT_PM1A_EVT_BLK = 56;
const FADT_PM1A_CNT_BLK = 64;
const FADT_PM_TMR_BLK = 76;
const FADT_PM1_EVT_LEN = 88;
const FADT_PM1_CNT_LEN = 89;
const FADT_PM_TMR_LEN = 91;
const FADT_P_LVL2_LAT = 96;
const FADT_P_LVL3_LAT = 98;
const FADT_CENTURY = 108;
const FADT_IAPC_BOOT_ARCH = 109;
const FADT_FLAGS = 112;
const FADT_RESET_REG = 116;
const FADT_RESET_VALUE = 128;
const FADT_X_FIRMWARE_CTRL = 132;
const FADT_X_DSDT = 140;
const FADT_X_PM1A_EVT_BLK = 148;
const FADT_X_PM1A_CNT_BLK = 172;
const FADT_X_PM_TMR_BLK = 208;
/** P_LVL2_LAT above 100 µs and P_LVL3_LAT above 1000 µs say C2 and C3 are not supported. */
const NO_C2 = 101;
const NO_C3 = 1001;

// IAPC_BOOT_ARCH (5.2.9.3).
export const BOOT_ARCH_LEGACY_DEVICES = 1 << 0;
export const BOOT_ARCH_8042 = 1 << 1;
export const BOOT_ARCH_VGA_NOT_PRESENT = 1 << 2;

// Fixed feature flags (5.2.9, Table 5.10).
export const FADT_WBINVD = 1 << 0;
export const FADT_PROC_C1 = 1 << 2;
/** PWR_BUTTON / SLP_BUTTON set: the button is a control-method device or absent; clear: the fixed-feature one. */
export const FADT_PWR_BUTTON = 1 << 4;
export const FADT_SLP_BUTTON = 1 << 5;
/** FIX_RTC: RTC wake status is not in the fixed register space. */
export const FADT_FIX_RTC = 1 << 6;
export const FADT_RESET_REG_SUP = 1 << 10;

export interface FadtInput {
  readonly facs: number;
  readonly dsdt: number;
  readonly sciIrq: number;
  readonly pm1aEvent: GenericAddress;
  readonly pm1aControl: GenericAddress;
  readonly pmTimer: GenericAddress;
  readonly reset: { readonly register: GenericAddress; readonly value: number };
  /** CMOS index of the RTC's century byte. */
  readonly century: number;
  readonly bootArch: number;
  readonly flags: number;
}

/**
 * FADT with no SMI_CMD (the machine is always in ACPI mode, nothing to enable), no GPE blocks,
 * PM1b absent. The 32-bit block fields and their X_ forms agree, as ACPICA checks; the FACS is
 * given only as X_FIRMWARE_CTRL.
 */
export function buildFadt(input: FadtInput): Uint8Array {
  const t = new TableWriter(FADT_SIZE);
  // The spec wants FIRMWARE_CTRL zero when X_FIRMWARE_CTRL is given; DSDT may repeat X_DSDT.
  t.u32(FADT_FIRMWARE_CTRL, 0);
  t.u32(FADT_DSDT, input.dsdt);
  t.u16(FADT_SCI_INT, input.sciIrq);
  t.u32(FADT_PM1A_EVT_BLK, input.pm1aEvent.address);
  t.u32(FADT_PM1A_CNT_BLK, input.pm1aControl.address);
  t.u32(FADT_PM_TMR_BLK, input.pmTimer.address);
  t.u8(FADT_PM1_EVT_LEN, input.pm1aEvent.bitWidth / 8);
  t.u8(FADT_PM1_CNT_LEN, input.pm1aControl.bitWidth / 8);
  t.u8(FADT_PM_TMR_LEN, input.pmTimer.bitWidth / 8);
  t.u16(FADT_P_LVL2_LAT, NO_C2);
  t.u16(FADT_P_LVL3_LAT, NO_C3);
  t.u8(FADT_CENTURY, input.century);
  t.u16(FADT_IAPC_BOOT_ARCH, input.bootArch);
  t.u32(FADT_FLAGS, input.flags);
  t.gas(FADT_RESET_REG, input.reset.register);
  t.u8(FADT_RESET_VALUE, input.reset.value);
  t.u64(FADT_X_FIRMWARE_CTRL, input.facs);
  t.u64(FADT_X_DSDT, input.dsdt);
  t.gas(FADT_X_PM1A_EVT_BLK, input.pm1aEvent);
  t.gas(FADT_X_PM1A_CNT_BLK, input.pm1aControl);
  t.gas(FADT_X_PM_TMR_BLK, input.pmTimer);
  return t.header('FACP', FADT_REVISION);
}
