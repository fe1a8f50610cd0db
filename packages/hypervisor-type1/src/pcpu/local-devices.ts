// Device models that live on a pCPU: those of the domains whose vCPU never leaves it (a resident
// strategy, or hard affinity to this pCPU alone from creation). Their vCPU reaches them with a call,
// not a round trip to the device-model thread, as Xen emulates a domain's platform devices (PIT,
// PIC, RTC, PM timer) inside the hypervisor on the pCPU the vCPU runs on. Their timers run at every
// run boundary of any slice on this pCPU and, between slices, on its event loop; an interrupt for a
// vCPU blocked in HLT becomes a wake-up message to the scheduler.
import { DomainDevices } from '../dm/domain-devices.js';
import type { BoardSpec } from '../dm/protocol.js';
import type { FromPcpu } from './protocol.js';

interface Resident {
  readonly devices: DomainDevices;
  /** The scheduler's id of the domain's vCPU (what a wake-up names). */
  readonly vcpu: number;
}

export class LocalDevices {
  private readonly domains = new Map<number, Resident>();
  /** Power-button presses for domains whose board is not built yet (their vCPU has not run here). */
  private readonly pressed = new Set<number>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly pool: SharedArrayBuffer, private readonly send: (message: FromPcpu) => void) {}

  /** The domain's board, built the first time its vCPU comes here. */
  boardOf(spec: BoardSpec, vcpu: number): DomainDevices {
    let resident = this.domains.get(spec.domain);
    if (!resident) {
      const devices = new DomainDevices(this.pool, spec, null, false);
      const built: Resident = { devices, vcpu };
      resident = built;
      this.domains.set(spec.domain, built);
      // Between slices, disk answers arrive on this pCPU's event loop; during one, at run boundaries (tick).
      devices.listenDisk(() => {
        this.settle(spec.domain, built);
        this.arm();
      });
      if (this.pressed.delete(spec.domain)) resident.devices.pressPowerButton();
    }
    return resident.devices;
  }

  has(domain: number): boolean {
    return this.domains.has(domain);
  }

  drop(domain: number): void {
    this.pressed.delete(domain);
    this.domains.get(domain)?.devices.close();
    this.domains.delete(domain);
    this.arm();
  }

  /** The platform stops: every board's disk closed. */
  closeAll(): void {
    for (const domain of [...this.domains.keys()]) this.drop(domain);
  }

  input(domain: number, bytes: Uint8Array): void {
    const resident = this.domains.get(domain);
    if (!resident) return;
    resident.devices.input(bytes);
    this.settle(domain, resident);
    this.arm();
  }

  /** Presses the domain's ACPI power button, now or when its board is built. */
  pressPowerButton(domain: number): void {
    const resident = this.domains.get(domain);
    if (!resident) {
      this.pressed.add(domain);
      return;
    }
    resident.devices.pressPowerButton();
    this.settle(domain, resident);
    this.arm();
  }

  /**
   * At a run boundary: completes the disk requests whose I/O thread answered (before the pCPU's
   * DMA drain, so their data is coherent when the guest sees them done), runs the due timers and
   * returns the ms until the next one, which bounds the next run. A timer must fire before the guest's next device access, as on hardware: a PIT
   * oneshot (mode 4) the guest reprograms after its deadline but before it fired would lose its
   * only edge, and Linux would wait for that interrupt forever. Timers armed during the slice count
   * too, so every board's queue is looked at (one heap top each).
   */
  readonly tick = (): number => {
    let ms = Infinity;
    let ran = false;
    for (const [domain, resident] of this.domains) {
      const answered = resident.devices.pollDisk();
      let due = resident.devices.msUntilNextTimer();
      if (due === 0 || answered) {
        if (due === 0) resident.devices.runDue();
        this.settle(domain, resident);
        ran = true;
        due = resident.devices.msUntilNextTimer();
      }
      if (due !== null) ms = Math.min(ms, due);
    }
    if (ran) this.arm();
    return ms;
  };

  /** After a slice or an event: every board's line and console output brought out, the next timer armed. */
  settleAll(): void {
    for (const [domain, resident] of this.domains) this.settle(domain, resident);
    this.arm();
  }

  /**
   * Every board's console output, sent before the slice's `ran`: a guest's last words written just
   * before its exit port must reach the console before its end does.
   */
  flushOutput(): void {
    for (const [domain, resident] of this.domains) this.sendOutput(domain, resident);
  }

  private runTimers(): void {
    for (const [domain, resident] of this.domains) {
      if (resident.devices.msUntilNextTimer() !== 0) continue;
      resident.devices.runDue();
      this.settle(domain, resident);
    }
    this.arm();
  }

  /** Mirrors the domain's line (waking its blocked vCPU) and sends its console output. */
  private settle(domain: number, resident: Resident): void {
    if (resident.devices.syncLine()) this.send({ type: 'wake', vcpu: resident.vcpu });
    this.sendOutput(domain, resident);
  }

  private sendOutput(domain: number, resident: Resident): void {
    const output = resident.devices.takeOutput();
    if (output) this.send({ type: 'console', domain, bytes: output });
  }

  /** Arms the event-loop timer for the earliest board timer (it fires between slices; ticks cover slices). */
  private arm(): void {
    let ms = Infinity;
    for (const { devices } of this.domains.values()) ms = Math.min(ms, devices.msUntilNextTimer() ?? Infinity);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (ms !== Infinity) this.timer = setTimeout(() => { this.timer = null; this.runTimers(); }, ms);
  }
}
