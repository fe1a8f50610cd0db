// Where a domain's disk lies on the host, decided when the domain is created: a slice of the
// platform's physical disk, or the whole of its own file at its length then. Two live domains never
// share bytes of one file (as Xen refuses a writable disk already attached to another domain).
import { realpathSync, statSync } from 'node:fs';
import type { DomainDisk } from '../platform/schema.js';
import type { DiskExtent } from './disk-extent.js';

/** The extent of `disk`; throws with a line that says why it cannot be attached. */
export function diskExtentOf(disk: DomainDisk, platformDisk: string | undefined): DiskExtent {
  const name = disk.kind === 'file' ? disk.path : platformDisk;
  if (name === undefined) throw new Error('disk: a slice needs the platform\'s "disk"');
  let path: string;
  let length: number;
  try {
    // The real path, so that two names of one file are seen to be one disk.
    path = realpathSync(name);
    length = statSync(path).size;
  } catch (error) {
    throw new Error(`disk: ${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (disk.kind === 'file') return { path, offset: 0, size: length };
  if (disk.offset + disk.size > length) {
    throw new Error(`disk: the slice ${disk.offset}+${disk.size} ends past the platform disk ${name} (${length} bytes)`);
  }
  return { path, offset: disk.offset, size: disk.size };
}

/** True when the two extents share a byte of one file. */
export function extentsOverlap(a: DiskExtent, b: DiskExtent): boolean {
  return a.path === b.path && a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}
