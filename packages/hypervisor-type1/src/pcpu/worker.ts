// Entry point of a pCPU's worker thread: an emulated physical CPU. It runs whatever vCPU the
// hypervisor hands it for one slice and answers with the time used and the vCPU's state. A domain's
// VM is built here, the first time one of its vCPUs comes, over the domain's frames of the shared
// RAM pool, with the device-model thread behind the I/O request block, or with the domain's device
// models here when its vCPU never leaves this pCPU (local-devices.ts). A vCPU that ran on
// another pCPU since its last slice here comes with its state, and importing it drops what this
// pCPU's VM derived from guest memory meanwhile (vmm-api's importState contract). A para-virtual
// domain's vCPUs share its one VM here: the build makes them all, and the first owns the VM.
import { parentPort, workerData } from 'node:worker_threads';
import { loadStrategy } from '@ringvisor/hypervisor-type2';
import { ExitCounters, HostClock } from '@ringvisor/machine';
import type {
  Clock, InterruptController, IoBus, MmioBus, PvDomain, PvShutdownReason, Vcpu, VcpuState, Vm, VmmStrategy,
} from '@ringvisor/vmm-api';
import { domainNs } from '../domain-clock.js';
import { DiskExtentBackend } from '../disk/disk-extent.js';
import { DmaDrain } from './dma-drain.js';
import { IoreqClient } from './ioreq-client.js';
import { LocalDevices } from './local-devices.js';
import { pausedWithin } from './pause-span.js';
import { DOORBELL_RING, type DomainImage, type FromPcpu, type ToPcpu, type VcpuStart, type WorkerInit } from './protocol.js';
import { SliceRunner } from './vcpu-slice.js';

const port = parentPort;
if (!port) throw new Error('a pCPU must run in a worker thread');
const init = workerData as WorkerInit;
const ctrl = new Int32Array(init.control);
const doorbell = new Int32Array(init.doorbell);
const runner = new SliceRunner(ctrl);
const send = (message: FromPcpu) => port.postMessage(message);
const local = new LocalDevices(init.pool, send);

/** Wakes the device-model thread (a device there waits for this pCPU's DMA drain). */
function ringDoorbell(): void {
  Atomics.add(doorbell, DOORBELL_RING, 1);
  Atomics.notify(doorbell, DOORBELL_RING);
}

interface Instance {
  readonly domain: number;
  readonly id: number;
  /** It built the VM (another vCPU of a para-virtual domain shares it): disposing of it frees the VM. */
  readonly owner: boolean;
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  /** Where its port I/O, MMIO and INTA go: the device-model thread, or its device models on this pCPU. */
  readonly interrupts: InterruptController;
  readonly lines: Int32Array;
  /** A para-virtual domain's back ends, its disk and its clock's timers (the hypervisor's, on this pCPU). */
  readonly pv: {
    readonly domain: PvDomain; readonly disk: DiskExtentBackend | null; readonly clock: HostClock; timer: ReturnType<typeof setTimeout> | null;
  } | null;
  /** Tells the VM which frames the domain's devices wrote by DMA since it last looked. */
  readonly dma: DmaDrain;
}

const strategies = new Map<string, VmmStrategy>();
const instances = new Map<number, Instance>();
/** The para-virtual domains' VMs built here (their owners' instances): their timers run at every run boundary. */
const pvOwners: PvInstance[] = [];
/**
 * vCPUs whose last slice here ended while they could still run, by vCPU ID, with when
 * (performance.now()): each is told it was preempted once a slice of another vCPU, or one after
 * an idle gap, begins — and only just before its domain runs here again, so nothing touches the
 * memory of a domain that may have been destroyed meanwhile.
 */
const preemptable = new Map<number, { readonly instance: Instance; readonly at: number; switched: boolean }>();
/** Shutdown requests for para-virtual domains whose VM is not built here yet: written once it is (xenstore keeps them). */
const shutdownsBeforeBuild = new Map<number, PvShutdownReason>();

async function strategyOf(image: DomainImage): Promise<VmmStrategy> {
  let strategy = strategies.get(image.strategy.name);
  if (!strategy) {
    strategy = await loadStrategy(image.strategy);
    strategies.set(image.strategy.name, strategy);
  }
  return strategy;
}

