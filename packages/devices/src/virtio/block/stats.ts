// Counters a virtio-blk device keeps for the VMM: what the guest asked and what went wrong.

export interface VirtioBlockStats {
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  getIds: number;
  bytesRead: number;
  bytesWritten: number;
  /** Requests answered VIRTIO_BLK_S_IOERR (out of range, misaligned, host I/O failure, read-only). */
  ioErrors: number;
  /** Requests answered VIRTIO_BLK_S_UNSUPP (unknown type or flags). */
  unsupported: number;
}

export function emptyBlockStats(): VirtioBlockStats {
  return { reads: 0, writes: 0, flushes: 0, discards: 0, getIds: 0, bytesRead: 0, bytesWritten: 0, ioErrors: 0, unsupported: 0 };
}
