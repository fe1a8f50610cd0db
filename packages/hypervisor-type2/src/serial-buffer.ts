/**
 * Collects the guest's serial output between run slices, so that a slice posts one message to the
 * main thread instead of one per byte. Grows by doubling; `take()` hands out a copy and resets.
 */
export class SerialBuffer {
  private bytes = new Uint8Array(256);
  private length = 0;

  push(byte: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = byte;
  }

  write(data: Uint8Array): void {
    for (const byte of data) this.push(byte);
  }

  take(): Uint8Array | null {
    if (this.length === 0) return null;
    const out = this.bytes.slice(0, this.length);
    this.length = 0;
    return out;
  }
}
