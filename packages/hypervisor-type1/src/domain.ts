// A domain as the hypervisor holds it on the main thread: its frames and p2m, its console, its
// state and the shared line block its vCPU and device models use. The vCPU runs on whichever pCPU
// the scheduler picks; the device models (its PcBoard) live on the device-model thread or on the
// vCPU's pCPU (dm/domain-devices.ts). Here a board of the same shape gives only the layout: the
// memory map and ACPI tables the loader writes (its disk's virtio slot among them), the ports and
// MMIO windows the device models claim.
import { HostClock, pcMemoryMap, PcBoard, type EntryState } from '@ringvisor/machine';
import type { SerialBackend } from '@ringvisor/devices';
import type { FramePool, Extent } from './memory/frame-pool.js';
import { FRAME_SIZE } from './memory/frame-pool.js';
import { DiskExtentBackend, type DiskExtent } from './disk/disk-extent.js';
import { DmaWriteLog } from './memory/dma-log.js';
import { DomainMemory, P2m } from './memory/p2m.js';
import type { DomainConfig, DomainEnd, LifecycleAction } from './platform/schema.js';
import {
  LINE_BLOCKED, LINE_ENDED, LINE_INTR, LINE_POST, LINE_SHUTDOWN, LINE_SHUTDOWN_STATUS, LINE_WORDS, SHUTDOWN_EXIT_PORT,
  SHUTDOWN_POWER_OFF, SHUTDOWN_RESET_CONTROL, SHUTDOWN_RESET_I8042, SHUTDOWN_RESET_PORT_92,
} from './pcpu/protocol.js';
import type { PauseSpan } from './pcpu/pause-span.js';
import { loadBootImage, pvInitrdOf, pvKernelOf } from './boot.js';
import { wallMs } from './domain-clock.js';

/** What xl's State column shows: r running, b blocked, p paused, s shut down, c crashed, d dying. */
export type DomainState = 'running' | 'runnable' | 'blocked' | 'paused' | 'shutdown' | 'crashed' | 'dying';

/** Console output a domain keeps for `xl console` to replay (the newest bytes). */
const CONSOLE_KEEP = 64 * 1024;

/** How each LINE_SHUTDOWN code ends the domain and what it says in `xl list` (the exit port's status is decoded beside it). */
const SHUTDOWN_CAUSES: ReadonlyMap<number, { readonly kind: DomainEnd; readonly why: string }> = new Map([
  [SHUTDOWN_POWER_OFF, { kind: 'poweroff', why: 'power-off' }],
  [SHUTDOWN_RESET_I8042, { kind: 'reboot', why: 'reset' }],
  [SHUTDOWN_RESET_PORT_92, { kind: 'reboot', why: 'reset' }],
  [SHUTDOWN_RESET_CONTROL, { kind: 'reboot', why: 'reset' }],
]);

/** What became of a domain after it ended: the action its config names for that end, and the domain a restart built. */
export interface EndOutcome {
  readonly end: string;
  readonly action: LifecycleAction;
  /** The ID of the domain a restart built, or why the rebuild failed. */
  readonly restartedAs?: number;
  readonly restartError?: string;
}

/** The layout board's COM1 back end: it never runs, so it never prints. */
const NO_SERIAL: SerialBackend = { connect: () => undefined, write: (bytes) => bytes.length };

/** COM1 output of a domain as the device-model thread sends it: kept for `xl console` and passed to listeners. */
class DomainConsole {
  private kept: Uint8Array[] = [];
  private keptBytes = 0;
  readonly listeners = new Set<(bytes: Uint8Array) => void>();

  write(bytes: Uint8Array): number {
    const copy = bytes.slice();
    this.kept.push(copy);
    this.keptBytes += copy.length;
    while (this.keptBytes - this.kept[0].length >= CONSOLE_KEEP) this.keptBytes -= this.kept.shift()!.length;
    for (const listener of this.listeners) listener(copy);
    return bytes.length;
  }

