// A block backend on a host file (a raw disk image), using synchronous positioned I/O so that a
// request completes before the device puts it in the used ring; flush is fsync(2).
import fs from 'node:fs';
import type { BlockBackend } from './backend.js';

export interface FileBlockBackendOptions {
  /** Open the image read-only (O_RDONLY); the device then offers VIRTIO_BLK_F_RO. */
  readonly readOnly?: boolean;
}

/** Zeros written per call when a discard is carried out on a file. */
const ZERO_CHUNK = 64 * 1024;

export class FileBlockBackend implements BlockBackend {
  readonly path: string;
  readonly readOnly: boolean;
  private length: number;
  private fd: number | null;
  private zeros: Uint8Array | null = null;

  /** Opens an existing image; its current length is the disk size. Throws if it cannot be opened. */
  constructor(path: string, options: FileBlockBackendOptions = {}) {
    this.path = path;
    this.readOnly = options.readOnly ?? false;
    this.fd = fs.openSync(path, this.readOnly ? 'r' : 'r+');
    this.length = fs.fstatSync(this.fd).size;
  }

  get size(): number {
    return this.length;
  }

  /** Re-reads the file's length after the host resized it; follow with `VirtioBlock.refreshCapacity()`. */
  refreshSize(): void {
    this.length = fs.fstatSync(this.openFd()).size;
  }

  read(offset: number, into: Uint8Array): void {
    const fd = this.openFd();
    let done = 0;
    while (done < into.length) {
      const n = fs.readSync(fd, into, done, into.length - done, offset + done);
      if (n === 0) {
        // The file shrank under us: what is not there reads as zeros, like a sparse hole.
        into.fill(0, done);
        return;
      }
      done += n;
    }
  }

  write(offset: number, from: Uint8Array): void {
    const fd = this.openFd();
    if (this.readOnly) throw new Error(`${this.path} is open read-only`);
    let done = 0;
    while (done < from.length) {
      done += fs.writeSync(fd, from, done, from.length - done, offset + done);
    }
  }

  flush(): void {
    fs.fsyncSync(this.openFd());
  }

  discard(offset: number, length: number): void {
    // Node has no fallocate(PUNCH_HOLE); zeros keep the "discarded reads as zero" promise.
    this.zeros ??= new Uint8Array(ZERO_CHUNK);
    for (let at = 0; at < length; at += ZERO_CHUNK) {
      this.write(offset + at, this.zeros.subarray(0, Math.min(ZERO_CHUNK, length - at)));
    }
  }

  /** Closes the file; later requests fail (the device answers them with IOERR). */
  close(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  private openFd(): number {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    return this.fd;
  }
}
