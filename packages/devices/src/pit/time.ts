import { PIT_HZ } from './registers.js';

const NS_PER_S = 1_000_000_000;

// Both conversions split off whole seconds so that products stay far below 2^53 for any VM
// lifetime: ns * PIT_HZ alone would lose precision after 7.5 s.

/** Whole PIT input-clock ticks elapsed in `ns` nanoseconds. */
export function ticksIn(ns: number): number {
  const seconds = Math.floor(ns / NS_PER_S);
  const rest = ns - seconds * NS_PER_S;
  return seconds * PIT_HZ + Math.floor((rest * PIT_HZ) / NS_PER_S);
}

/** The first whole nanosecond by which `ticks` ticks have elapsed. */
export function nsForTicks(ticks: number): number {
  const seconds = Math.floor(ticks / PIT_HZ);
  const rest = ticks - seconds * PIT_HZ;
  return seconds * NS_PER_S + Math.ceil((rest * NS_PER_S) / PIT_HZ);
}

/** Binary value of a BCD word; nibbles above 9 count at face value so garbage stays defined. */
export function fromBcd(value: number): number {
  return ((value >> 12) & 0xf) * 1000 + ((value >> 8) & 0xf) * 100 + ((value >> 4) & 0xf) * 10 + (value & 0xf);
}

/** BCD word of a value 0-9999. */
export function toBcd(value: number): number {
  return ((Math.floor(value / 1000) % 10) << 12) | ((Math.floor(value / 100) % 10) << 8) | ((Math.floor(value / 10) % 10) << 4) | (value % 10);
}