  history(): Uint8Array {
    return Buffer.concat(this.kept);
  }
}

export class Domain {
  readonly p2m: P2m;
  readonly memory: DomainMemory;
  readonly console = new DomainConsole();
  readonly lines: Int32Array;
  readonly linesBuffer = new SharedArrayBuffer(LINE_WORDS * 4);
  /** The frames its devices wrote by DMA, for the pCPU running its vCPU (memory/dma-log.ts). */
  readonly dmaLogBuffer: SharedArrayBuffer;
  /** The vCPU's first state from the loader, or null for a para-virtual domain (built on its pCPU). */
  readonly entry: EntryState | null;
  /** A para-virtual domain's kernel and initrd, in shared memory for its pCPU. */
  readonly pvKernel: Uint8Array | null;
  readonly pvInitrd: Uint8Array | null;
  readonly ramBytes: number;
  state: DomainState = 'runnable';
  /** Why it stopped (exit code, power-off, triple fault...), once it has. */
  end: string | null = null;
  /** Which of Xen's shutdown reasons that was (null before it ended, and for a domain destroyed while it ran). */
  endKind: DomainEnd | null = null;
  /** The on_poweroff/on_reboot/on_crash action taken once it ended, or null before. */
  action: LifecycleAction | null = null;
  /** Restarts in a row whose domain lived only briefly (lifecycle.ts): the next restart waits longer. */
  quickRestarts = 0;
  paused = false;
  /** When the current pause began (`wallMs()`: every thread reads the same clock). */
  pausedAtMs = 0;
  /** Its last pause that ended (xl pause to unpause), or null. */
  lastPause: PauseSpan | null = null;
  /** The one pCPU its vCPU may run on (its state or its device models live there), or null when it may move. */
  home: number | null = null;
  /** Run time of its vCPUs in ns, and the instructions they retired. */
  cpuNs = 0;
  retired = 0;
  /** Time zero of the domain's clock as wall time (ms); pCPUs and the device models derive the same clock from it. */
  readonly epochMs = wallMs();
  /** Where the RTC starts (ms since the Unix epoch). */
  readonly rtcTime = Date.now();
  /** The memory map the loader used, as the strategy takes it. */
  readonly regions: PcBoard['memoryMap']['regions'];
  private readonly layout: PcBoard;
  /** Called once with `end` when the domain stops. */
  private readonly endWaiters: ((why: string) => void)[] = [];
  /** Called once its on_poweroff/on_reboot/on_crash was carried out (xl shutdown -w and reboot -w wait for it). */
  private readonly outcomeWaiters: ((outcome: EndOutcome) => void)[] = [];
  private outcome: EndOutcome | null = null;

