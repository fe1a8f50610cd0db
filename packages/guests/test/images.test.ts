import { existsSync, statSync } from 'node:fs';
import { findMultibootHeader } from '@ringvisor/machine';
import { describe, expect, it } from 'vitest';
import { GUESTS, guestImagePath, readGuestImage, type GuestName } from '../src/index.js';

/** The ELF entry as a physical address (through the segment holding it) and the lowest load address. */
function elfFacts(image: Uint8Array): { entry: number; lowestPaddr: number } {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const phoff = view.getUint32(28, true);
  const phnum = view.getUint16(44, true);
  const virtualEntry = view.getUint32(24, true);
  let lowestPaddr = Infinity;
  let entry = virtualEntry;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * 32;
    if (view.getUint32(at, true) !== 1) continue;
    const vaddr = view.getUint32(at + 8, true);
    const paddr = view.getUint32(at + 12, true);
    lowestPaddr = Math.min(lowestPaddr, paddr);
    if (virtualEntry >= vaddr && virtualEntry < vaddr + view.getUint32(at + 20, true)) entry = paddr + virtualEntry - vaddr;
  }
  return { entry, lowestPaddr };
}

/** The notes of an ELF32 image's PT_NOTE segments named `owner`: type -> descriptor bytes. */
function elfNotes(image: Uint8Array, owner: string): Map<number, Uint8Array> {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const phoff = view.getUint32(28, true);
  const notes = new Map<number, Uint8Array>();
  const align4 = (n: number) => (n + 3) & ~3;
  for (let i = 0; i < view.getUint16(44, true); i++) {
    const at = phoff + i * 32;
    if (view.getUint32(at, true) !== 4) continue; // PT_NOTE
    const start = view.getUint32(at + 4, true);
    const end = start + view.getUint32(at + 16, true);
    for (let cursor = start; cursor + 12 <= end;) {
      const nameSize = view.getUint32(cursor, true);
      const descSize = view.getUint32(cursor + 4, true);
      const type = view.getUint32(cursor + 8, true);
      const name = new TextDecoder().decode(image.subarray(cursor + 12, cursor + 12 + nameSize - 1));
      const desc = cursor + 12 + align4(nameSize);
      if (name === owner) notes.set(type, image.subarray(desc, desc + descSize));
      cursor = desc + align4(descSize);
    }
  }
  return notes;
}

describe('prebuilt guest images', () => {
  const names = Object.keys(GUESTS) as GuestName[];

  it.each(names)('%s exists where the metadata says, non-empty', (name) => {
    const path = guestImagePath(name);
    expect(existsSync(path)).toBe(true);
    expect(statSync(path).size).toBeGreaterThan(0);
    expect(GUESTS[name].name).toBe(name);
  });

  it.each(names.filter((name) => GUESTS[name].format.kind === 'multiboot'))(
    '%s has a valid multiboot header and matches its load address and entry', (name) => {
      const image = readGuestImage(name);
      const header = findMultibootHeader(image);
      expect(header).not.toBeNull();
      expect(header?.addresses).toBeUndefined();
      const format = GUESTS[name].format;
      if (format.kind !== 'multiboot') throw new Error(`${name} is not multiboot`);
      const facts = elfFacts(image);
      expect(facts.entry).toBe(format.entry);
      expect(facts.lowestPaddr).toBe(format.loadAddress);
      expect(image.length).toBeLessThan(64 * 1024);
    });

  it('firmware-hello is a ROM whose reset vector jumps to F000:F000', () => {
    const image = readGuestImage('firmware-hello');
    const format = GUESTS['firmware-hello'].format;
    expect(format).toEqual({ kind: 'firmware', size: image.length });
    expect(image.length).toBe(4096);
    expect([...image.subarray(0xff0, 0xff5)]).toEqual([0xea, 0x00, 0xf0, 0x00, 0xf0]);
  });

  it('hello-real is a small real-mode flat binary that ends in the exit-port write', () => {
    const image = readGuestImage('hello-real');
    expect(image.length).toBeLessThanOrEqual(512);
    expect(image[0]).toBe(0xfa); // CLI: the first instruction at the entry
    const text = new TextDecoder().decode(image);
    expect(text).toContain(GUESTS['hello-real'].expectedOutput);
    expect(findMultibootHeader(image)).toBeNull();
  });

  it('minikernel-pv carries the Xen ELF notes of the PV contract, and no multiboot header', () => {
    const image = readGuestImage('minikernel-pv');
    const notes = elfNotes(image, 'Xen');
    const text = (type: number) => new TextDecoder().decode(notes.get(type)).replace(/\0$/, '');
    const word = (type: number) => new DataView(notes.get(type)!.buffer, notes.get(type)!.byteOffset).getUint32(0, true);
    expect(text(6)).toBe('minikernel'); // GUEST_OS
    expect(text(5)).toBe('xen-3.0'); // XEN_VERSION
    expect(text(8)).toBe('generic'); // LOADER
    expect(text(9)).toBe('no'); // PAE_MODE
    expect(text(10)).toBe('!writable_page_tables'); // FEATURES
    expect(word(3)).toBe(0xc0000000); // VIRT_BASE
    expect(word(4)).toBe(0xc0000000); // PADDR_OFFSET
    const format = GUESTS['minikernel-pv'].format;
    expect(format.kind).toBe('xen-pv');
    expect(word(1)).toBe(format.kind === 'xen-pv' ? format.entry : -1); // ENTRY
    expect(word(1)).toBe(elfFacts(image).entry);
    expect(word(2) % 4096).toBe(0); // HYPERCALL_PAGE, page-aligned inside the image
    expect(word(2)).toBeGreaterThan(0xc0000000);
    expect(findMultibootHeader(image)).toBeNull();
  });
});
