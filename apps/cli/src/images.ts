import { readFileSync, statSync } from 'node:fs';
import { hasXenNotes, type BootImage } from '@ringvisor/hypervisor-type2';
import { UsageError } from './args.js';

/** Reads a file the user named, or fails with one line saying which and why. */
export function readUserFile(path: string, what: string): Uint8Array {
  try {
    if (statSync(path).isDirectory()) throw new UsageError(`${what} ${path} is a directory`);
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new UsageError(`cannot read ${what} ${path}: ${why}`);
  }
}

/** Checks a host file the VM will open itself (a disk): it must exist and be a regular file. */
export function checkDiskFile(path: string): void {
  try {
    if (!statSync(path).isFile()) throw new UsageError(`disk ${path} is not a regular file`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot open disk ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

/** The Multiboot (v1) header must sit 4-aligned in the first 8 KiB. */
const MULTIBOOT_MAGIC = 0x1badb002;
const MULTIBOOT_SEARCH = 8192;

function hasMultibootHeader(image: Uint8Array): boolean {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const end = Math.min(image.length, MULTIBOOT_SEARCH) - 12;
  for (let offset = 0; offset <= end; offset += 4) {
    if (view.getUint32(offset, true) !== MULTIBOOT_MAGIC) continue;
    const flags = view.getUint32(offset + 4, true);
    if (((MULTIBOOT_MAGIC + flags + view.getUint32(offset + 8, true)) >>> 0) === 0) return true;
  }
  return false;
}

/** A bzImage carries "HdrS" at 0x202 (Linux boot protocol, setup header). */
function isLinuxKernel(image: Uint8Array): boolean {
  return image.length > 0x206 && String.fromCharCode(...image.subarray(0x202, 0x206)) === 'HdrS';
}

export interface ImageChoice {
  readonly multiboot: boolean;
  readonly flat?: number;
  readonly append?: string;
}

/** The boot image for a file given as `run IMAGE`: format from the flags, else from its contents. */
export function bootImageFromFile(path: string, choice: ImageChoice): BootImage {
  const image = readUserFile(path, 'image');
  if (choice.flat !== undefined) return { kind: 'flat', image, address: choice.flat };
  if (choice.multiboot || hasMultibootHeader(image)) {
    if (choice.multiboot && !hasMultibootHeader(image)) {
      throw new UsageError(`${path} has no Multiboot header in its first 8 KiB`);
    }
    return { kind: 'multiboot', image, cmdline: choice.append };
  }
  if (isLinuxKernel(image)) return { kind: 'linux', kernel: image, cmdline: choice.append };
  if (hasXenNotes(image)) return { kind: 'xen-pv', image, cmdline: choice.append };
  throw new UsageError(`cannot tell how to boot ${path}: not Multiboot, not a Linux bzImage, not a Xen PV kernel; give --flat ADDR for a raw binary`);
}
