// Where the Linux loader puts the board's ACPI tables, and how the kernel is told: the top 4 KiB of
// conventional memory (the usual EBDA spot), listed as e820 ACPI data, found through boot_params'
// acpi_rsdp_addr and, for kernels that scan instead, through the BDA's EBDA pointer (the RSDP opens
// the EBDA's first KiB, where the ACPI spec's search looks).
import { buildAcpiTables, type AcpiPlatform, type AcpiTables } from '../../acpi/platform-tables.js';
import { LoaderError, hex } from '../../loader-error.js';
import type { AddressRange } from '../../memory-map.js';
import type { GuestWriter } from '../guest-writer.js';

export const ACPI_TABLES_ADDRESS = 0x9f000;
export const ACPI_TABLES_SPACE = 0x1000;
/** BDA word holding the EBDA's real-mode segment. */
const BDA_EBDA_SEGMENT = 0x40e;

/** Writes the tables and the EBDA pointer; returns where they went. */
export function writeAcpiTables(writer: GuestWriter, platform: AcpiPlatform): AcpiTables {
  const tables = buildAcpiTables(platform, ACPI_TABLES_ADDRESS);
  if (tables.bytes.length > ACPI_TABLES_SPACE) {
    throw new LoaderError('linux', `ACPI tables need ${tables.bytes.length} bytes; ${ACPI_TABLES_SPACE} are set aside`);
  }
  writer.zeros(ACPI_TABLES_ADDRESS, ACPI_TABLES_SPACE, 'ACPI tables');
  writer.bytes(ACPI_TABLES_ADDRESS, tables.bytes, 'ACPI tables');
  writer.u16(BDA_EBDA_SEGMENT, ACPI_TABLES_ADDRESS >> 4, 'BDA EBDA pointer');
  return tables;
}

/** `ranges` with the tables' 4 KiB cut out of the RAM range holding them and listed as 'acpi'. */
export function rangesWithAcpi(ranges: readonly AddressRange[]): AddressRange[] {
  const start = ACPI_TABLES_ADDRESS;
  const end = start + ACPI_TABLES_SPACE;
  const holder = ranges.find((r) => r.type === 'ram' && r.base <= start && r.base + r.size >= end);
  if (!holder) throw new LoaderError('linux', `no RAM at ${hex(start)}..${hex(end)} for the ACPI tables`);
  return ranges.flatMap((r): AddressRange[] => {
    if (r !== holder) return [r];
    const parts: AddressRange[] = [];
    if (start > r.base) parts.push({ base: r.base, size: start - r.base, type: 'ram' });
    parts.push({ base: start, size: ACPI_TABLES_SPACE, type: 'acpi' });
    if (r.base + r.size > end) parts.push({ base: end, size: r.base + r.size - end, type: 'ram' });
    return parts;
  });
}
