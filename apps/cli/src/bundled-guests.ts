import { GUESTS, readGuestImage, type GuestName } from '@ringvisor/guests';
import type { BootImage } from '@ringvisor/hypervisor-type2';

export function bundledGuestNames(): string[] {
  return Object.keys(GUESTS);
}

/** `name  description` lines for `ringvisor guests`. */
export function bundledGuestList(): string[] {
  const names = bundledGuestNames();
  const width = Math.max(...names.map((name) => name.length)) + 2;
  return Object.values(GUESTS).map((guest) => `${guest.name.padEnd(width)}${guest.description}`);
}

/** The boot image of a bundled guest, in the format its metadata gives. */
export function bundledGuest(name: string): BootImage {
  const guest = GUESTS[name as GuestName];
  const image = readGuestImage(guest.name);
  if (guest.format.kind === 'flat') return { kind: 'flat', image, address: guest.format.loadAddress };
  return { kind: 'multiboot', image };
}
