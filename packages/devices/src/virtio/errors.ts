// What a misbehaving or hostile driver did, counted per kind so that the VMM can read it. Every kind
// except `features-rejected` puts the device into DEVICE_NEEDS_RESET (spec section 2.1.2): the
// driver must reset the device before it works again.

export const VIRTIO_ERROR_KINDS = [
  /** The driver set FEATURES_OK while accepting a feature the device did not offer (or without VERSION_1). */
  'features-rejected',
  /** Status written out of order: DRIVER_OK before FEATURES_OK, features after FEATURES_OK, bits cleared. */
  'status-protocol',
  /** QueueNotify before DRIVER_OK, or for a queue that is not ready or does not exist. */
  'bad-notify',
  /** QueueNum or a ring address written while the queue is ready. */
  'queue-write-while-ready',
  /** A Queue* register written while QueueSel names a queue the device does not have. */
  'bad-queue-select',
  /** QueueReady with a size that is zero, not a power of two, or above QueueNumMax. */
  'bad-queue-size',
  /** QueueReady with a ring outside guest RAM or misaligned. */
  'ring-out-of-range',
  /** The available index moved by more than the queue size since the device last looked. */
  'avail-index-jump',
  /** A head or `next` descriptor index at or beyond the queue (or indirect table) size. */
  'descriptor-index-out-of-range',
  /** A buffer outside guest RAM, or whose address plus length overflows. */
  'buffer-out-of-range',
  /** A chain longer than the queue size: a loop, or simply too long. */
  'chain-too-long',
  /** An indirect descriptor inside an indirect table, or INDIRECT together with NEXT. */
  'nested-indirect',
  /** An indirect table that is empty, not a multiple of 16 bytes, too big, or not negotiated. */
  'bad-indirect-table',
  /** A device-readable descriptor after a device-writable one (section 2.7.4.2). */
  'readable-after-writable',
  /** A request the device cannot answer at all (a block request with no room for its status byte, a console transmit buffer above its limit). */
  'malformed-request',
] as const;

export type VirtioErrorKind = (typeof VIRTIO_ERROR_KINDS)[number];

/** Per-kind counters plus the most recent error, for the VMM's diagnostics. */
export class VirtioErrorCounters {
  private readonly counts = new Map<VirtioErrorKind, number>();
  /** The latest error with a short human-readable detail, or null before the first. */
  last: { kind: VirtioErrorKind; detail: string } | null = null;

  record(kind: VirtioErrorKind, detail: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.last = { kind, detail };
  }

  count(kind: VirtioErrorKind): number {
    return this.counts.get(kind) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  /** Non-zero counters as a plain object (for logs and snapshots). */
  toJSON(): Partial<Record<VirtioErrorKind, number>> {
    return Object.fromEntries(this.counts);
  }
}