  /**
   * `guestFrames` of `extent` are guest RAM; frames past them hold the strategy's own (VMM) frames.
   * `disk` becomes virtio-blk in the first virtio-mmio slot (a para-virtual domain's blkif instead).
   */
  constructor(
    readonly id: number, readonly config: DomainConfig, readonly extent: Extent, pool: FramePool, guestFrames: number,
    readonly disk: DiskExtent | null,
  ) {
    this.lines = new Int32Array(this.linesBuffer);
    Atomics.store(this.lines, LINE_POST, -1);
    this.dmaLogBuffer = DmaWriteLog.buffer(guestFrames);
    const kernel = pvKernelOf(config.boot);
    // Opening the disk here refuses at creation a file that cannot be opened as its access asks. The layout
    // board serves no request (the boards that do open their own): only its slot and geometry count.
    const layoutDisk = disk && !kernel ? new DiskExtentBackend(disk) : null;
    try {
      this.layout = new PcBoard({
        ramSize: config.memoryMiB * 1024 * 1024, clock: new HostClock(), serial: NO_SERIAL, rtcTime: this.rtcTime,
        virtio: layoutDisk ? [{ kind: 'blk', backend: layoutDisk }] : [],
      });
    } finally {
      layoutDisk?.close();
    }
    this.regions = this.layout.memoryMap.regions;
    this.ramBytes = extent.count * FRAME_SIZE;
    this.p2m = new P2m(extent, guestFrames);
    this.memory = new DomainMemory(pool.buffer, this.p2m);
    if (kernel) {
      this.pvKernel = shared(kernel);
      const initrd = pvInitrdOf(config.boot);
      this.pvInitrd = initrd && shared(initrd);
      this.entry = null;
    } else {
      this.pvKernel = null;
      this.pvInitrd = null;
      this.entry = loadBootImage(this.layout, this.memory, config.boot);
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
    for (let port = 0; port < claimed.length; port++) if (this.layout.io.handlerAt(port) !== undefined) claimed[port] = 1;
    return claimed;
  }

  /** The board's MMIO windows (its virtio slots). */
  mmioWindows(): { base: number; end: number }[] {
    return this.layout.memoryMap.virtio.map((slot) => ({ base: slot.base, end: slot.base + slot.size }));
  }

  get name(): string {
    return this.config.name;
  }

  /**
   * The vCPU halted: true when it is blocked now, false when the line is already up (it runs on).
   * When the device-model thread took the flag first, its wake-up message is on the way.
   */
  block(): boolean {
    Atomics.store(this.lines, LINE_BLOCKED, 1);
    return Atomics.load(this.lines, LINE_INTR) === 0 || Atomics.exchange(this.lines, LINE_BLOCKED, 0) === 0;
  }

  /** The vCPU is dispatched: a stale blocked flag must not send a wake-up. */
  unblock(): void {
    Atomics.store(this.lines, LINE_BLOCKED, 0);
  }

  /**
   * Marks the domain over: ended by the guest, its devices or the toolstack (`kind`), or dying
   * (destroyed, the hypervisor stopping). Its vCPU stops at its next run boundary.
   */
  finish(kind: DomainEnd | 'dying', why: string): void {
    if (this.end === null) {
      this.end = why;
      if (kind !== 'dying') this.endKind = kind;
    }
    this.state = kind === 'dying' ? 'dying' : kind === 'crash' ? 'crashed' : 'shutdown';
    Atomics.store(this.lines, LINE_ENDED, 1);
    for (const resolve of this.endWaiters.splice(0)) resolve(this.end);
  }

  /** Records what was done about its end (once); `settled()` resolves with it. */
  settle(outcome: EndOutcome): void {
    if (this.outcome !== null) return;
    this.outcome = outcome;
    for (const resolve of this.outcomeWaiters.splice(0)) resolve(outcome);
  }

  /** What became of the domain once it ended (at once if that is decided). */
  settled(): Promise<EndOutcome> {
    if (this.outcome !== null) return Promise.resolve(this.outcome);
    return new Promise((resolve) => this.outcomeWaiters.push(resolve));
  }

  /** Why the domain stopped, once it has (at once if it already has). */
  ended(): Promise<string> {
    if (this.end !== null) return Promise.resolve(this.end);
    return new Promise((resolve) => this.endWaiters.push(resolve));
  }

  /**
   * What the guest asked its board for, or null: a power-off (ACPI S5; the exit port, which ends a
   * test guest as isa-debug-exit ends QEMU) or a reset (i8042, port 0x92, 0xCF9), with its line.
   */
  shutdownRequest(): { readonly kind: DomainEnd; readonly why: string } | null {
    const code = Atomics.load(this.lines, LINE_SHUTDOWN);
    if (code === 0) return null;
    if (code === SHUTDOWN_EXIT_PORT) return { kind: 'poweroff', why: `exit code ${(Atomics.load(this.lines, LINE_SHUTDOWN_STATUS) - 1) / 2}` };
    return SHUTDOWN_CAUSES.get(code) ?? { kind: 'poweroff', why: 'shutdown' };
  }
}

/** A copy of `bytes` in shared memory, for a pCPU worker to read without a copy of its own. */
function shared(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(new SharedArrayBuffer(bytes.length));
  copy.set(bytes);
  return copy;
}
