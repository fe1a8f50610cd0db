// The type-1 hypervisor: owns the platform (pCPU workers, the RAM pool, the device-model thread
// with each domain's device models), creates and destroys domains, and drives the credit
// scheduler: every pCPU runs the vCPU the scheduler picks for the slice it gives, and asks again
// when the slice ends.
import { hostname, machine, release } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { findStrategy, loadStrategy, type StrategyRegistry } from '@ringvisor/hypervisor-type2';
import type { VcpuState, VmmStrategy } from '@ringvisor/vmm-api';
import { Domain, type DomainState, type EndOutcome } from './domain.js';
import { diskExtentOf, extentsConflict } from './disk/domain-disk.js';
import { FRAME_SIZE, FramePool } from './memory/frame-pool.js';
import { restartPlan } from './lifecycle.js';
import type { DomainConfig, DomainEnd, PlatformConfig, SchedulerConfig } from './platform/schema.js';
import {
  CTRL_PREEMPT, CTRL_WORDS, DOORBELL_RING, DOORBELL_WORDS, type DomainImage, type FromPcpu, type ToPcpu, type VcpuStart,
  type WorkerInit,
} from './pcpu/protocol.js';
import { wallMs } from './domain-clock.js';
import type { BoardSpec, DmInit, FromDm, ToDm } from './dm/protocol.js';
import { Credit2Scheduler, type Tickle } from './sched/credit2.js';

/** Strategies whose domains run from the RAM pool. */
const POOL_STRATEGIES = new Set(['hw:vmx', 'full', 'para']);
/**
 * Strategies whose vCPUs cannot move between pCPUs yet (domain state kept in the VM on its pCPU):
 * their domains stay on the first pCPU their affinity allows.
 */
const RESIDENT_STRATEGIES = new Set(['para']);

export interface Type1Options {
  readonly platform: PlatformConfig;
  /** Where each strategy lives (module URL + export), as hypervisor-type2 takes it. */
  readonly strategies: StrategyRegistry;
  /** The hypervisor's own log lines (domain created, crashed, destroyed...). */
  readonly log?: (line: string) => void;
  /** A domain's console output. */
  readonly console?: (domain: Domain, bytes: Uint8Array) => void;
  /** The pCPU worker's module (default: next to this module). */
  readonly workerUrl?: URL;
  /** The device-model thread's module (default: next to this module). */
  readonly deviceModelUrl?: URL;
}

/** A row of `xl list`. */
export interface DomainInfo {
  readonly name: string;
  readonly id: number;
  readonly memoryMiB: number;
  readonly vcpus: number;
  /** xl's six state flags, e.g. `r-----`. */
  readonly state: string;
  readonly cpuSeconds: number;
  readonly end: string | null;
}

/** What `xl info` shows: the platform the hypervisor owns and what of it is free. */
export interface HostInfo {
  readonly host: string;
  readonly release: string;
  readonly machine: string;
  readonly pcpus: number;
  readonly totalMiB: number;
  readonly freeMiB: number;
  /** The largest contiguous free run: a domain's RAM is one extent, so the most one domain can get. */
  readonly largestFreeMiB: number;
  readonly domains: number;
  readonly scheduler: SchedulerConfig;
}

/** A row of `xl vcpu-list`. */
export interface VcpuInfo {
  readonly name: string;
  readonly id: number;
  readonly vcpu: number;
  readonly cpu: number | null;
  readonly state: string;
  readonly cpuSeconds: number;
  readonly affinity: readonly number[];
  /** Seconds it ran on each pCPU. */
  readonly secondsOn: readonly number[];
}

interface Pcpu {
  readonly index: number;
  readonly worker: Worker;
  readonly ctrl: Int32Array;
  /** The vCPU its current slice runs, or -1 while it sleeps. */
  running: number;
  /** The vCPU it gave its last slice, until it sleeps (-1). */
  lastRan: number;
  /** A timer to look again when a capped domain's next period begins. */
  wakeTimer: ReturnType<typeof setTimeout> | null;
}

interface VcpuRecord {
  readonly id: number;
  readonly domain: Domain;
  /** Its number in the domain (xl's VCPU column). */
  readonly index: number;
  /** Where its last slice ran (its VM there is current), or -1 before the first. */
  lastPcpu: number;
  /** The state its last slice ended with: what another pCPU imports, and when it came (scheduler ns). */
  state: VcpuState | null;
  stateAt: number;
  migrations: number;
  /** Run time on each pCPU (ns): where affinity let it run. */
  readonly timeOn: number[];
}

/** IA32_TIME_STAMP_COUNTER, and the tick of an emulated CPU's TSC that follows a host clock (100 MHz). */
const TSC_MSR = 0x10;
const TSC_NS_PER_TICK = 10;

/**
 * The state with its TSC moved on by the `ns` it spent waiting: a pCPU's TSC follows the domain's
 * host clock, so importing the exported value as it is would wind the counter back by the wait
 * (KVM adjusts the TSC offset on a vCPU's move for the same reason).
 */
function tscAdvanced(state: VcpuState, ns: number): VcpuState {
  const ticks = BigInt(Math.max(0, Math.floor(ns / TSC_NS_PER_TICK)));
  return { ...state, msrs: state.msrs.map((m) => (m.index === TSC_MSR ? { index: m.index, value: m.value + ticks } : m)) };
}

