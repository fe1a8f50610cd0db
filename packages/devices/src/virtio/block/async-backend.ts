// A block back end whose operations complete later, on the host's time (another thread, the host's
// asynchronous file I/O): `AsyncVirtioBlock` issues one operation at a time and finishes the
// request when it completes, so the thread that holds the device never waits for the host disk.
// An operation that fails (an Error, or a throw from the call itself) becomes VIRTIO_BLK_S_IOERR.

/** Completion of an operation that returns no data. */
export type BlockDone = (error: Error | null) => void;

export interface AsyncBlockBackend {
  /** Size in bytes; the device exposes the whole 512-byte sectors of it. */
  readonly size: number;
  /** True when the backend refuses writes; the device then offers VIRTIO_BLK_F_RO. */
  readonly readOnly: boolean;
  /** Reads `length` bytes at byte `offset`; `done` gets exactly `length` bytes (a hole reads as zeros). */
  read(offset: number, length: number, done: (error: Error | null, data: Uint8Array | null) => void): void;
  /** Stores `data` at byte `offset`; `data` is the back end's from the call on (it may transfer it). */
  write(offset: number, data: Uint8Array, done: BlockDone): void;
  /** Makes every completed write durable (VIRTIO_BLK_T_FLUSH). */
  flush(done: BlockDone): void;
  /** The guest no longer needs `[offset, offset+length)`; later reads of it return zeros. */
  discard(offset: number, length: number, done: BlockDone): void;
}
