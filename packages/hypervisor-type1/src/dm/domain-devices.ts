// One domain's device models as the device-model thread holds them: its PcBoard (PIC, PIT, RTC,
// UART, ACPI PM, exit port...) on a host clock shared with the pCPUs, DMA through the domain's p2m,
// and the shared line block through which the vCPU sees the interrupt line and the end. Its disk
// is virtio-blk over the disk's own I/O thread (disk/disk-io.ts): a request completes when that
// thread answers (`pollDisk`), so no domain's disk I/O holds the thread that serves the others.
import { PcBoard, type ShutdownRequest } from '@ringvisor/machine';
import type { SerialBackend, SerialHostPort } from '@ringvisor/devices';
import type { AccessSize } from '@ringvisor/vmm-api';
import { DomainClock } from '../domain-clock.js';
import { DiskIo } from '../disk/disk-io.js';
import { DmaWriteLog, type DmaFence } from '../memory/dma-log.js';
import { DomainMemory, P2m } from '../memory/p2m.js';
import {
  IOREQ_INTA, IOREQ_MMIO_READ, IOREQ_MMIO_WRITE, IOREQ_PORT_READ, IOREQ_PORT_WRITE, LINE_BLOCKED, LINE_ENDED, LINE_INTR,
  LINE_POST, LINE_SHUTDOWN, LINE_SHUTDOWN_STATUS, SHUTDOWN_EXIT_PORT, SHUTDOWN_POWER_OFF, SHUTDOWN_RESET_CONTROL,
  SHUTDOWN_RESET_I8042, SHUTDOWN_RESET_PORT_92,
} from '../pcpu/protocol.js';
import { POST_PORT } from '../pcpu/ioreq-client.js';
import type { BoardSpec } from './protocol.js';

const SHUTDOWN_CODES: Record<string, number> = {
  'exit-port': SHUTDOWN_EXIT_PORT, 'power-off': SHUTDOWN_POWER_OFF, i8042: SHUTDOWN_RESET_I8042, 'port-92': SHUTDOWN_RESET_PORT_92,
  'reset-control': SHUTDOWN_RESET_CONTROL,
};

function shutdownCode(request: ShutdownRequest): number {
  return SHUTDOWN_CODES[request.cause === 'reset' ? request.source : request.cause];
}

/** COM1's back end: output gathered until the thread's loop hands it to the hypervisor, input queued to the UART. */
class ConsoleBackend implements SerialBackend {
  port: SerialHostPort | null = null;
  pending: Uint8Array[] = [];

  connect(port: SerialHostPort): void {
    this.port = port;
  }

  write(bytes: Uint8Array): number {
    this.pending.push(bytes.slice());
    return bytes.length;
  }
}

export class DomainDevices {
  readonly board: PcBoard;
  readonly clock: DomainClock;
  readonly lines: Int32Array;
  private readonly console = new ConsoleBackend();
  /** The domain's disk (its own I/O thread and descriptor on the file, confined to the domain's range), or null. */
  private readonly disk: DiskIo | null;
  private readonly dmaLog: DmaWriteLog;
  /** Completions that wrote guest RAM, held until the vCPU's pCPU has drained the frames (memory/dma-log.ts). */
  private readonly fenced: { readonly fence: DmaFence; readonly publish: () => void }[] = [];

  /**
   * Throws when the disk cannot be opened. `doorbell`: what the disk's I/O thread rings after each
   * answer (the device-model thread's; null on a pCPU, whose event loop hears it). `fenced`: the
   * vCPU runs on another thread, so a completion that wrote guest RAM waits for its pCPU's drain;
   * a board beside its vCPU completes only at run boundaries or between slices, before the drain.
   */
  constructor(pool: SharedArrayBuffer, message: BoardSpec, doorbell: SharedArrayBuffer | null, fenced: boolean) {
    this.lines = new Int32Array(message.lines);
    this.clock = new DomainClock(message.epochMs);
    this.dmaLog = new DmaWriteLog(message.dmaLog);
    this.disk = message.disk ? new DiskIo(message.disk, doorbell) : null;
    const beforeCompletion = fenced ? (publish: () => void) => this.holdUntilDrained(publish) : undefined;
    try {
      this.board = new PcBoard({
        ramSize: message.ramSize, clock: this.clock, serial: this.console, rtcTime: message.rtcTime,
        virtio: this.disk ? [{ kind: 'blk-async', backend: this.disk, beforeCompletion }] : [],
        // Whoever drives the board (a request here, or the vCPU calling it on its pCPU), the request is published at once.
        onShutdownRequest: (request) => this.publishShutdown(request),
      });
    } catch (error) {
      this.disk?.close();
      throw error;
    }
    // Virtio DMA reaches the domain's frames only, and the pCPU hears which it wrote.
    this.board.attachMemory(new DomainMemory(pool, new P2m(message.extent, message.guestFrames), this.dmaLog));
  }

