import { describe, expect, it } from 'vitest';
import { BufferSerialBackend } from '@ringvisor/devices';
import { AmlError, integer, nameSeg, pkgLength, scope } from '../src/acpi/aml.js';
import { irqNoFlags, resourceTemplate } from '../src/acpi/resources.js';
import { checksumOf } from '../src/acpi/tables.js';
import {
  ACPI_TABLES_ADDRESS, IRQ_SCI, PcBoard, VIRTIO_MMIO_IRQS, VirtualClock, ZERO_PAGE_ADDRESS, buildAcpiTables,
  loadLinux, pcMemoryMap, type AcpiPlatform,
} from '../src/index.js';
import { AmlReader, decodeResources, type AmlNode } from './support/aml-decoder.js';
import { buildBzImage } from './support/images.js';
import { TestMemory } from './support/test-memory.js';

const MiB = 1024 * 1024;
const board = () => new PcBoard({
  ramSize: 64 * MiB, clock: new VirtualClock(), serial: new BufferSerialBackend(16),
  virtio: [{ kind: 'rng' }, { kind: 'rng' }, { kind: 'rng' }],
});

const text = (bytes: Uint8Array, at: number, length: number) => String.fromCharCode(...bytes.subarray(at, at + length));
const u8 = (bytes: Uint8Array, at: number) => bytes[at];
const u16 = (bytes: Uint8Array, at: number) => new DataView(bytes.buffer, bytes.byteOffset).getUint16(at, true);
const u32 = (bytes: Uint8Array, at: number) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
const u64 = (bytes: Uint8Array, at: number) => Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(at, true));
const sum = (bytes: Uint8Array) => bytes.reduce((total, b) => total + b, 0) & 0xff;

/** The table at guest address `address` inside the block built at `base`, by its header's length. */
function tableAt(tables: { bytes: Uint8Array; address: number }, address: number): Uint8Array {
  const offset = address - tables.address;
  return tables.bytes.subarray(offset, offset + u32(tables.bytes, offset + 4));
}

