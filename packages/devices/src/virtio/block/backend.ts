// Where a virtio-blk device's sectors live. The device checks every guest-supplied offset against
// `size` before calling, so a backend sees only in-range requests; it throws on host I/O failure,
// which the device turns into VIRTIO_BLK_S_IOERR.

export interface BlockBackend {
  /** Size in bytes; the device exposes the whole 512-byte sectors of it. */
  readonly size: number;
  /** True when the backend refuses writes; the device then offers VIRTIO_BLK_F_RO. */
  readonly readOnly: boolean;
  /** Fills `into` from byte `offset`. `into` may be a view of guest RAM: do not keep it. */
  read(offset: number, into: Uint8Array): void;
  /** Stores `from` at byte `offset`. `from` may be a view of guest RAM: copy what you keep. */
  write(offset: number, from: Uint8Array): void;
  /** Makes every completed write durable (VIRTIO_BLK_T_FLUSH). */
  flush(): void;
  /** The guest no longer needs `[offset, offset+length)`; later reads of it return zeros. */
  discard(offset: number, length: number): void;
}
