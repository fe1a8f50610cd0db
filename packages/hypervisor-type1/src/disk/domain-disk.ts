// Where a domain's disk lies on the host, decided when the domain is created: a slice of the
// platform's physical disk, or the whole of its own file at its length then. Two live domains share
// bytes of one file only when both have them read-only (as Xen refuses a disk already attached to
// another domain unless neither attaches it writable).
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
  const readOnly = disk.readOnly;
  if (disk.kind === 'file') return { path, offset: 0, size: length, readOnly };
  if (disk.offset + disk.size > length) {
    throw new Error(`disk: the slice ${disk.offset}+${disk.size} ends past the platform disk ${name} (${length} bytes)`);
  }
  return { path, offset: disk.offset, size: disk.size, readOnly };
}

/** True when the two extents share a byte of one file and one of them may write it. */
export function extentsConflict(a: DiskExtent, b: DiskExtent): boolean {
  return a.path === b.path && a.offset < b.offset + b.size && b.offset < a.offset + a.size && !(a.readOnly && b.readOnly);
}
