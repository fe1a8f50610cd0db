import type { GuestMemory } from '@ringvisor/vmm-api';
import { protectedModeEntry, realModeEntry, type EntryState } from '../entry-state.js';
import { LoaderError, hex } from '../loader-error.js';
import { BOOT_CS, BOOT_DS, overlapsBootGdt, writeBootGdt } from './boot-gdt.js';
import { GuestWriter } from './guest-writer.js';

export interface FlatBinaryOptions {
  /** Guest-physical load address of the first byte. */
  readonly address: number;
  /** 'real': CS:IP in real mode; 'protected': flat 32-bit protected mode, paging off. */
  readonly mode: 'real' | 'protected';
  /** Entry point as a guest-physical address; defaults to the load address. */
  readonly entry?: number;
  /** Initial stack pointer as a guest-physical address; defaults to just below the load address. */
  readonly stackTop?: number;
}

const REAL_MODE_LIMIT = 0x100000;

function realMode(options: FlatBinaryOptions, entry: number, end: number): EntryState {
  if (end > REAL_MODE_LIMIT || entry >= REAL_MODE_LIMIT) {
    throw new LoaderError('flat', `real-mode image must lie below 1 MiB (ends at ${hex(end)}, entry ${hex(entry)})`);
  }
  // Boot-sector convention: segment 0 when the entry fits in 64 KiB, otherwise a paragraph segment.
  const cs = entry < 0x10000 ? 0 : entry >>> 4;
  const ip = entry - cs * 16;
  const stackTop = options.stackTop ?? options.address;
  if (stackTop > 0x10000) {
    throw new LoaderError('flat', `real-mode stack top ${hex(stackTop)} must lie in the first 64 KiB`);
  }
  return realModeEntry(cs, ip, 0, stackTop & 0xffff);
}

/** Copies a flat binary to `address` and returns the entry state for the chosen mode. */
export function loadFlatBinary(memory: GuestMemory, image: Uint8Array, options: FlatBinaryOptions): EntryState {
  const writer = new GuestWriter(memory, 'flat');
  const { address } = options;
  const entry = options.entry ?? address;
  writer.checkRange(address, image.length, 'image');
  if (image.length === 0) throw new LoaderError('flat', 'image is empty');
  if (!(entry >= address && entry < address + image.length)) {
    throw new LoaderError('flat', `entry ${hex(entry)} is outside the image ${hex(address)}..${hex(address + image.length)}`);
  }
  if (options.mode === 'real') {
    const state = realMode(options, entry, address + image.length);
    writer.bytes(address, image, 'image');
    return state;
  }
  if (overlapsBootGdt(address, image.length)) {
    throw new LoaderError('flat', `image at ${hex(address)} overlaps the boot GDT; load it elsewhere`);
  }
  writer.bytes(address, image, 'image');
  const state = protectedModeEntry(entry, BOOT_CS, BOOT_DS, writeBootGdt(writer, 'code32'));
  return { regs: { ...state.regs, esp: options.stackTop ?? address }, sregs: state.sregs };
}
