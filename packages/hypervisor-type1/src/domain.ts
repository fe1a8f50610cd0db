// A domain as the hypervisor holds it on the main thread: its frames and p2m, its board (device
// models, timers, console) and the shared line its vCPU polls for interrupts. The vCPU itself runs
// on whichever pCPU the scheduler picks; the device models stay here and answer its I/O requests.
import { HostClock, pcMemoryMap, PcBoard, type EntryState } from '@ringvisor/machine';
import type { SerialBackend, SerialHostPort } from '@ringvisor/devices';
import type { FramePool, Extent } from './memory/frame-pool.js';
import { FRAME_SIZE } from './memory/frame-pool.js';
import { DomainMemory, P2m } from './memory/p2m.js';
import type { DomainConfig } from './platform/schema.js';
import { LINE_ENDED, LINE_INTR, LINE_WORDS } from './pcpu/protocol.js';
import { loadBootImage, pvKernelOf } from './boot.js';

/** What xl's State column shows: r running, b blocked, p paused, s shut down, c crashed, d dying. */
export type DomainState = 'running' | 'runnable' | 'blocked' | 'paused' | 'shutdown' | 'crashed' | 'dying';

/** Console output a domain keeps for `xl console` to replay (the newest bytes). */
const CONSOLE_KEEP = 64 * 1024;

/** COM1 of a domain: output kept and passed to listeners, input queued to the UART. */
class DomainConsole implements SerialBackend {
  private port: SerialHostPort | null = null;
  private kept: Uint8Array[] = [];
  private keptBytes = 0;
  readonly listeners = new Set<(bytes: Uint8Array) => void>();

  connect(port: SerialHostPort): void {
    this.port = port;
  }

  write(bytes: Uint8Array): number {
    const copy = bytes.slice();
    this.kept.push(copy);
    this.keptBytes += copy.length;
    while (this.keptBytes - this.kept[0].length >= CONSOLE_KEEP) this.keptBytes -= this.kept.shift()!.length;
    for (const listener of this.listeners) listener(copy);
    return bytes.length;
  }

  /** Bytes typed for the guest; returns how many the UART's queue took. */
  input(bytes: Uint8Array): number {
    return this.port?.input(bytes) ?? 0;
  }

  history(): Uint8Array {
    return Buffer.concat(this.kept);
  }
}

export class Domain {
  readonly p2m: P2m;
  readonly memory: DomainMemory;
  readonly board: PcBoard;
  readonly console = new DomainConsole();
  readonly lines: Int32Array;
  readonly linesBuffer = new SharedArrayBuffer(LINE_WORDS * 4);
  /** The vCPU's first state from the loader, or null for a para-virtual domain (built on its pCPU). */
  readonly entry: EntryState | null;
  /** A para-virtual domain's kernel, in shared memory for its pCPU. */
  readonly pvKernel: Uint8Array | null;
  readonly ramBytes: number;
  state: DomainState = 'runnable';
  /** Why it stopped (exit code, power-off, triple fault...), once it has. */
  end: string | null = null;
  paused = false;
  /** Run time of its vCPUs in ns, and the instructions they retired. */
  cpuNs = 0;
  retired = 0;
  timer: ReturnType<typeof setTimeout> | null = null;
  /** Time zero of the domain's clock as wall time (ms); pCPUs derive the same clock from it. */
  readonly epochMs = performance.timeOrigin + performance.now();
  /** The devices' clock: host time since `epochMs`. */
  readonly clock = new HostClock(() => (performance.timeOrigin + performance.now() - this.epochMs) * 1e6);

  /** `guestFrames` of `extent` are guest RAM; frames past them hold the strategy's own (VMM) frames. */
  constructor(readonly id: number, readonly config: DomainConfig, readonly extent: Extent, pool: FramePool, guestFrames: number) {
    this.lines = new Int32Array(this.linesBuffer);
    this.board = new PcBoard({ ramSize: config.memoryMiB * 1024 * 1024, clock: this.clock, serial: this.console, rtcTime: Date.now() });
    this.ramBytes = extent.count * FRAME_SIZE;
    this.p2m = new P2m(extent, guestFrames);
    this.memory = new DomainMemory(pool.buffer, this.p2m);
    this.board.attachMemory(this.memory);
    const kernel = pvKernelOf(config.boot);
    if (kernel) {
      this.pvKernel = new Uint8Array(new SharedArrayBuffer(kernel.length));
      this.pvKernel.set(kernel);
      this.entry = null;
    } else {
      this.pvKernel = null;
      this.entry = loadBootImage(this.board, this.memory, config.boot);
    }
  }

  /** Bytes of guest-physical address space the board's RAM regions span (what the pool must give). */
  static ramSpan(config: DomainConfig): number {
    const regions = pcMemoryMap({ ramSize: config.memoryMiB * 1024 * 1024, virtioSlots: 0 }).regions;
    return regions.filter((r) => !r.rom && r.base < 2 ** 32).reduce((end, r) => Math.max(end, r.base + r.size), 0);
  }

  /** One byte per port: 1 where a device model of the board claims it (shared, so run messages carry no copy). */
  claimedPorts(): Uint8Array {
    const claimed = new Uint8Array(new SharedArrayBuffer(0x10000));
    for (let port = 0; port < claimed.length; port++) if (this.board.io.handlerAt(port) !== undefined) claimed[port] = 1;
    return claimed;
  }

  /** The board's MMIO windows (its virtio slots). */
  mmioWindows(): { base: number; end: number }[] {
    return this.board.memoryMap.virtio.map((slot) => ({ base: slot.base, end: slot.base + slot.size }));
  }

  get name(): string {
    return this.config.name;
  }

  /** The device model's interrupt output, mirrored into the line the vCPU polls; true when asserted. */
  syncInterruptLine(): boolean {
    const pending = this.board.vmSpec().interrupts.pending();
    Atomics.store(this.lines, LINE_INTR, pending ? 1 : 0);
    return pending;
  }

  /** Marks the domain over: its vCPU stops at its next run boundary. */
  finish(state: 'shutdown' | 'crashed' | 'dying', why: string): void {
    if (this.end === null) this.end = why;
    this.state = state;
    Atomics.store(this.lines, LINE_ENDED, 1);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** What the guest asked the board for (exit port, power-off, reset), as a line, or null. */
  shutdownRequest(): string | null {
    const request = this.board.shutdownRequest;
    if (request === null) return null;
    if (request.cause === 'exit-port') return `exit code ${(request.status - 1) / 2}`;
    return request.cause;
  }
}
