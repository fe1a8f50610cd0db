// Resource descriptors for _CRS buffers (ACPI 6.5, 6.4 "Resource Data Types for ACPI").

/** Large item 0x86, Memory32Fixed: read-write flag, base, length (6.4.3.4). */
const MEMORY32_FIXED = 0x86;
const MEMORY32_FIXED_LENGTH = 9;
const READ_WRITE = 0x01;
/** Small item type 4 (IRQ) with two data bytes: the mask only, meaning edge-triggered, active-high (6.4.2.1). */
const IRQ_NO_FLAGS = (0x04 << 3) | 2;
/** Small item type 0xF (End Tag) with one data byte: the checksum (6.4.2.9). */
const END_TAG = (0x0f << 3) | 1;

/** Memory32Fixed(ReadWrite, base, length). */
export function memory32Fixed(base: number, length: number): number[] {
  return [MEMORY32_FIXED, MEMORY32_FIXED_LENGTH, 0, READ_WRITE, ...le32(base), ...le32(length)];
}

/** IRQNoFlags() {irq}: one ISA IRQ (0-15), edge-triggered active-high, as PIC-mode ISA devices use. */
export function irqNoFlags(irq: number): number[] {
  if (!Number.isInteger(irq) || irq < 0 || irq > 15) throw new RangeError(`ISA IRQ ${irq} is not 0-15`);
  const mask = 1 << irq;
  return [IRQ_NO_FLAGS, mask & 0xff, mask >> 8];
}

/** ResourceTemplate() { descriptors }: the descriptors plus an End Tag whose checksum makes the sum 0. */
export function resourceTemplate(...descriptors: number[][]): number[] {
  const bytes = [...descriptors.flat(), END_TAG];
  const sum = bytes.reduce((total, byte) => total + byte, 0);
  return [...bytes, (0x100 - (sum & 0xff)) & 0xff];
}

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}
