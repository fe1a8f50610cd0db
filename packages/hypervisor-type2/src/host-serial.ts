import type { SerialBackend, SerialHostPort } from '@ringvisor/devices';
import type { SerialBuffer } from './serial-buffer.js';

/**
 * COM1's backend inside the VM's worker: output goes to the buffer the session posts to the main
 * thread; input typed on the host is queued here while the UART's bounded queue is full and
 * offered again when the guest has drained it (so a paste never loses bytes).
 */
export class HostSerial implements SerialBackend {
  private port: SerialHostPort | null = null;
  private pending: Uint8Array[] = [];

  constructor(private readonly output: SerialBuffer) {}

  connect(port: SerialHostPort): void {
    this.port = port;
  }

  write(bytes: Uint8Array): number {
    this.output.write(bytes);
    return bytes.length;
  }

  /** Bytes typed on the host, in order. */
  input(bytes: Uint8Array): void {
    this.pending.push(bytes);
    this.inputRoom();
  }

  inputRoom(): void {
    if (!this.port) return;
    while (this.pending.length > 0) {
      const chunk = this.pending[0];
      const taken = this.port.input(chunk);
      if (taken < chunk.length) {
        this.pending[0] = chunk.subarray(taken);
        return;
      }
      this.pending.shift();
    }
  }
}
