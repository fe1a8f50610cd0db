import { describe, expect, it } from 'vitest';
import { isXenElf, parseXenElf } from '../src/index.js';
import { assembleGuest, haveToolchain } from './pv-harness.js';

describe('Xen ELF images', () => {
  it('refuses what is not an x86-32 PV kernel, in one line', () => {
    expect(() => parseXenElf(new Uint8Array(10))).toThrow(/truncated ELF/);
    expect(() => parseXenElf(new Uint8Array(64))).toThrow(/not an ELF image/);
    const elf64 = new Uint8Array(64);
    elf64.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    expect(() => parseXenElf(elf64)).toThrow(/ELF32/);
    expect(isXenElf(elf64)).toBe(false);
  });

  it.skipIf(!haveToolchain())('reads the notes of an assembled guest', () => {
    const image = parseXenElf(assembleGuest('_start: jmp _start'));
    expect(image.virtBase).toBe(0xc0000000);
    expect(image.entry).toBe(0xc0000000);
    expect(image.guestOs).toBe('pvtest');
    expect(image.paeMode).toBe('no');
    expect(image.hypercallPage! & 0xfff).toBe(0);
  });

  it.skipIf(!haveToolchain())('refuses a PAE kernel and a note running past its segment', () => {
    const image = assembleGuest('_start: jmp _start');
    const text = Buffer.from(image).toString('latin1');
    const pae = Uint8Array.from(Buffer.from(text.replace('no\0\0', 'yes\0'), 'latin1'));
    expect(() => parseXenElf(pae)).toThrow(/PAE_MODE 'yes'/);
    const broken = image.slice();
    const note = text.indexOf('Xen\0') - 12;
    new DataView(broken.buffer).setUint32(note + 4, 0x7fffffff, true);
    expect(() => parseXenElf(broken)).toThrow(/note runs past/);
  });
});
