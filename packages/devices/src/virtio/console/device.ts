// virtio-console (virtio spec v1.1, section 5.3): device ID 3, a single port without
// VIRTIO_CONSOLE_F_MULTIPORT, so only receiveq (0) and transmitq (1) exist. Host input arrives
// through `receive` and waits (bounded) until the driver posts receive buffers.
import { VIRTIO_ID_CONSOLE, featureBit } from '../constants.js';
import { drainSegments, writeSegments } from '../descriptor-chain.js';
import type { VirtioDevice, VirtioDeviceContext } from '../device.js';
import type { ByteStreamBackend } from './backend.js';

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

export interface VirtioConsoleOptions {
  readonly backend: ByteStreamBackend;
  /** QueueNumMax of both queues (default 64). */
  readonly queueSize?: number;
  /** Host input held while the guest has no receive buffers; more is dropped and counted (default 64 KiB). */
  readonly inputLimit?: number;
}

export interface VirtioConsoleStats {
  bytesReceived: number;
  bytesTransmitted: number;
  /** Host input bytes dropped because the guest was not reading and `inputLimit` was reached. */
  inputDropped: number;
}

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features = featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE);
  readonly queueSizes: readonly number[];
  readonly config = new Uint8Array(ConsoleConfig.size);
  readonly stats: VirtioConsoleStats = { bytesReceived: 0, bytesTransmitted: 0, inputDropped: 0 };
  private readonly backend: ByteStreamBackend;
  private readonly inputLimit: number;
  /** Pending host input as a ring of chunks; `pendingBytes` is their total. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private ctx: VirtioDeviceContext | null = null;

  constructor(options: VirtioConsoleOptions) {
    this.backend = options.backend;
    const size = options.queueSize ?? 64;
    this.queueSizes = [size, size];
    this.inputLimit = options.inputLimit ?? 64 * 1024;
  }

  /** Bytes waiting for guest receive buffers. */
  get pendingInput(): number {
    return this.pendingBytes;
  }

  /** Host input for the guest (keyboard, pipe). Delivered now if the guest has buffers posted. */
  receive(bytes: Uint8Array): void {
    const room = this.inputLimit - this.pendingBytes;
    const kept = Math.min(room, bytes.length);
    this.stats.inputDropped += bytes.length - kept;
    if (kept > 0) {
      this.pending.push(bytes.slice(0, kept));
      this.pendingBytes += kept;
    }
    this.deliverInput();
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
    // Pending host input stays: it was typed for whichever driver comes next.
  }

  private transmit(): void {
    const ctx = this.ctx;
    if (ctx === null || !ctx.active) return;
    const queue = ctx.queues[TRANSMITQ];
    let sent = 0;
    for (; sent < queue.size; sent++) {
      const chain = queue.pop();
      if (chain === null) break;
      drainSegments(ctx.memory, chain.readable, 0, chain.readableLength, (bytes) => {
        this.stats.bytesTransmitted += bytes.length;
        this.backend.write(bytes);
      });
      queue.pushUsed(chain, 0);
    }
    if (sent > 0) ctx.usedBuffersAdded(TRANSMITQ);
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
