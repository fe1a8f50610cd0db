import type { SerialBackend, SerialHostPort } from '@ringvisor/devices';
import type { SerialBuffer } from './serial-buffer.js';

/** Host input held while the guest does not read: a paste fits, a flood from a socket does not. */
const MAX_PENDING_INPUT = 64 * 1024;

/**
 * COM1's backend inside the VM's worker: output goes to the buffer the session posts to the main
 * thread, within the credit the main thread returns as its sink writes it (back-pressure); input typed on the host is queued here while the UART's bounded queue is full and
 * offered again when the guest has drained it (a paste loses nothing). Beyond MAX_PENDING_INPUT
 * bytes, input is dropped, as a real UART overruns.
 */
export class HostSerial implements SerialBackend {
  private port: SerialHostPort | null = null;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes dropped because the guest was not reading. */
  dropped = 0;
  /** The UART was refused output and waits for `outputRoom()`. */
  private blocked = false;

  constructor(private readonly output: SerialBuffer) {}

  connect(port: SerialHostPort): void {
    this.port = port;
  }

  /** Takes what the output credit allows; the UART holds the rest until `outputRoom()`. */
  write(bytes: Uint8Array): number {
    const taken = this.output.write(bytes);
    if (taken < bytes.length) this.blocked = true;
    return taken;
  }

  /** The host acknowledged output: if the UART was refused, let it transmit again. */
  outputRoom(): void {
    if (!this.blocked || this.output.room === 0) return;
    this.blocked = false;
    this.port?.writable();
  }

  /** Bytes typed on the host, in order. */
  input(bytes: Uint8Array): void {
    const room = MAX_PENDING_INPUT - this.pendingBytes;
    if (bytes.length > room) {
      this.dropped += bytes.length - Math.max(0, room);
      bytes = bytes.subarray(0, Math.max(0, room));
    }
    if (bytes.length === 0) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.inputRoom();
  }

  inputRoom(): void {
    if (!this.port) return;
    while (this.pending.length > 0) {
      const chunk = this.pending[0];
      const taken = this.port.input(chunk);
      this.pendingBytes -= taken;
      if (taken < chunk.length) {
        this.pending[0] = chunk.subarray(taken);
        return;
      }
      this.pending.shift();
    }
  }
}