/**
 * The domain's clock as a pCPU sees it: host time since the domain's epoch, the same on every pCPU,
 * so a time-stamp counter that follows it is one counter wherever the vCPU runs. Device timers are
 * the hypervisor's (its thread runs them); nothing on a pCPU schedules any.
 */
function domainClock(epochMs: number): Clock {
  return {
    kind: 'host',
    now: () => domainNs(epochMs),
    schedule: () => { throw new Error('device timers run on the hypervisor\'s thread, not on a pCPU'); },
    cancel: () => undefined,
  };
}

function importInto(vcpu: Vcpu, state: VcpuState): void {
  if (!vcpu.importState) throw new Error('this strategy cannot import a vCPU state, so its vCPUs cannot move between pCPUs');
  vcpu.importState(state);
}

/** setTimeout's longest delay: a later one fires after 1 ms (with a warning), so it is re-armed from here instead. */
const MAX_TIMEOUT_MS = 0x7fffffff;

/**
 * Runs a para-virtual domain's due timers (set_timer_op, VIRQ_TIMER) and tells the hypervisor when
 * they leave a blocked vCPU an event (not `running`, the vCPU in its slice here, which takes its
 * own at its next event check); returns the ms until the next (Infinity when none).
 */
function runPvTimers(domain: number, clock: HostClock, running = -1): number {
  let deadline = clock.nextDeadline();
  if (deadline !== null && deadline <= clock.now()) {
    clock.runDue();
    wakePending(domain, running);
    deadline = clock.nextDeadline();
  }
  return deadline === null ? Infinity : Math.max(0, (deadline - clock.now()) / 1e6);
}

/**
 * Every para-virtual domain's due timers on this pCPU, at a run boundary of any slice (Xen's timer
 * interrupt comes whoever runs): a blocked vCPU is woken on time even while another domain computes.
 */
function runResidentPvTimers(running: number): number {
  let ms = Infinity;
  for (let k = 0; k < pvOwners.length; k++) ms = Math.min(ms, runPvTimers(pvOwners[k].domain, pvOwners[k].pv.clock, running));
  return ms;
}

/** Outside slices (its vCPUs blocked, this pCPU idle), the domain's timers run from this pCPU's event loop. */
function armPvTimers(instance: Instance): void {
  const pv = instance.pv;
  if (pv === null) return;
  if (pv.timer !== null) clearTimeout(pv.timer);
  pv.timer = null;
  const ms = runPvTimers(instance.domain, pv.clock);
  if (ms === Infinity) return;
  pv.timer = setTimeout(() => {
    pv.timer = null;
    armPvTimers(instance);
  }, Math.min(MAX_TIMEOUT_MS, ms));
}

