import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GUESTS, type GuestName } from './images.js';

/** images/ sits beside src/ and dist/, so the same relative URL works from both (and installed). */
const IMAGES_DIR = new URL('../images/', import.meta.url);

/** Absolute path of a guest's prebuilt image. */
export function guestImagePath(name: GuestName): string {
  return fileURLToPath(new URL(GUESTS[name].file, IMAGES_DIR));
}

/** The image's bytes. */
export function readGuestImage(name: GuestName): Uint8Array {
  return new Uint8Array(readFileSync(guestImagePath(name)));
}