  /**
   * Completes the disk requests whose I/O finished and publishes those whose fence has passed;
   * true when anything changed (the line and the ring may have moved).
   */
  pollDisk(): boolean {
    if (this.disk === null || this.ended) return false;
    let changed = this.disk.poll() > 0;
    while (this.fenced.length > 0 && this.dmaLog.passed(this.fenced[0].fence)) {
      this.fenced.shift()!.publish();
      changed = true;
    }
    if (this.fenced.length === 0) this.dmaLog.setWaiting(false);
    return changed;
  }

  /** Also completes disk requests as their answers reach this thread's event loop (a pCPU between slices). */
  listenDisk(after: () => void): void {
    this.disk?.listen(() => {
      if (!this.ended) after();
    });
  }

  private holdUntilDrained(publish: () => void): void {
    this.fenced.push({ fence: this.dmaLog.fence(), publish });
    this.dmaLog.setWaiting(true);
  }

  /** Closes the disk (the domain is gone); the board serves nothing more. */
  close(): void {
    Atomics.store(this.lines, LINE_ENDED, 1);
    this.disk?.close();
  }

  get ended(): boolean {
    return Atomics.load(this.lines, LINE_ENDED) !== 0;
  }

  /** Serves one request: the value read (0 for writes). An ended domain's accesses meet an undriven bus. */
  serve(kind: number, address: number, size: number, value: number): number {
    if (this.ended) return 0xffffffff;
    // Every access sees the timers due before it, as a run loop that stops at each deadline gives:
    // a PIT oneshot reprogrammed after its deadline must still have fired its edge.
    if (this.msUntilNextTimer() === 0) this.runDue();
    const board = this.board;
    const bytes = size as AccessSize;
    // A wider access at the POST port (the bus dispatches by its first port) reaches the board's POST card: give it the pCPU's latch.
    const post = (kind === IOREQ_PORT_READ || kind === IOREQ_PORT_WRITE) && address === POST_PORT;
    if (post) board.post.lastCode = Atomics.load(this.lines, LINE_POST);
    let result = 0;
    switch (kind) {
      case IOREQ_PORT_READ: result = board.io.read(address & 0xffff, bytes); break;
      case IOREQ_PORT_WRITE: board.io.write(address & 0xffff, bytes, value); break;
      case IOREQ_MMIO_READ: result = board.mmio.read(address, bytes); break;
      case IOREQ_MMIO_WRITE: board.mmio.write(address, bytes, value); break;
      case IOREQ_INTA: result = board.pic.acknowledge(); break;
      default: throw new Error(`unknown I/O request kind ${kind}`);
    }
    if (post) Atomics.store(this.lines, LINE_POST, board.post.lastCode);
    return result;
  }

  /** Bytes typed at COM1: as many as the UART's input queue takes (the rest is dropped, as a full line would). */
  input(bytes: Uint8Array): void {
    if (!this.ended) this.console.port?.input(bytes);
  }

  /** Presses the ACPI power button (xl shutdown): an SCI once the guest enabled it. */
  pressPowerButton(): void {
    if (!this.ended) this.board.pressPowerButton();
  }

  /** Runs the due timers (PIT, RTC, UART, PM timer) of a domain still running. */
  runDue(): void {
    if (!this.ended) this.clock.runDue();
  }

  /** When the next timer is due, in ms from now (null: none, or the domain ended). */
  msUntilNextTimer(): number | null {
    if (this.ended) return null;
    const deadline = this.clock.nextDeadline();
    return deadline === null ? null : Math.max(0, (deadline - this.clock.now()) / 1e6);
  }

  /** COM1 output since the last call, or null. */
  takeOutput(): Uint8Array | null {
    const pending = this.console.pending;
    if (pending.length === 0) return null;
    this.console.pending = [];
    return pending.length === 1 ? pending[0] : Buffer.concat(pending);
  }

  /**
   * Mirrors the interrupt controller's output into the line the vCPU polls. Returns true when the
   * line is up and the vCPU was blocked: this call took the wake-up and must deliver it.
   */
  syncLine(): boolean {
    const pending = !this.ended && this.board.pic.pending();
    Atomics.store(this.lines, LINE_INTR, pending ? 1 : 0);
    return pending && Atomics.exchange(this.lines, LINE_BLOCKED, 0) === 1;
  }

  /** The guest's exit, power-off or reset request, published once in the line block; the vCPU stops. */
  private publishShutdown(request: ShutdownRequest): void {
    if (Atomics.load(this.lines, LINE_SHUTDOWN) !== 0) return;
    Atomics.store(this.lines, LINE_SHUTDOWN_STATUS, request.cause === 'exit-port' ? request.status : 0);
    Atomics.store(this.lines, LINE_SHUTDOWN, shutdownCode(request));
    Atomics.store(this.lines, LINE_ENDED, 1);
  }
}