/** Builds the domain's VM over its frames of the pool and loads the vCPU's state into it. */
function build(strategy: VmmStrategy, image: DomainImage, id: number, start: VcpuStart): Instance {
  const lines = new Int32Array(image.lines);
  let bus: { io: IoBus; mmio: MmioBus; interrupts: InterruptController; clock: Clock };
  if (image.board) {
    const board = local.boardOf(image.board, id).board;
    bus = { io: board.io, mmio: board.mmio, interrupts: board.pic, clock: board.options.clock };
  } else {
    const client = new IoreqClient(ctrl, doorbell, image.id, lines, image.claimedPorts, image.mmioWindows, image.epochMs);
    bus = { io: client.ports, mmio: client.mmio, interrupts: client, clock: domainClock(image.epochMs) };
  }
  const dma = new DmaDrain(image.dmaLog, ringDoorbell);
  const vm = strategy.createVm({
    regions: image.regions, ...bus, mmio: dma.draining(bus.mmio), stats: new ExitCounters(),
    ramBacking: (region) => {
      if (region.rom) return undefined;
      if (region.base !== 0 || region.size > image.ramBytes) {
        throw new RangeError(`strategy ${strategy.name} asked for RAM 0x${region.base.toString(16)}+0x${region.size.toString(16)}; the domain has 0x${image.ramBytes.toString(16)} bytes from 0`);
      }
      return new Uint8Array(init.pool, image.ramOffset, region.size);
    },
  });
  dma.attach(vm.memory);
  let disk: DiskExtentBackend | null = null;
  try {
    const vcpu = vm.createVcpu(0);
    let pv: Instance['pv'] = null;
    if (start.kind === 'pv') {
      if (!vm.buildPvDomain || !image.pv) throw new Error(`strategy ${strategy.name} cannot build a para-virtual domain`);
      const clock = new HostClock(() => domainNs(image.epochMs));
      // The blkif back end's requests are confined to the domain's disk range as virtio-blk's are.
      disk = image.pv.disk ? new DiskExtentBackend(image.pv.disk) : null;
      const domain = vm.buildPvDomain({
        image: image.pv.kernel, cmdline: image.pv.cmdline, clock, vcpus: image.pv.vcpuIds.length,
        ...(image.pv.initrd ? { initrd: image.pv.initrd } : {}), ...(disk ? { disk } : {}),
        console: { write: (bytes) => { send({ type: 'console', domain: image.id, bytes: bytes.slice() }); return bytes.length; } },
      });
      pv = { domain, disk, clock, timer: null };
      // The other vCPUs, down until the guest brings them up: their first dispatch resumes them here.
      for (const [index, other] of image.pv.vcpuIds.entries()) {
        if (index === 0) continue;
        instances.set(other, { domain: image.id, id: other, owner: false, vm, vcpu: vm.createVcpu(index), interrupts: bus.interrupts, lines, pv, dma });
      }
      const request = shutdownsBeforeBuild.get(image.id);
      shutdownsBeforeBuild.delete(image.id);
      if (request !== undefined) domain.requestShutdown(request);
    } else if (start.kind === 'entry') {
      vcpu.setSpecialRegisters(start.sregs);
      vcpu.setRegisters(start.regs);
    } else if (start.kind === 'state') {
      importInto(vcpu, start.state);
    } else {
      throw new Error('asked to resume a vCPU this pCPU does not hold');
    }
    return { domain: image.id, id, owner: true, vm, vcpu, interrupts: bus.interrupts, lines, pv, dma };
  } catch (error) {
    disk?.close();
    vm.destroy();
    throw error;
  }
}

/** Forgets a VM built here: its PV timers and disk too (nothing for a vCPU that shares another's VM). */
function dispose(instance: Instance): void {
  // Its VM (the domain's, for a para domain's vCPUs) and memory are going: nothing may touch them later.
  for (const [id, entry] of preemptable) if (entry.instance.domain === instance.domain) preemptable.delete(id);
  if (!instance.owner) return;
  const at = pvOwners.indexOf(instance as PvInstance);
  if (at >= 0) pvOwners.splice(at, 1);
  if (instance.pv?.timer) clearTimeout(instance.pv.timer);
  instance.pv?.disk?.close();
  instance.vm.destroy();
}

