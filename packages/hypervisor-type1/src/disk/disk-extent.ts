// A domain's virtual disk as a byte range of a host file: the whole of its own file, or its slice of
// the platform's physical disk. Every request is checked against the range here, whatever the
// device above already checked, so no request reaches bytes of the file outside the domain's part.
import { FileBlockBackend } from '@ringvisor/devices';
import type { BlockBackend } from '@ringvisor/devices';

/**
 * Where a domain's disk lies: `size` bytes of `path` from byte `offset`, and whether the domain
 * may only read them (plain data: it crosses threads).
 */
export interface DiskExtent {
  readonly path: string;
  readonly offset: number;
  readonly size: number;
  readonly readOnly: boolean;
}

/** A request outside the domain's range: the virtio-blk device answers it with VIRTIO_BLK_S_IOERR. */
export class DiskRangeError extends RangeError {
  constructor(extent: DiskExtent, offset: number, length: number) {
    super(`disk request at ${offset}+${length} is outside the domain's ${extent.size} bytes of ${extent.path}`);
    this.name = 'DiskRangeError';
  }
}

/**
 * The block back end of a domain's disk: its own descriptor on the file, confined to the extent. A
 * read-only extent's file is opened read-only: the device offers VIRTIO_BLK_F_RO (blkif:
 * VDISK_READONLY) and answers writes with an error before they come here.
 */
export class DiskExtentBackend implements BlockBackend {
  readonly readOnly: boolean;
  private readonly file: FileBlockBackend;

  /** Opens the file (read-write unless the extent is read-only); throws when it cannot be opened or is shorter than the extent. */
  constructor(readonly extent: DiskExtent) {
    this.readOnly = extent.readOnly;
    this.file = new FileBlockBackend(extent.path, { readOnly: extent.readOnly });
    if (this.file.size < extent.offset + extent.size) {
      const size = this.file.size;
      this.file.close();
      throw new RangeError(`${extent.path} has ${size} bytes; the disk needs bytes ${extent.offset}..${extent.offset + extent.size - 1}`);
    }
  }

  get size(): number {
    return this.extent.size;
  }

  read(offset: number, into: Uint8Array): void {
    this.file.read(this.at(offset, into.length), into);
  }

  write(offset: number, from: Uint8Array): void {
    this.file.write(this.at(offset, from.length), from);
  }

  flush(): void {
    this.file.flush();
  }

  discard(offset: number, length: number): void {
    this.file.discard(this.at(offset, length), length);
  }

  close(): void {
    this.file.close();
  }

  /** The file offset of `[offset, offset + length)` of the disk; throws unless all of it is the domain's. */
  private at(offset: number, length: number): number {
    const size = this.extent.size;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || length > size - offset) {
      throw new DiskRangeError(this.extent, offset, length);
    }
    return this.extent.offset + offset;
  }
}
