/**
 * Most guest output that may be on its way to the host sink and not yet written there. Past it the
 * serial backend takes nothing, so the guest sees a full transmitter (THRE clear) and waits, as on a
 * line with flow control: a flooding guest cannot make the host buffer without end.
 */
export const SERIAL_OUTPUT_CREDIT = 256 * 1024;

/**
 * Collects the guest's serial output between run slices, so that a slice posts one message to the
 * main thread instead of one per byte; counts what the main thread has not acknowledged yet.
 */
export class SerialBuffer {
  private bytes = new Uint8Array(4096);
  private length = 0;
  /** Bytes handed to the main thread and not yet acknowledged as written by the sink. */
  private unacknowledged = 0;

  /** How many more bytes may be accepted now. */
  get room(): number {
    return Math.max(0, SERIAL_OUTPUT_CREDIT - this.unacknowledged - this.length);
  }

  /** Appends as much of `data` as the credit allows; returns how many bytes were taken. */
  write(data: Uint8Array): number {
    const n = Math.min(data.length, this.room);
    if (this.length + n > this.bytes.length) {
      // Grows by doubling, never past the credit (the room check bounds `length + n`).
      let size = this.bytes.length * 2;
      while (size < this.length + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(data.subarray(0, n), this.length);
    this.length += n;
    return n;
  }

  /** Hands out a copy of the collected bytes; they count against the credit until acknowledged. */
  take(): Uint8Array | null {
    if (this.length === 0) return null;
    const out = this.bytes.slice(0, this.length);
    this.unacknowledged += this.length;
    this.length = 0;
    return out;
  }

  /** The host sink wrote `count` bytes handed out earlier. */
  acknowledge(count: number): void {
    this.unacknowledged = Math.max(0, this.unacknowledged - count);
  }
}
