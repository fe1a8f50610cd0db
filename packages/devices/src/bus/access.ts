import type { AccessSize } from '@ringvisor/vmm-api';

/** What an access of `size` bytes reads when nothing drives the bus: every data line pulled high. */
export function allOnes(size: AccessSize): number {
  return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
}

/** Keeps the low `size` bytes of `value` as an unsigned number. */
export function truncate(value: number, size: AccessSize): number {
  return size === 4 ? value >>> 0 : size === 2 ? value & 0xffff : value & 0xff;
}

/** A half-open range [base, base + length) of ports or addresses, as a device declares it. */
export interface BusRange {
  readonly base: number;
  readonly length: number;
}
