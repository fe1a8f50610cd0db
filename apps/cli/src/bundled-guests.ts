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

/** How a bundled guest boots, in the format its metadata gives: a firmware guest is the ROM itself. */
export function bundledGuest(name: string): { boot: BootImage; firmware?: Uint8Array } {
  const guest = GUESTS[name as GuestName];
  const image = readGuestImage(guest.name);
  switch (guest.format.kind) {
    case 'flat': return { boot: { kind: 'flat', image, address: guest.format.loadAddress } };
    case 'firmware': return { boot: { kind: 'firmware' }, firmware: image };
    case 'xen-pv': return { boot: { kind: 'xen-pv', image } };
    default: return { boot: { kind: 'multiboot', image } };
  }
}
