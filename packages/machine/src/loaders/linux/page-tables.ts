import type { GuestWriter } from '../guest-writer.js';

/** Firecracker's layout: PML4 at 0x9000, PDPT at 0xa000, page directories from 0xb000. */
export const PML4_ADDRESS = 0x9000;
const PDPT_OFFSET = 0x1000;
const PD_OFFSET = 0x2000;
/** Identity-map the first 4 GiB (four page directories of 512 × 2 MiB pages). */
const PD_COUNT = 4;
const PRESENT_WRITABLE = 0x3;
const PAGE_SIZE_2M = 0x80;
const TWO_MIB = 0x200000;

/** Writes 4-level tables identity-mapping 0..4 GiB with 2 MiB pages; returns CR3. */
export function writeIdentityPageTables(writer: GuestWriter): number {
  const tables = new DataView(new ArrayBuffer(PD_OFFSET + PD_COUNT * 0x1000));
  tables.setBigUint64(0, BigInt(PML4_ADDRESS + PDPT_OFFSET + PRESENT_WRITABLE), true);
  for (let pd = 0; pd < PD_COUNT; pd++) {
    const table = PD_OFFSET + pd * 0x1000;
    tables.setBigUint64(PDPT_OFFSET + pd * 8, BigInt(PML4_ADDRESS + table + PRESENT_WRITABLE), true);
    for (let entry = 0; entry < 512; entry++) {
      const frame = (pd * 512 + entry) * TWO_MIB;
      tables.setBigUint64(table + entry * 8, BigInt(frame + PRESENT_WRITABLE + PAGE_SIZE_2M), true);
    }
  }
  writer.bytes(PML4_ADDRESS, new Uint8Array(tables.buffer), 'identity page tables');
  return PML4_ADDRESS;
}
