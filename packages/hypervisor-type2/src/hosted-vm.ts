import { Worker } from 'node:worker_threads';
import type { MachineConfig } from './machine-config.js';
import type { FromWorker, RamRegion, ToWorker, WorkerConfig } from './protocol.js';
import { exitStatusOf, type VmEnd } from './result.js';
import { listeningPort, openSerialBackend, type SerialBackend, type SerialOption } from './serial-backends.js';
import type { StatsSnapshot } from './stats.js';
import type { StrategyEntry } from './strategy-registry.js';

export interface HostedVmOptions {
  readonly strategy: StrategyEntry;
  readonly machine: MachineConfig;
  /** Virtual (default: reproducible, paced against wall time while the guest idles) or host time. */
  readonly clock?: 'virtual' | 'host';
  readonly serial?: SerialOption;
  /** Wall-time limit of the run in seconds; the run ends with `time-limit`. */
  readonly maxTimeSeconds?: number;
  /** Let a halted guest's virtual time run ahead of wall time (tests and benchmarks). Default false. */
  readonly unpaced?: boolean;
}

/** How a run ended, the process exit status it maps to, and the final statistics. */
export interface RunReport {
  readonly end: VmEnd;
  readonly status: number;
  readonly stats: StatsSnapshot;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * A VM running in its own worker thread, controlled from the calling thread. `start()` resolves once
 * the guest is loaded and running; `done` resolves when the run ends for any reason.
 */
export class HostedVm {
  /**
   * Guest RAM regions, shared with the worker (read them for inspection; the guest owns them).
   * Empty when the strategy maps RAM itself (KVM's mmap'ed memory ignores `ramBacking`).
   */
  readonly ram: readonly RamRegion[];
  readonly done: Promise<RunReport>;
  /** The TCP port the serial console listens on (`{ kind: 'tcp', port: 0 }` picks a free one), or null. */
  readonly serialTcpPort: number | null;
  private nextStatsId = 1;
  private readonly statsWaiters = new Map<number, (snapshot: StatsSnapshot) => void>();
  private finished: RunReport | null = null;

  private constructor(
    private readonly worker: Worker,
    serial: SerialBackend,
    ram: readonly RamRegion[],
    done: Promise<RunReport>,
  ) {
    this.ram = ram;
    this.serialTcpPort = listeningPort(serial);
    this.done = done.then((report) => {
      this.finished = report;
      return report;
    });
  }

  static async start(options: HostedVmOptions): Promise<HostedVm> {
    let vm: HostedVm | null = null;
    const earlyInput: Uint8Array[] = [];
    const serial = await openSerialBackend(options.serial ?? { kind: 'none' }, {
      data: (bytes) => (vm ? vm.sendSerial(bytes) : earlyInput.push(bytes)),
    });
    const config: WorkerConfig = {
      strategy: options.strategy,
      machine: options.machine,
      clock: options.clock ?? 'virtual',
      paced: !options.unpaced,
      serialInput: serial.hasInput,
    };
    const worker = new Worker(WORKER_URL, { workerData: config });
    let timeLimit: NodeJS.Timeout | undefined;
    let settle: (report: RunReport) => void = () => {};
    const done = new Promise<RunReport>((resolve) => { settle = resolve; });

    const ram = await new Promise<readonly RamRegion[]>((resolve, reject) => {
      let lastStats: StatsSnapshot | null = null;
      let ended = false;
      const finish = async (end: VmEnd, stats: StatsSnapshot | null) => {
        if (ended) return;
        ended = true;
        clearTimeout(timeLimit);
        await serial.close();
        settle({ end, status: exitStatusOf(end), stats: stats ?? lastStats ?? emptyStats() });
      };
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'ready':
            resolve(message.ram);
            break;
          case 'failed':
            void serial.close();
            reject(new Error(message.message));
            void worker.terminate();
            break;
          case 'serial-out': {
            const count = message.bytes.length;
            serial.write(message.bytes, () => worker.postMessage({ type: 'serial-ack', bytes: count } satisfies ToWorker));
            break;
          }
          case 'stats':
            lastStats = message.snapshot;
            vm?.statsWaiters.get(message.id)?.(message.snapshot);
            vm?.statsWaiters.delete(message.id);
            break;
          case 'ended':
            void finish(message.end, message.stats).then(() => worker.terminate());
            break;
        }
      });
      worker.on('error', (error) => {
        reject(error);
        void finish({ reason: 'error', detail: `VM worker failed: ${error.message}` }, null);
      });
      worker.on('exit', () => {
        reject(new Error('VM worker exited before the VM started'));
        void finish({ reason: 'error', detail: 'VM worker exited' }, null);
      });
    });

    vm = new HostedVm(worker, serial, ram, done);
    for (const bytes of earlyInput) vm.sendSerial(bytes);
    if (!serial.hasInput) vm.post({ type: 'serial-in-closed' });
    const seconds = options.maxTimeSeconds;
    if (seconds !== undefined) {
      const limited = vm;
      timeLimit = setTimeout(() => limited.stop({ reason: 'time-limit', seconds }), seconds * 1000);
    }
    return vm;
  }

  pause(): void {
    this.post({ type: 'pause' });
  }

  resume(): void {
    this.post({ type: 'resume' });
  }

  /** Ends the run; `done` resolves once the worker has stopped the guest. */
  stop(end: VmEnd = { reason: 'stopped', detail: 'stopped by the host' }): void {
    this.post({ type: 'stop', end });
  }

  /** The exit statistics now (the final ones once the run has ended). */
  stats(): Promise<StatsSnapshot> {
    if (this.finished) return Promise.resolve(this.finished.stats);
    const id = this.nextStatsId++;
    return new Promise((resolve) => {
      this.statsWaiters.set(id, resolve);
      this.post({ type: 'stats', id });
      void this.done.then((report) => {
        if (this.statsWaiters.delete(id)) resolve(report.stats);
      });
    });
  }

  /** Bytes typed at the guest's serial console. */
  sendSerial(bytes: Uint8Array): void {
    this.post({ type: 'serial-in', bytes });
  }

  /**
   * Presses the guest's ACPI power button, as QEMU's `system_powerdown`: an ACPI OS that handles it
   * powers off (the run ends as after any power-off); one that does not runs on. A Xen PV kernel
   * is asked as `xl shutdown` asks it: "poweroff" in its xenstore node control/shutdown.
   */
  pressPowerButton(): void {
    this.post({ type: 'power-button' });
  }

  /** No more serial input will come (stdin reached end of file). */
  closeSerialInput(): void {
    this.post({ type: 'serial-in-closed' });
  }

  private post(message: ToWorker): void {
    if (!this.finished) this.worker.postMessage(message);
  }
}

function emptyStats(): StatsSnapshot {
  return { byReason: {}, byPort: [], counters: {}, post: null, instructions: 0, instructionsEstimated: false, guestNs: 0, runMs: 0 };
}
