// virtio-console (virtio spec v1.1, section 5.3): device ID 3, a single port without
// VIRTIO_CONSOLE_F_MULTIPORT, so only receiveq (0) and transmitq (1) exist. It plugs into the same
// `SerialBackend` as the 16550 UART, with the same flow control: host input is queued (bounded)
// until the driver posts receive buffers, and a backend that takes only part of the output holds
// the transmit queue until it calls `writable()`.
import type { SerialBackend, SerialHostPort } from '../../serial/backend.js';
import { VIRTIO_ID_CONSOLE, featureBit } from '../constants.js';
import { type DescriptorChain, readSegments, writeSegments } from '../descriptor-chain.js';
import type { VirtioDevice, VirtioDeviceContext } from '../device.js';

/** The driver may write one character to `emerg_wr` before (or instead of) setting up queues. */
const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;

/** Byte offsets in `struct virtio_console_config` (section 5.3.4). */
const ConsoleConfig = {
  /** u16 cols, u16 rows: meaningful only with VIRTIO_CONSOLE_F_SIZE, not offered. */
  cols: 0,
  rows: 2,
  /** u32: meaningful only with VIRTIO_CONSOLE_F_MULTIPORT, not offered. */
  maxNrPorts: 4,
  /** u32, write-only: a character for emergency output. */
  emergWr: 8,
  size: 12,
} as const;

const RECEIVEQ = 0;
const TRANSMITQ = 1;
/** Output is handed to the backend in pieces of at most this many bytes. */
const OUTPUT_CHUNK = 4096;

export interface VirtioConsoleOptions {
  readonly backend: SerialBackend;
  /** QueueNumMax of both queues (default 64). */
  readonly queueSize?: number;
  /** Host input held while the guest has no receive buffers (default 64 KiB); `input` refuses more. */
  readonly inputLimit?: number;
  /**
   * Largest transmit buffer (a whole chain) the device accepts, default 1 MiB; a larger one is a
   * driver error (NEEDS_RESET). Descriptors may all alias the same RAM, so without a bound one
   * notify could make the host copy queue size × descriptors × RAM size bytes. Linux sends at most
   * a page per buffer.
   */
  readonly maxBufferBytes?: number;
}

export interface VirtioConsoleStats {
  bytesReceived: number;
  bytesTransmitted: number;
}