/** How long shutdown waits for a pCPU to close the disks it holds before it is terminated anyway (ms). */
const PCPU_STOP_WAIT_MS = 2000;

const STATE_FLAGS: Record<Exclude<DomainState, 'shutdown' | 'crashed'>, string> = {
  running: 'r-----', runnable: '------', blocked: '-b----', paused: '--p---', dying: '-----d',
};
/** xl list's fifth flag for a domain that shut down: its shutdown reason (xl's letters: r reboot, c crash, w watchdog; power-off none). */
const END_LETTERS: Record<DomainEnd, string> = { poweroff: '-', reboot: 'r', crash: 'c', watchdog: 'w' };
/** A strategy's shutdown exit (vmm-api's cause) as Xen's shutdown reason. */
const EXIT_ENDS: ReadonlyMap<string | undefined, DomainEnd> = new Map([['power-off', 'poweroff'], ['reset', 'reboot'], ['watchdog', 'watchdog']]);

/** xl's six state flags: r b p s, the shutdown reason's letter, d. */
function stateFlags(state: DomainState, end: DomainEnd | null): string {
  if (state === 'shutdown' || state === 'crashed') return `---s${END_LETTERS[end ?? 'poweroff']}-`;
  return STATE_FLAGS[state];
}

export class Type1Hypervisor {
  readonly pool: FramePool;
  readonly scheduler: Credit2Scheduler;
  private readonly pcpus: Pcpu[] = [];
  private readonly domains = new Map<number, Domain>();
  private readonly vcpus = new Map<number, VcpuRecord>();
  /** What a pCPU needs to build each domain's VM. */
  private readonly images = new Map<number, DomainImage>();
  /** The pool strategies, loaded here too: a strategy may need frames of its own beside guest RAM. */
  private readonly loaded = new Map<string, VmmStrategy>();
  private readonly destroyWaiters = new Map<number, (() => void)[]>();
  /** Reaped domains whose frames wait for every pCPU and the device-model thread to drop them: answers still due, and what follows. */
  private readonly dropping = new Map<number, { left: number; then: (() => void) | undefined }>();
  /** pCPUs asked to stop, by index: called when one answers that it closed its disks. */
  private readonly stopWaiters = new Map<number, () => void>();
  /** Ended domains waiting out their restart's back-off (lifecycle.ts), by domain ID. */
  private readonly restartTimers = new Map<number, ReturnType<typeof setTimeout>>();
  private nextDomainId = 1;
  private nextVcpuId = 1;
  private stopped = false;
  private readonly epoch = performance.now();
  /** The device-model thread, the port its messages arrive on, and the doorbell that wakes it. */
  private deviceModel: Worker | null = null;
  private dmPort: MessagePort | null = null;
  private readonly doorbell = new Int32Array(new SharedArrayBuffer(DOORBELL_WORDS * 4));
  private constructor(readonly options: Type1Options) {
    const { platform } = options;
    this.pool = new FramePool(platform.memoryMiB * 1024 * 1024);
    this.scheduler = new Credit2Scheduler({
      pcpus: platform.pcpus, maxSliceNs: platform.scheduler.maxSliceUs * 1000, ratelimitNs: platform.scheduler.ratelimitUs * 1000,
    });
  }

  /** Boots the platform: the pool, one worker per pCPU, then the autostart domains. */
  static async start(options: Type1Options): Promise<Type1Hypervisor> {
    const hv = new Type1Hypervisor(options);
    try {
      for (const entry of options.strategies) {
        if (POOL_STRATEGIES.has(entry.name)) hv.loaded.set(entry.name, await loadStrategy(entry));
      }
      await hv.startPcpus();
      for (const config of options.platform.domains) if (config.autostart) hv.create(config);
    } catch (error) {
      await hv.shutdown();
      throw error;
    }
    return hv;
  }

  get pcpuCount(): number {
    return this.pcpus.length;
  }

  /** xl info. */
  info(): HostInfo {
    const mib = (frames: number) => Math.floor((frames * FRAME_SIZE) / (1024 * 1024));
    return {
      host: hostname(), release: release(), machine: machine(), pcpus: this.pcpus.length,
      totalMiB: mib(this.pool.frames), freeMiB: mib(this.pool.freeFrames), largestFreeMiB: mib(this.pool.largestFreeRun),
      domains: this.domains.size, scheduler: this.options.platform.scheduler,
    };
  }

  private async startPcpus(): Promise<void> {
    // The workers are tsup's other entries, next to the bundled index.js.
    const url = this.options.workerUrl ?? new URL('./worker.js', import.meta.url);
    const controls = Array.from({ length: this.options.platform.pcpus }, () => new SharedArrayBuffer(CTRL_WORDS * 4));
    const ready: Promise<void>[] = [this.startDeviceModel(controls)];
    for (let index = 0; index < this.options.platform.pcpus; index++) {
      const control = controls[index];
      const init: WorkerInit = { pcpu: index, pool: this.pool.buffer, control, doorbell: this.doorbell.buffer as SharedArrayBuffer };
      const worker = new Worker(url, { workerData: init });
      const ctrl = new Int32Array(control);
      const pcpu: Pcpu = { index, worker, ctrl, running: -1, lastRan: -1, wakeTimer: null };
      this.pcpus.push(pcpu);
      ready.push(new Promise((resolve, reject) => {
        worker.once('error', reject);
        worker.once('message', (message: FromPcpu) => {
          worker.off('error', reject);
          worker.on('message', (m: FromPcpu) => this.onPcpuMessage(m));
          worker.on('error', (error) => this.log(`pCPU ${index} failed: ${error.message}`));
          if (message.type === 'ready') resolve();
          else reject(new Error(`pCPU ${index} did not start`));
        });
      }));
    }
    await Promise.all(ready);
  }