describe('AML encoding', () => {
  it('encodes PkgLength in one byte up to 63 and in lead + follow bytes beyond, counting itself', () => {
    expect(pkgLength(0)).toEqual([1]);
    expect(pkgLength(62)).toEqual([63]);
    expect(pkgLength(63)).toEqual([0x41, 0x04]); // 65 = 0x41: low nibble 1, then 0x04
    expect(pkgLength(4093)).toEqual([0x4f, 0xff]); // 4095, the two-byte maximum
    expect(pkgLength(4094)).toEqual([0x81, 0x00, 0x01]); // 4097 = 0x1001
    expect(() => pkgLength(2 ** 28)).toThrow(AmlError);
  });

  it('round-trips scopes of every PkgLength size through an independent decoder', () => {
    for (const size of [0, 1, 50, 62, 63, 64, 300, 4090, 5000, 70_000]) {
      const names = Array.from({ length: Math.ceil(size / 6) }, (_, i) => [0x08, ...nameSeg(`N${(i % 1000).toString().padStart(3, '0')}`), 0x00]);
      const aml = scope('\\_SB_', ...names);
      const [node] = new AmlReader(Uint8Array.from(aml)).terms();
      expect(node).toMatchObject({ op: 'scope', name: '\\_SB_' });
      expect((node as { children: AmlNode[] }).children).toHaveLength(names.length);
    }
  });

  it('picks the shortest integer encoding and refuses bad names and values', () => {
    expect(integer(0)).toEqual([0x00]);
    expect(integer(1)).toEqual([0x01]);
    expect(integer(5)).toEqual([0x0a, 5]);
    expect(integer(0x1234)).toEqual([0x0b, 0x34, 0x12]);
    expect(integer(0xd0000000)).toEqual([0x0c, 0, 0, 0, 0xd0]);
    expect(integer(2 ** 40)).toEqual([0x0e, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(() => integer(-1)).toThrow(AmlError);
    expect(nameSeg('_S5')).toEqual([0x5f, 0x53, 0x35, 0x5f]);
    expect(() => nameSeg('1ABC')).toThrow(AmlError);
    expect(() => nameSeg('abcd')).toThrow(AmlError);
    expect(() => nameSeg('TOOLONG')).toThrow(AmlError);
  });

  it('closes resource templates with an End Tag whose checksum makes the bytes sum to zero', () => {
    const template = resourceTemplate(irqNoFlags(11));
    expect(template.slice(0, 4)).toEqual([0x22, 0x00, 0x08, 0x79]);
    expect(template.reduce((a, b) => a + b, 0) & 0xff).toBe(0);
    expect(() => irqNoFlags(16)).toThrow(RangeError);
  });
});

describe('the board\'s ACPI tables', () => {
  const platform: AcpiPlatform = board().acpi;
  const tables = buildAcpiTables(platform, ACPI_TABLES_ADDRESS);
  const rsdp = tables.bytes.subarray(0, 36);

  it('start with an RSDP (revision 2) whose two checksums hold', () => {
    expect(tables.rsdp).toBe(ACPI_TABLES_ADDRESS);
    expect(text(rsdp, 0, 8)).toBe('RSD PTR ');
    expect(u8(rsdp, 15)).toBe(2);
    expect(u32(rsdp, 20)).toBe(36);
    expect(sum(rsdp.subarray(0, 20))).toBe(0);
    expect(sum(rsdp)).toBe(0);
  });

  it('list the FADT from both the RSDT and the XSDT, every table checksummed', () => {
    const rsdt = tableAt(tables, u32(rsdp, 16));
    const xsdt = tableAt(tables, u64(rsdp, 24));
    expect(text(rsdt, 0, 4)).toBe('RSDT');
    expect(text(xsdt, 0, 4)).toBe('XSDT');
    expect(rsdt.length).toBe(40);
    expect(xsdt.length).toBe(44);
    expect(u32(rsdt, 36)).toBe(u64(xsdt, 36));
    const fadt = tableAt(tables, u32(rsdt, 36));
    const dsdt = tableAt(tables, u64(fadt, 140));
    for (const table of [rsdt, xsdt, fadt, dsdt]) {
      expect(sum(table)).toBe(0);
      expect(text(table, 10, 6)).toBe('RINGVS');
    }
    expect(checksumOf(Uint8Array.of(1, 2, 3))).toBe(250);
  });

  it('describe the PM registers, SCI, reset register and RTC century in the FADT', () => {
    const fadt = tableAt(tables, u32(tableAt(tables, u32(rsdp, 16)), 36));
    expect(text(fadt, 0, 4)).toBe('FACP');
    expect(fadt.length).toBe(244);
    expect(u16(fadt, 46)).toBe(IRQ_SCI);
    expect(u32(fadt, 48)).toBe(0); // no SMI_CMD: always in ACPI mode
    expect([u32(fadt, 56), u32(fadt, 64), u32(fadt, 76)]).toEqual([0x600, 0x604, 0x608]);
    expect([u8(fadt, 88), u8(fadt, 89), u8(fadt, 91)]).toEqual([4, 2, 4]);
    expect(u8(fadt, 108)).toBe(0x32);
    expect(u32(fadt, 112) & (1 << 10)).not.toBe(0); // RESET_REG_SUP
    expect(u32(fadt, 112) & (1 << 4)).toBe(0); // PWR_BUTTON clear: the fixed-feature power button
    expect(u32(fadt, 112) & (1 << 5)).not.toBe(0); // SLP_BUTTON set: no sleep button
    expect(Array.from(fadt.subarray(116, 120))).toEqual([1, 8, 0, 1]); // system I/O, 8 bits, byte access
    expect(u64(fadt, 120)).toBe(0xcf9);
    expect(u8(fadt, 128)).toBe(6);
    // 32-bit fields agree with their X_ forms; the FACS only in X_FIRMWARE_CTRL.
    expect(u64(fadt, 140)).toBe(u32(fadt, 40));
    expect(u64(fadt, 148 + 4)).toBe(0x600);
    expect(u8(fadt, 148 + 1)).toBe(32);
    expect(u64(fadt, 172 + 4)).toBe(0x604);
    expect(u8(fadt, 172 + 1)).toBe(16);
    expect(u64(fadt, 208 + 4)).toBe(0x608);
    expect(u32(fadt, 36)).toBe(0);
    const facsAt = u64(fadt, 132);
    expect(facsAt % 64).toBe(0);
    const facs = tables.bytes.subarray(facsAt - tables.address, facsAt - tables.address + 64);
    expect(text(facs, 0, 4)).toBe('FACS');
    expect(u32(facs, 4)).toBe(64);
  });

  it('name \\_S5 and every virtio-mmio slot (LNRO0005, its window and IRQ) in the DSDT', () => {
    const fadt = tableAt(tables, u32(tableAt(tables, u32(rsdp, 16)), 36));
    const dsdt = tableAt(tables, u32(fadt, 40));
    expect(text(dsdt, 0, 4)).toBe('DSDT');
    const tree = new AmlReader(dsdt.subarray(36)).terms();
    expect(tree[0]).toEqual({ op: 'name', name: '\\_S5_', value: { package: [5, 5, 0, 0] } });
    const sb = tree[1] as { op: string; name: string; children: AmlNode[] };
    expect(sb).toMatchObject({ op: 'scope', name: '\\_SB_' });
    expect(sb.children.map((d) => (d as { name: string }).name)).toEqual(['VR00', 'VR01', 'VR02']);
    sb.children.forEach((node, index) => {
      const children = (node as { children: AmlNode[] }).children;
      const value = (n: string) => (children.find((c) => c.op === 'name' && c.name === n) as { value: unknown }).value;
      expect(value('_HID')).toBe('LNRO0005');
      expect(value('_UID')).toBe(index);
      const crs = decodeResources((value('_CRS') as { buffer: number[] }).buffer);
      expect(crs).toEqual([
        { type: 'Memory32Fixed', writable: 1, base: 0xd0000000 + index * 0x1000, length: 0x1000 },
        { type: 'IRQ', mask: 1 << VIRTIO_MMIO_IRQS[index], flags: 'edge-high' },
      ]);
    });
  });

  it('keep the SCI off every virtio line (edge-triggered 8259 inputs cannot be shared)', () => {
    expect(VIRTIO_MMIO_IRQS).not.toContain(IRQ_SCI);
    expect(new Set(VIRTIO_MMIO_IRQS).size).toBe(VIRTIO_MMIO_IRQS.length);
  });
});

describe('loadLinux with ACPI', () => {
  const kernel = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);

  it('places the tables, tells the kernel through acpi_rsdp_addr and the EBDA, and lists them in e820', () => {
    const pc = board();
    const mem = new TestMemory(pc.memoryMap.regions);
    loadLinux(mem, buildBzImage(kernel), { memoryMap: pc.memoryMap, cmdline: 'console=ttyS0', acpi: pc.acpi });
    const zp = ZERO_PAGE_ADDRESS;
    expect(mem.readU64(zp + 0x070)).toBe(BigInt(ACPI_TABLES_ADDRESS));
    expect(mem.read16(0x40e) << 4).toBe(ACPI_TABLES_ADDRESS);
    const built = buildAcpiTables(pc.acpi, ACPI_TABLES_ADDRESS).bytes;
    expect(mem.view(ACPI_TABLES_ADDRESS, built.length)).toEqual(built);
    expect(mem.cString(0x20000)).toBe('console=ttyS0'); // the DSDT announces the slots instead
    const e820 = Array.from({ length: mem.read8(zp + 0x1e8) }, (_, i) => {
      const entry = zp + 0x2d0 + i * 20;
      return [Number(mem.readU64(entry)), Number(mem.readU64(entry + 8)), mem.read32(entry + 16)];
    });
    expect(e820.slice(0, 3)).toEqual([[0, 0x9f000, 1], [0x9f000, 0x1000, 3], [0xa0000, 0x60000, 2]]);
    expect(e820[3]).toEqual([0x100000, 63 * MiB, 1]);
  });

  it('still announces the slots on the command line without ACPI', () => {
    const map = pcMemoryMap({ ramSize: 64 * MiB, virtioSlots: 1 });
    const mem = new TestMemory(map.regions);
    loadLinux(mem, buildBzImage(kernel), { memoryMap: map });
    expect(mem.cString(0x20000)).toBe('virtio_mmio.device=4K@0xd0000000:5');
    expect(mem.readU64(ZERO_PAGE_ADDRESS + 0x070)).toBe(0n);
  });
});

describe('the board\'s ACPI power management', () => {
  it('powers off on SLP_EN with \\_S5\'s type and resets through 0xCF9', () => {
    const pc = board();
    pc.io.write(0x604, 2, (5 << 10) | (1 << 13));
    expect(pc.shutdownRequest).toEqual({ cause: 'power-off' });
    const other = board();
    other.io.write(0xcf9, 1, 0x06);
    expect(other.shutdownRequest).toEqual({ cause: 'reset', source: 'reset-control' });
  });

  it('presses the power button: PWRBTN_STS, the SCI on IRQ 9 once enabled, a power-off only when the OS asks', () => {
    const pc = board();
    pc.io.write(0x21, 1, 0xfb); // unmask the cascade...
    pc.io.write(0xa1, 1, 0xfd); // ...and IRQ 9
    pc.pressPowerButton();
    expect(pc.io.read(0x600, 2) & (1 << 8)).not.toBe(0);
    expect(pc.pic.pending()).toBe(false); // PWRBTN_EN clear: status only
    pc.io.write(0x602, 2, 1 << 8);
    expect(pc.pic.pending()).toBe(true);
    expect(pc.shutdownRequest).toBeNull();
    // What an OS's SCI handler does: clear the status, then enter \_S5.
    pc.io.write(0x600, 2, 1 << 8);
    expect(pc.io.read(0x600, 2) & (1 << 8)).toBe(0);
    pc.io.write(0x604, 2, (5 << 10) | (1 << 13));
    expect(pc.shutdownRequest).toEqual({ cause: 'power-off' });
  });

  it('ignores garbage in PM1 control: other sleep types, odd widths, no SLP_EN', () => {
    const pc = board();
    for (const [port, size, value] of [[0x604, 2, 0xffff & ~(1 << 13)], [0x604, 2, (3 << 10) | (1 << 13)],
      [0x605, 1, 0x1c], [0x603, 2, 0xff00], [0x606, 4, 0xffffffff], [0x604, 4, 0x0000_1c00]] as const) {
      pc.io.write(port, size, value);
    }
    expect(pc.shutdownRequest).toBeNull();
  });
});