async function runSlice(message: Extract<ToPcpu, { type: 'run' }>): Promise<void> {
  // Building a VM for a vCPU that moved here is that vCPU's time on this pCPU.
  const started = performance.now();
  // A vCPU that does not go on now has waited since its slice ended (Xen's runstate: runnable);
  // its domain learns that when one of its vCPUs runs here next.
  for (const [id, entry] of preemptable) {
    if (id !== message.vcpu || !message.continued) entry.switched = true;
    if (entry.instance.domain !== message.domain.id) continue;
    if (entry.switched) entry.instance.vcpu.preempted?.(Math.round((started - entry.at) * 1e6), pausedWithin(message.lastPause, entry.at, started));
    preemptable.delete(id);
  }
  let instance = instances.get(message.vcpu);
  let built = false;
  let reported = false;
  try {
    if (instance && message.start.kind === 'state') {
      importInto(instance.vcpu, message.start.state);
    } else if (!instance || message.start.kind !== 'resume') {
      if (instance) dispose(instance);
      instances.delete(message.vcpu);
      instance = build(await strategyOf(message.domain), message.domain, message.vcpu, message.start);
      instances.set(message.vcpu, instance);
      if (instance.pv !== null) pvOwners.push(instance as PvInstance);
      built = true;
    }
    const buildNs = (performance.now() - started) * 1e6;
    const { dma } = instance;
    // At each run boundary: the boards' timers and disk answers here, what any board's DMA wrote,
    // and the para-virtual domains' due timers: a busy vCPU's tick comes on time, not when its
    // slice ends, and no run goes past the next.
    const tick = (): number => {
      const ms = local.tick();
      dma.drain();
      return Math.min(ms, runResidentPvTimers(message.vcpu));
    };
    dma.running(true);
    let result;
    try {
      result = runner.run(instance.vcpu, instance.interrupts, instance.lines, Math.max(0, message.sliceNs - buildNs), tick);
    } finally {
      dma.running(false);
    }
    const couldRunOn = result.outcome === 'slice' || result.outcome === 'preempted';
    if (couldRunOn && instance.vcpu.preempted) preemptable.set(message.vcpu, { instance, at: performance.now(), switched: false });
    const state = instance.vcpu.exportState?.() ?? null;
    local.flushOutput();
    send({ type: 'ran', pcpu: init.pcpu, vcpu: message.vcpu, ...result, ranNs: result.ranNs + Math.round(buildNs), state, built });
    reported = true;
    // After `ran`: a wake sent before it would find the vCPU still running and be lost. The boards'
    // lines, what this slice did to another vCPU of the domain (brought it up, sent it an event),
    // and a timer due now for the vCPU that just blocked.
    local.settleAll();
    armPvTimers(instance);
    if (instance.pv) wakePending(instance.domain);
  } catch (error) {
    // A failure in the strategy ends this domain only; the pCPU goes on with the others.
    if (instance) dispose(instance);
    instances.delete(message.vcpu);
    // After its `ran` (a timer or wake-up failed): no second one; its next slice here finds no VM and ends it.
    if (reported) return;
    send({
      type: 'ran', pcpu: init.pcpu, vcpu: message.vcpu, ranNs: Math.round((performance.now() - started) * 1e6), retired: 0, outcome: 'crashed',
      detail: error instanceof Error ? error.message : String(error), state: null, built,
    });
  }
}

type PvInstance = Instance & { readonly pv: NonNullable<Instance['pv']> };

/** The para-virtual domain's VM on this pCPU (its first vCPU's instance), or null before it is built here. */
function pvInstance(domain: number): PvInstance | null {
  for (const instance of instances.values()) {
    if (instance.domain === domain && instance.owner && instance.pv !== null) return instance as PvInstance;
  }
  return null;
}

/** A back end, a timer or another vCPU may have left a blocked vCPU of the domain an event: the hypervisor schedules it. */
function wakePending(domain: number, except = -1): void {
  for (const instance of instances.values()) {
    if (instance.domain === domain && instance.id !== except && instance.vcpu.hasPendingEvent?.() === true) send({ type: 'wake', vcpu: instance.id });
  }
}

port.on('message', (message: ToPcpu) => {
  if (message.type === 'run') {
    void runSlice(message);
  } else if (message.type === 'console-input') {
    local.input(message.domain, message.bytes);
    const instance = pvInstance(message.domain);
    if (instance) {
      instance.pv.domain.consoleInput(message.bytes);
      wakePending(message.domain);
    }
  } else if (message.type === 'power-button') {
    local.pressPowerButton(message.domain);
  } else if (message.type === 'pv-vcpus') {
    const instance = pvInstance(message.domain);
    if (instance?.pv.domain.setOnlineVcpus) {
      instance.pv.domain.setOnlineVcpus(message.online);
      wakePending(message.domain);
    }
  } else if (message.type === 'pv-shutdown') {
    const instance = pvInstance(message.domain);
    if (instance) {
      instance.pv.domain.requestShutdown(message.reason);
      wakePending(message.domain);
    } else shutdownsBeforeBuild.set(message.domain, message.reason);
  } else if (message.type === 'stop') {
    for (const instance of instances.values()) if (instance.owner) instance.pv?.disk?.close();
    local.closeAll();
    send({ type: 'stopped', pcpu: init.pcpu });
  } else {
    shutdownsBeforeBuild.delete(message.domain);
    for (const [vcpu, instance] of instances) {
      if (instance.domain !== message.domain) continue;
      dispose(instance);
      instances.delete(vcpu);
    }
    local.drop(message.domain);
    send({ type: 'dropped', pcpu: init.pcpu, domain: message.domain });
  }
});
send({ type: 'ready', pcpu: init.pcpu });