  /** The device-model thread: it serves every pCPU's requests from `controls`. */
  private startDeviceModel(controls: readonly SharedArrayBuffer[]): Promise<void> {
    const channel = new MessageChannel();
    const init: DmInit = { pool: this.pool.buffer, doorbell: this.doorbell.buffer as SharedArrayBuffer, controls, port: channel.port2 };
    const worker = new Worker(this.options.deviceModelUrl ?? new URL('./device-model.js', import.meta.url), {
      workerData: init, transferList: [channel.port2],
    });
    this.deviceModel = worker;
    this.dmPort = channel.port1;
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (message: FromDm) => {
        worker.off('error', reject);
        worker.on('message', (m: FromDm) => this.onDeviceModelMessage(m));
        worker.on('error', (error) => this.log(`device-model thread failed: ${error.message}`));
        if (message.type === 'ready') resolve();
        else reject(new Error('the device-model thread did not start'));
      });
    });
  }

  /** A message for the device-model thread, which sleeps on the doorbell rather than an event loop: ring it. */
  private toDeviceModel(message: ToDm): void {
    this.dmPort?.postMessage(message);
    Atomics.add(this.doorbell, DOORBELL_RING, 1);
    Atomics.notify(this.doorbell, DOORBELL_RING);
  }

  private onDeviceModelMessage(message: FromDm): void {
    if (message.type === 'ready') return;
    if (message.type === 'dropped') {
      this.dropped(message.domain);
      return;
    }
    const domain = this.domains.get(message.domain);
    if (!domain) return;
    if (message.type === 'console') {
      domain.console.write(message.bytes);
    } else if (message.type === 'error' && message.fatal) {
      if (domain.end !== null) return;
      this.endDomain(domain, 'crash', `its devices could not be built: ${message.message}`);
    } else if (message.type === 'error') {
      this.log(`device model error in domain ${domain.id} '${domain.name}': ${message.message}`);
    } else if (domain.end === null && !domain.paused) {
      for (const vcpu of this.vcpusOf(domain)) {
        if (this.scheduler.state(vcpu.id) === 'blocked') this.applyTickle(this.scheduler.wake(vcpu.id, this.now()));
      }
    }
  }

  /** Nanoseconds since the hypervisor started (the scheduler's time). */
  private now(): number {
    return (performance.now() - this.epoch) * 1e6;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  /** Builds a domain from the pool and makes its vCPU runnable. Throws (and keeps nothing) on failure. */
  create(config: DomainConfig): Domain {
    if (this.stopped) throw new Error('the hypervisor is shutting down');
    if ([...this.domains.values()].some((d) => d.name === config.name)) throw new Error(`a domain named '${config.name}' exists`);
    if (!POOL_STRATEGIES.has(config.strategy)) {
      throw new Error(`strategy ${config.strategy} cannot run a domain from the RAM pool yet (only ${[...POOL_STRATEGIES].join(', ')}; see the hypervisor-type1 README)`);
    }
    for (const cpu of config.affinity) if (cpu >= this.pcpus.length) throw new Error(`affinity: pCPU ${cpu} does not exist (0..${this.pcpus.length - 1})`);
    const strategy = findStrategy(this.options.strategies, config.strategy);
    const disk = config.disk ? diskExtentOf(config.disk, this.options.platform.disk) : null;
    if (disk) {
      const user = [...this.domains.values()].find((d) => d.disk !== null && extentsConflict(d.disk, disk));
      if (user) {
        const how = disk.readOnly ? `writable by domain '${user.name}'` : `domain '${user.name}'s disk (only disks read-only in both may share bytes)`;
        throw new Error(`disk: bytes ${disk.offset}..${disk.offset + disk.size - 1} of ${disk.path} are ${how}`);
      }
    }
    const span = Domain.ramSpan(config);
    // Strategy full keeps its VMM frames (translation cache, shadow tables) above guest RAM in the
    // same memory: they come from the pool too, charged to the domain (Xen's shadow memory).
    const hostBytes = this.loaded.get(config.strategy)?.hostRamSize?.(span) ?? span;
    const id = this.nextDomainId++;
    const extent = this.pool.allocate(Math.ceil(hostBytes / FRAME_SIZE), id);
    let domain: Domain;
    try {
      domain = new Domain(id, config, extent, this.pool, span / FRAME_SIZE, disk);
    } catch (error) {
      this.pool.release(extent, id);
      throw error;
    }
    // A para-virtual domain's state (frame types, event channels, its back ends) lives in its VM on
    // one pCPU: it stays resident there, on the first pCPU its affinity allows. A full domain moves
    // as an hw:vmx one does: its VM on each pCPU shares the VMM frames, and an import rebuilds them.
    const affinity = RESIDENT_STRATEGIES.has(config.strategy) ? [config.affinity[0]] : config.affinity;
    // A vCPU that can never move has its device models on its pCPU: no round trip per access.
    const board: BoardSpec = {
      domain: id, ramSize: config.memoryMiB * 1024 * 1024, rtcTime: domain.rtcTime, epochMs: domain.epochMs,
      lines: domain.linesBuffer, extent, guestFrames: span / FRAME_SIZE, dmaLog: domain.dmaLogBuffer,
      ...(disk && !domain.pvKernel ? { disk } : {}),
    };
    const localBoard = affinity.length === 1 && !domain.pvKernel;
    const vcpuIds = Array.from({ length: config.vcpus }, () => this.nextVcpuId++);
    domain.home = affinity.length === 1 ? affinity[0] : null;
    const image: DomainImage = {
      ...(domain.pvKernel ? {
        pv: {
          kernel: domain.pvKernel, cmdline: config.boot.kind === 'pv' ? config.boot.cmdline : '', vcpuIds,
          ...(domain.pvInitrd ? { initrd: domain.pvInitrd } : {}), ...(disk ? { disk } : {}),
        },
      } : {}),
      ...(localBoard ? { board } : {}),
      id, strategy, ramOffset: extent.first * FRAME_SIZE, ramBytes: domain.ramBytes,
      regions: domain.regions, lines: domain.linesBuffer, epochMs: domain.epochMs, dmaLog: domain.dmaLogBuffer,
      claimedPorts: domain.claimedPorts(), mmioWindows: domain.mmioWindows(),
    };
    this.images.set(id, image);
    if (!localBoard) this.toDeviceModel({ type: 'create', ...board });
    domain.console.listeners.add((bytes) => this.options.console?.(domain, bytes));
    this.domains.set(id, domain);
    for (const [index, vcpuId] of vcpuIds.entries()) {
      this.vcpus.set(vcpuId, { id: vcpuId, domain, index, lastPcpu: -1, state: null, stateAt: 0, migrations: 0, timeOn: this.pcpus.map(() => 0) });
      // vCPUs past the first are down until the guest brings them up (its pCPU then wakes them).
      this.scheduler.add({ id: vcpuId, domain: id, weight: config.weight, cap: config.cap, affinity, blocked: index > 0 }, this.now());
    }
    this.log(`domain ${id} '${config.name}' created: ${config.strategy}, ${config.memoryMiB} MiB (frames ${extent.first}..${extent.first + extent.count - 1}), weight ${config.weight}${config.cap ? `, cap ${config.cap}%` : ''}${RESIDENT_STRATEGIES.has(config.strategy) ? `, resident on pCPU ${affinity[0]}` : ''}${localBoard ? `, device models on pCPU ${affinity[0]}` : ''}`);
    this.fillIdle();
    return domain;
  }

  /** The domain by name or id (as xl takes it). */
  find(ref: string | number): Domain {
    for (const d of this.domains.values()) if (d.name === ref || d.id === Number(ref)) return d;
    throw new Error(`no domain '${ref}'`);
  }

  /** The domain's vCPUs, vCPU 0 first. */
  private vcpusOf(domain: Domain): VcpuRecord[] {
    return [...this.vcpus.values()].filter((v) => v.domain === domain).sort((a, b) => a.index - b.index);
  }

  /**
   * An ended or dying domain's vCPUs are never dispatched again: the waiting ones are paused now, a
   * running one when its slice ends. So its end (a restart, a reap) finds none of them on a pCPU.
   */
  private stopVcpus(domain: Domain): void {
    for (const vcpu of this.vcpusOf(domain)) this.scheduler.pause(vcpu.id);
  }

  /** Whether a slice of one of the domain's vCPUs runs on some pCPU. */
  private onPcpu(domain: Domain): boolean {
    return this.pcpus.some((p) => p.running !== -1 && this.vcpus.get(p.running)?.domain === domain);
  }

  /** Stops a domain at once and returns its frames to the pool (after its running slice ends). */
  destroy(ref: string | number): Promise<void> {
    const domain = this.find(ref);
    const done = new Promise<void>((resolve) => {
      const list = this.destroyWaiters.get(domain.id) ?? [];
      list.push(resolve);
      this.destroyWaiters.set(domain.id, list);
    });
    domain.finish('dying', 'destroyed');
    this.stopVcpus(domain);
    // Whatever its end was waiting for (a restart's back-off, or its frames before a restart), it is destroyed now.
    const dropping = this.dropping.get(domain.id);
    if (dropping) dropping.then = undefined;
    domain.settle({ end: domain.end!, action: 'destroy' });
    if (!this.onPcpu(domain)) this.reap(domain);
    return done;
  }

  /**
   * xl shutdown: asks the guest to shut down; the guest decides. A full or hw:vmx domain, as xl
   * asks an HVM guest without PV drivers: its ACPI power button is pressed (an SCI once the guest
   * enabled PWRBTN_EN). A para domain, as xl asks a PV guest: "poweroff" is written to its xenstore
   * node control/shutdown (`askPv`). A guest that obeys ends as after any power-off (`ended()`
   * resolves then, `settled()` once on_poweroff was carried out); one that ignores the button, or a
   * PV kernel that never watches control/shutdown, runs on with the request left in place, as under
   * Xen (xl shutdown -w then waits on; xl destroy stops it).
   */
  shutdownDomain(ref: string | number): Domain {
    const domain = this.running(ref);
    if (domain.pvKernel !== null) return this.askPv(domain, 'poweroff');
    const local = domain.home !== null && this.images.get(domain.id)?.board !== undefined;
    if (local) this.pcpus[domain.home!].worker.postMessage({ type: 'power-button', domain: domain.id } satisfies ToPcpu);
    else this.toDeviceModel({ type: 'power-button', domain: domain.id });
    this.log(`domain ${domain.id} '${domain.name}': ACPI power button pressed`);
    return domain;
  }

  /**
   * xl reboot: a para domain is asked as xl asks a PV guest, "reboot" in its xenstore
   * control/shutdown; a guest that obeys ends through sched_op(shutdown, reboot) and on_reboot
   * applies. A full or hw:vmx domain has no PV control interface: as xl without -F, it is refused;
   * with `force` (xl reboot -F, libxl's reset trigger) its board is reset at once, a PC's reset
   * button: the guest is not asked and sees nothing (no ACPI event asks for a reboot), and the
   * domain ends as a guest-requested reset does, so on_reboot applies.
   */
  rebootDomain(ref: string | number, force = false): Domain {
    const domain = this.running(ref);
    if (domain.pvKernel !== null) return this.askPv(domain, 'reboot');
    if (!force) {
      throw new Error(`domain '${domain.name}' (${domain.config.strategy}) has no PV control interface: a graceful reboot is not possible (-F resets it; the guest is not asked)`);
    }
    this.log(`domain ${domain.id} '${domain.name}': reset (xl reboot -F)`);
    this.endDomain(domain, 'reboot', 'reset by the toolstack');
    return domain;
  }

  /**
   * xl shutdown -a / xl reboot -a: every domain that has not ended, in ID order, asked as
   * `shutdownDomain` / `rebootDomain` ask one (`force`: reboot -F). Domains already shut down or
   * crashed are left out (there is nothing to ask). As xl, which stops at the first domain it
   * cannot ask, a refusal ends the command: the domains before it were asked, those after it are
   * not, and the error says which.
   */
  askAll(command: 'shutdown' | 'reboot', force = false): Domain[] {
    const targets = [...this.domains.values()].filter((d) => d.end === null).sort((a, b) => a.id - b.id);
    const named = (list: readonly Domain[]) => list.map((d) => `domain ${d.id} '${d.name}'`).join(', ');
    for (const [i, domain] of targets.entries()) {
      try {
        if (command === 'shutdown') this.shutdownDomain(domain.id);
        else this.rebootDomain(domain.id, force);
      } catch (error) {
        const lines = [error instanceof Error ? error.message : String(error)];
        if (i > 0) lines.push(`asked before it: ${named(targets.slice(0, i))}`);
        if (i + 1 < targets.length) lines.push(`not asked: ${named(targets.slice(i + 1))}`);
        throw new Error(lines.join('\n'));
      }
    }
    return targets;
  }

  /** The domain, which must not have ended yet. */
  private running(ref: string | number): Domain {
    const domain = this.find(ref);
    if (domain.end !== null) throw new Error(`domain '${domain.name}' has already ended (${domain.end})`);
    return domain;
  }

  /**
   * Writes `reason` to a para domain's xenstore node control/shutdown, on the pCPU it is resident
   * on, firing the guest's watch on it (a request made before its VM is built there waits and is
   * written at the build; the guest sees it when it sets its watch).
   */
  private askPv(domain: Domain, reason: 'poweroff' | 'reboot'): Domain {
    this.pcpus[domain.home!].worker.postMessage({ type: 'pv-shutdown', domain: domain.id, reason } satisfies ToPcpu);
    this.log(`domain ${domain.id} '${domain.name}': xenstore control/shutdown = ${reason}`);
    return domain;
  }

  pause(ref: string | number): void {
    const domain = this.running(ref);
    if (!domain.paused) domain.pausedAtMs = wallMs();
    domain.paused = true;
    domain.state = 'paused';
    for (const vcpu of this.vcpusOf(domain)) {
      this.scheduler.pause(vcpu.id);
      const pcpu = this.pcpus.find((p) => p.running === vcpu.id);
      if (pcpu) Atomics.store(pcpu.ctrl, CTRL_PREEMPT, 1);
    }
  }

  unpause(ref: string | number): void {
    const domain = this.find(ref);
    if (!domain.paused) return;
    domain.paused = false;
    domain.lastPause = { fromMs: domain.pausedAtMs, untilMs: wallMs() };
    domain.state = 'runnable';
    // Each vCPU runs again; one that was down or blocked when paused finds out at its first slice.
    for (const vcpu of this.vcpusOf(domain)) {
      if (this.scheduler.state(vcpu.id) === 'paused') this.applyTickle(this.scheduler.wake(vcpu.id, this.now()));
    }
    this.fillIdle();
  }

  /**
   * xl vcpu-set: asks a para domain's guest to keep `count` vCPUs online (1..its vcpus), through
   * xenstore cpu/N/availability as libxl does; the guest brings them up or takes them down itself.
   * A full or hw:vmx domain has one vCPU and no such interface.
   */
  setVcpus(ref: string | number, count: number): Domain {
    const domain = this.running(ref);
    if (domain.pvKernel === null) throw new Error(`domain '${domain.name}' (${domain.config.strategy}) has no PV control interface for its vCPUs`);
    if (!Number.isInteger(count) || count < 1 || count > domain.config.vcpus) {
      throw new Error(`domain '${domain.name}' can have 1 to ${domain.config.vcpus} vCPUs online (its vcpus), not ${count}`);
    }
    this.pcpus[domain.home!].worker.postMessage({ type: 'pv-vcpus', domain: domain.id, online: count } satisfies ToPcpu);
    this.log(`domain ${domain.id} '${domain.name}': xenstore cpu/N/availability: ${count} of ${domain.config.vcpus} online`);
    return domain;
  }

  /** xl vcpu-pin: the hard affinity of vCPU `vcpu` of the domain, or of all of them; a vCPU moves at its next slice. */
  pin(ref: string | number, cpus: readonly number[], vcpu: number | 'all' = 'all'): void {
    const domain = this.find(ref);
    const vcpus = this.vcpusOf(domain).filter((v) => vcpu === 'all' || v.index === vcpu);
    if (vcpus.length === 0) throw new Error(`domain '${domain.name}' has no vCPU ${vcpu} (0..${domain.config.vcpus - 1})`);
    const home = domain.home;
    if (home !== null && (cpus.length !== 1 || cpus[0] !== home)) {
      if (RESIDENT_STRATEGIES.has(domain.config.strategy)) throw new Error(`domain '${domain.name}' (${domain.config.strategy}) stays on pCPU ${home}, where its state lives`);
      throw new Error(`domain '${domain.name}' stays on pCPU ${home}, where its device models live (its hard affinity named that pCPU alone at creation)`);
    }
    for (const v of vcpus) {
      this.scheduler.setAffinity(v.id, cpus);
      const pcpu = this.pcpus.find((p) => p.running === v.id);
      if (pcpu && !cpus.includes(pcpu.index)) Atomics.store(pcpu.ctrl, CTRL_PREEMPT, 1);
    }
    this.fillIdle();
  }

  /** xl sched-credit2: weight and cap of a domain (either may be left as it is). */
  setScheduling(ref: string | number, params: { weight?: number; cap?: number }): { weight: number; cap: number } {
    const domain = this.find(ref);
    const current = this.scheduler.domainParams(domain.id) ?? { weight: domain.config.weight, cap: domain.config.cap };
    const next = { weight: params.weight ?? current.weight, cap: params.cap ?? current.cap };
    this.scheduler.setDomain(domain.id, next.weight, next.cap, this.now());
    return next;
  }

  schedulingOf(ref: string | number): { weight: number; cap: number } {
    const domain = this.find(ref);
    return this.scheduler.domainParams(domain.id) ?? { weight: domain.config.weight, cap: domain.config.cap };
  }

  list(): DomainInfo[] {
    return [...this.domains.values()].map((d) => ({
      name: d.name, id: d.id, memoryMiB: d.config.memoryMiB, vcpus: d.config.vcpus,
      state: stateFlags(this.stateOf(d), d.endKind), cpuSeconds: d.cpuNs / 1e9, end: d.end,
    }));
  }

  vcpuList(): VcpuInfo[] {
    return [...this.vcpus.values()].sort((a, b) => a.domain.id - b.domain.id || a.index - b.index).map((v) => {
      const pcpu = this.pcpus.find((p) => p.running === v.id);
      const state = pcpu ? 'r' : this.scheduler.state(v.id) === 'blocked' ? 'b' : this.scheduler.state(v.id) === 'paused' ? 'p' : '-';
      return {
        name: v.domain.name, id: v.domain.id, vcpu: v.index, cpu: pcpu ? pcpu.index : v.lastPcpu >= 0 ? v.lastPcpu : null, state,
        cpuSeconds: this.scheduler.time(v.id) / 1e9, affinity: this.scheduler.affinity(v.id), secondsOn: v.timeOn.map((ns) => ns / 1e9),
      };
    });
  }

  /** Times the domain's vCPUs moved to another pCPU (state exported there and imported here). */
  migrations(ref: string | number): number {
    return this.vcpusOf(this.find(ref)).reduce((sum, v) => sum + v.migrations, 0);
  }

  /**
   * Bytes typed at a domain's console (COM1 input), handed to its device models (the UART keeps up
   * to its input queue; more is dropped, as on a full line); returns how many were handed on.
   */
  consoleInput(domain: Domain, bytes: Uint8Array): number {
    if (domain.end !== null) return 0;
    if (domain.home !== null && (domain.pvKernel !== null || this.images.get(domain.id)?.board !== undefined)) {
      // The console back end is on the domain's pCPU: in its VM (para-virtual) or its device models there.
      this.pcpus[domain.home].worker.postMessage({ type: 'console-input', domain: domain.id, bytes: bytes.slice() } satisfies ToPcpu);
      return bytes.length;
    }
    this.toDeviceModel({ type: 'input', domain: domain.id, bytes: bytes.slice() });
    return bytes.length;
  }

  /** The state the domain's vCPU 0 left its last slice with (a pause stops it at a slice end), or null before its first. */
  vcpuState(ref: string | number): VcpuState | null {
    return this.vcpusOf(this.find(ref))[0].state;
  }

  /** Running while any vCPU runs, blocked when all are blocked (or down), else runnable. */
  private stateOf(d: Domain): DomainState {
    if (this.onPcpu(d)) return d.state === 'dying' ? 'dying' : 'running';
    if (d.end !== null || d.paused) return d.state;
    return this.vcpusOf(d).every((v) => this.scheduler.state(v.id) === 'blocked') ? 'blocked' : 'runnable';
  }

  /** Stops every pCPU and domain. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const timer of this.restartTimers.values()) clearTimeout(timer);
    this.restartTimers.clear();
    for (const d of this.domains.values()) d.finish('dying', 'hypervisor shut down');
    for (const p of this.pcpus) if (p.wakeTimer !== null) clearTimeout(p.wakeTimer);
    // The pCPUs first: a slice still running may wait for the device-model thread's answer.
    await Promise.all(this.pcpus.map((p) => this.stopPcpu(p)));
    this.toDeviceModel({ type: 'stop' });
    await Promise.all([...this.pcpus.map((p) => p.worker.terminate()), this.deviceModel?.terminate()]);
    this.dmPort?.close();
    // No thread is left to touch a domain still being dropped.
    for (const id of [...this.dropping.keys()]) this.release(id);
  }

  /** Asks a pCPU to close the disks of the boards it holds (after its slice: every domain has ended). */
  private stopPcpu(p: Pcpu): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.stopWaiters.delete(p.index);
        resolve();
      }, PCPU_STOP_WAIT_MS);
      this.stopWaiters.set(p.index, () => {
        clearTimeout(timer);
        resolve();
      });
      p.worker.postMessage({ type: 'stop' } satisfies ToPcpu);
    });
  }

  // --- scheduling -----------------------------------------------------------------------------

  /** Every sleeping pCPU looks for work. */
  private fillIdle(): void {
    for (const p of this.pcpus) if (p.running === -1) this.dispatch(p);
  }

  private dispatch(p: Pcpu): void {
    if (this.stopped || p.running !== -1) return;
    if (p.wakeTimer !== null) {
      clearTimeout(p.wakeTimer);
      p.wakeTimer = null;
    }
    const pick = this.scheduler.pick(p.index, this.now());
    if (pick.kind === 'idle') {
      p.lastRan = -1;
      // Idle pCPUs sleep: nothing runs until a wake-up or a capped domain's next period.
      if (pick.until !== Infinity) p.wakeTimer = setTimeout(() => this.dispatch(p), Math.max(0, (pick.until - this.now()) / 1e6));
      return;
    }
    const vcpu = this.vcpus.get(pick.vcpu)!;
    const domain = vcpu.domain;
    let start: VcpuStart;
    // A para domain's later vCPUs were made with its VM, on its pCPU: they resume there.
    if (vcpu.lastPcpu === -1 && vcpu.index > 0) start = { kind: 'resume' };
    else if (vcpu.lastPcpu === -1) start = domain.entry ? { kind: 'entry', regs: domain.entry.regs, sregs: domain.entry.sregs } : { kind: 'pv' };
    else if (vcpu.lastPcpu === p.index) start = { kind: 'resume' };
    else {
      start = { kind: 'state', state: tscAdvanced(vcpu.state!, this.now() - vcpu.stateAt) };
      vcpu.migrations++;
    }
    p.running = vcpu.id;
    domain.unblock();
    Atomics.store(p.ctrl, CTRL_PREEMPT, 0);
    const message: ToPcpu = { type: 'run', vcpu: vcpu.id, domain: this.images.get(domain.id)!, sliceNs: pick.sliceNs, start, continued: p.lastRan === vcpu.id,
      lastPause: domain.lastPause,
    };
    p.lastRan = vcpu.id;
    p.worker.postMessage(message);
  }

  private onPcpuMessage(message: FromPcpu): void {
    if (message.type === 'stopped') {
      this.stopWaiters.get(message.pcpu)?.();
      this.stopWaiters.delete(message.pcpu);
      return;
    }
    if (message.type === 'console') {
      this.domains.get(message.domain)?.console.write(message.bytes);
      return;
    }
    if (message.type === 'dropped') {
      this.dropped(message.domain);
      return;
    }
    if (message.type === 'wake') {
      const v = this.vcpus.get(message.vcpu);
      if (v && v.domain.end === null && !v.domain.paused && this.scheduler.state(v.id) === 'blocked') {
        this.applyTickle(this.scheduler.wake(v.id, this.now()));
      }
      return;
    }
    if (message.type !== 'ran') return;
    const p = this.pcpus[message.pcpu];
    const vcpu = this.vcpus.get(message.vcpu)!;
    const domain = vcpu.domain;
    p.running = -1;
    const now = this.now();
    domain.cpuNs += message.ranNs;
    vcpu.timeOn[p.index] += message.ranNs;
    domain.retired += message.retired;
    if (message.state) {
      vcpu.state = message.state;
      vcpu.stateAt = now;
    }
    vcpu.lastPcpu = message.state || message.outcome !== 'crashed' ? p.index : -1;
    let next: 'runnable' | 'blocked' | 'paused' = 'runnable';
    // A guest that ended through the board (exit port) and then halts has ended, not crashed.
    const request = domain.end === null ? domain.shutdownRequest() : null;
    if (request !== null) {
      this.markEnded(domain, request.kind, request.why);
    } else if (message.outcome === 'crashed' && domain.end === null) {
      this.markEnded(domain, 'crash', message.detail ?? 'crashed');
    } else if (message.outcome === 'ended' && domain.end === null) {
      // The strategy ended it (a guest's sched_op shutdown, its watchdog, or its CPU's power-off or reset).
      this.markEnded(domain, EXIT_ENDS.get(message.detail) ?? 'poweroff', message.detail ?? 'ended');
    }
    if (domain.end !== null || domain.paused) next = 'paused';
    else if (message.outcome === 'blocked' && domain.block()) next = 'blocked';
    this.scheduler.descheduled(p.index, message.ranNs, now, next);
    if (this.onPcpu(domain)) {
      // Another of its vCPUs still runs: the domain's end is carried out when that slice ends.
    } else if (domain.state === 'dying') this.reap(domain);
    else if (domain.endKind !== null) this.afterEnd(domain);
    this.dispatch(p);
    this.fillIdle();
  }

  private applyTickle(tickle: Tickle | null): void {
    if (tickle === null) return;
    const p = this.pcpus[tickle.pcpu];
    if (tickle.preempt) Atomics.store(p.ctrl, CTRL_PREEMPT, 1);
    else this.dispatch(p);
  }


  /**
   * The domain ended (`kind`: Xen's shutdown reason). Its on_poweroff, on_reboot or on_crash is
   * carried out once its vCPU is off every pCPU: at once when it is, else when its slice ends.
   */
  private endDomain(domain: Domain, kind: DomainEnd, why: string): void {
    this.markEnded(domain, kind, why);
    if (!this.onPcpu(domain)) this.afterEnd(domain);
  }

  private markEnded(domain: Domain, kind: DomainEnd, why: string): void {
    domain.finish(kind, why);
    this.stopVcpus(domain);
    this.log(`domain ${domain.id} '${domain.name}' ${kind === 'crash' ? 'crashed' : 'shut down'}: ${why}`);
  }

  /** Carries out the domain's action for how it ended (lifecycle.ts), once; its vCPU runs nowhere. */
  private afterEnd(domain: Domain): void {
    const kind = domain.endKind!;
    if (this.stopped || domain.action !== null || domain.state === 'dying') return;
    const action = domain.config.on[kind];
    domain.action = action;
    const outcome: EndOutcome = { end: domain.end!, action };
    if (action === 'preserve') {
      this.log(`domain ${domain.id} '${domain.name}': on_${kind}=preserve: kept with its ${domain.extent.count} frames until xl destroy`);
      domain.settle(outcome);
      return;
    }
    if (action === 'destroy') {
      this.reap(domain);
      domain.settle(outcome);
      return;
    }
    const plan = restartPlan(domain.quickRestarts, wallMs() - domain.epochMs);
    this.log(`domain ${domain.id} '${domain.name}': on_${kind}=restart${plan.delayMs > 0 ? ` in ${plan.delayMs} ms (quick end ${plan.quickRestarts} in a row)` : ''}`);
    const restart = () => {
      this.restartTimers.delete(domain.id);
      // Created once the old frames are free again (the new domain may need them).
      this.reap(domain, () => {
        if (this.stopped) return;
        let next: Domain;
        try {
          next = this.create(domain.config);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          this.log(`domain '${domain.name}' could not be restarted: ${message}`);
          domain.settle({ ...outcome, restartError: message });
          return;
        }
        next.quickRestarts = plan.quickRestarts;
        this.log(`domain ${domain.id} '${domain.name}' restarted as domain ${next.id}`);
        domain.settle({ ...outcome, restartedAs: next.id });
      });
    };
    // Never from inside the message that ended it: the event loop serves everything else first.
    this.restartTimers.set(domain.id, setTimeout(restart, plan.delayMs));
  }

  /**
   * Forgets a dead domain: its vCPUs leave the scheduler at once; its frames go back to the pool
   * (and `then` runs) once every pCPU and the device-model thread have dropped it, so no timer,
   * DMA or runstate write of a thread that still held it lands in frames another domain was given.
   */
  private reap(domain: Domain, then?: () => void): void {
    const timer = this.restartTimers.get(domain.id);
    if (timer !== undefined) clearTimeout(timer);
    this.restartTimers.delete(domain.id);
    if (this.dropping.has(domain.id)) return;
    for (const vcpu of this.vcpusOf(domain)) {
      this.scheduler.remove(vcpu.id);
      this.vcpus.delete(vcpu.id);
    }
    this.dropping.set(domain.id, { left: this.pcpus.length + (this.deviceModel ? 1 : 0), then });
    for (const p of this.pcpus) p.worker.postMessage({ type: 'drop', domain: domain.id } satisfies ToPcpu);
    this.toDeviceModel({ type: 'drop', domain: domain.id });
  }

  /** One thread has dropped domain `id`; after the last, its frames are free. */
  private dropped(id: number): void {
    const entry = this.dropping.get(id);
    if (!entry || --entry.left > 0) return;
    this.release(id);
  }

  private release(id: number): void {
    const entry = this.dropping.get(id);
    const domain = this.domains.get(id);
    this.dropping.delete(id);
    if (!entry || !domain) return;
    this.pool.release(domain.extent, domain.id);
    this.domains.delete(domain.id);
    this.images.delete(domain.id);
    this.log(`domain ${domain.id} '${domain.name}' destroyed: ${domain.extent.count} frames back in the pool`);
    for (const resolve of this.destroyWaiters.get(domain.id) ?? []) resolve();
    this.destroyWaiters.delete(domain.id);
    entry.then?.();
  }
}