export class VirtioConsole implements VirtioDevice, SerialHostPort {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features = featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE);
  readonly queueSizes: readonly number[];
  readonly config = new Uint8Array(ConsoleConfig.size);
  readonly stats: VirtioConsoleStats = { bytesReceived: 0, bytesTransmitted: 0 };
  private readonly backend: SerialBackend;
  private readonly inputLimit: number;
  private readonly maxBufferBytes: number;
  /** Host input not yet given to the guest, oldest first; `pendingBytes` is the total. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** `input` refused bytes: tell the backend once the guest has drained half the queue. */
  private inputRefused = false;
  /** A transmit chain the backend has only partly taken, and how far it got. */
  private held: { chain: DescriptorChain; offset: number } | null = null;
  private backendFull = false;
  private readonly staging = new Uint8Array(OUTPUT_CHUNK);
  private ctx: VirtioDeviceContext | null = null;

  constructor(options: VirtioConsoleOptions) {
    this.backend = options.backend;
    const size = options.queueSize ?? 64;
    this.queueSizes = [size, size];
    this.inputLimit = options.inputLimit ?? 64 * 1024;
    this.maxBufferBytes = options.maxBufferBytes ?? 1024 * 1024;
    this.backend.connect?.(this);
  }

  /** Bytes waiting for guest receive buffers. */
  get pendingInput(): number {
    return this.pendingBytes;
  }

  /** Host input for the guest; returns how many bytes (from the start) were queued. */
  input(bytes: Uint8Array): number {
    const kept = Math.min(this.inputLimit - this.pendingBytes, bytes.length);
    if (kept < bytes.length) this.inputRefused = true;
    if (kept > 0) {
      this.pending.push(bytes.slice(0, kept));
      this.pendingBytes += kept;
      this.deliverInput();
    }
    return kept;
  }

  /** The backend can take output again. */
  writable(): void {
    this.backendFull = false;
    this.transmit();
  }

  attach(context: VirtioDeviceContext): void {
    this.ctx = context;
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset === ConsoleConfig.emergWr && size === 4) {
      this.stats.bytesTransmitted++;
      this.backend.write(Uint8Array.of(value & 0xff));
    }
  }

  activate(): void {
    this.transmit();
    this.deliverInput();
  }

  notify(queueIndex: number): void {
    if (queueIndex === RECEIVEQ) this.deliverInput();
    else if (queueIndex === TRANSMITQ) this.transmit();
  }

  reset(): void {
    // A held chain belonged to the old rings. Pending host input stays for the next driver.
    this.held = null;
  }

  private transmit(): void {
    const ctx = this.ctx;
    if (ctx === null || !ctx.active) return;
    const queue = ctx.queues[TRANSMITQ];
    let completed = 0;
    for (let taken = 0; !this.backendFull && taken <= queue.size; taken++) {
      if (this.held === null) {
        const chain = queue.pop();
        if (chain === null) break;
        if (chain.readableLength > this.maxBufferBytes) {
          ctx.error('malformed-request', `transmit chain ${chain.head} holds ${chain.readableLength} bytes (limit ${this.maxBufferBytes})`);
          break;
        }
        this.held = { chain, offset: 0 };
      }
      if (!this.send(ctx, this.held)) break;
      queue.pushUsed(this.held.chain, 0);
      this.held = null;
      completed++;
    }
    if (completed > 0) ctx.usedBuffersAdded(TRANSMITQ);
  }

  /** Offers the rest of a transmit chain to the backend; true once all of it was taken. */
  private send(ctx: VirtioDeviceContext, held: { chain: DescriptorChain; offset: number }): boolean {
    const { chain } = held;
    while (held.offset < chain.readableLength) {
      const piece = this.staging.subarray(0, Math.min(OUTPUT_CHUNK, chain.readableLength - held.offset));
      if (!readSegments(ctx.memory, chain.readable, held.offset, piece)) {
        ctx.error('buffer-out-of-range', `transmit buffer ${chain.head} is not all guest RAM`);
        return false;
      }
      const taken = Math.max(0, Math.min(piece.length, Math.floor(this.backend.write(piece) || 0)));
      held.offset += taken;
      this.stats.bytesTransmitted += taken;
      if (taken < piece.length) {
        this.backendFull = true;
        return false;
      }
    }
    return true;
  }

  private deliverInput(): void {
    const ctx = this.ctx;
    if (ctx === null || !ctx.active) return;
    const queue = ctx.queues[RECEIVEQ];
    let filled = 0;
    for (; filled < queue.size && this.pendingBytes > 0; filled++) {
      const chain = queue.pop();
      if (chain === null) break;
      const bytes = this.takeInput(chain.writableLength);
      if (!writeSegments(ctx.memory, chain.writable, 0, bytes)) {
        ctx.error('buffer-out-of-range', `receive buffer ${chain.head} is not all guest RAM`);
        break;
      }
      this.stats.bytesReceived += bytes.length;
      queue.pushUsed(chain, bytes.length);
    }
    if (filled > 0) ctx.usedBuffersAdded(RECEIVEQ);
    if (this.inputRefused && this.pendingBytes <= this.inputLimit / 2) {
      this.inputRefused = false;
      this.backend.inputRoom?.();
    }
  }

  /** Removes up to `limit` bytes from the front of the pending input. */
  private takeInput(limit: number): Uint8Array {
    const out = new Uint8Array(Math.min(limit, this.pendingBytes));
    let done = 0;
    while (done < out.length) {
      const chunk = this.pending[0];
      const n = Math.min(chunk.length, out.length - done);
      out.set(chunk.subarray(0, n), done);
      done += n;
      if (n === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(n);
    }
    this.pendingBytes -= out.length;
    return out;
  }
}
