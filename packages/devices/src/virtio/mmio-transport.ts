// Virtio over MMIO, version 2 (virtio spec v1.1, section 4.2): the register face of a virtio device.
// Runs feature negotiation and the device status state machine (section 3.1), keeps the queues'
// registers, and turns used-buffer and configuration-change events into a level-triggered IRQ.
// Driver misbehaviour is counted in `errors` and answered with DEVICE_NEEDS_RESET, never a throw.
import type { AccessSize, GuestMemory, IrqLine, MmioHandler } from '@ringvisor/vmm-api';
import {
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VENDOR_ID, VIRTIO_MMIO_VERSION,
  VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_NEEDS_RESET, VirtioMmioReg as Reg,
  featureBit,
} from './constants.js';
import type { VirtioDevice, VirtioDeviceContext } from './device.js';
import { VirtioErrorCounters, type VirtioErrorKind } from './errors.js';
import { Virtqueue } from './virtqueue.js';

export interface VirtioMmioTransportOptions {
  /** Guest RAM the device reads rings and buffers from. */
  readonly memory: GuestMemory;
  /** The device's interrupt line; held high while InterruptStatus is non-zero. */
  readonly irq: IrqLine;
  /** Offer VIRTIO_F_INDIRECT_DESC (default true). */
  readonly indirectDescriptors?: boolean;
  /** Offer VIRTIO_F_EVENT_IDX (default true). */
  readonly eventIdx?: boolean;
}

const U32 = 0xffff_ffff;

export class VirtioMmioTransport implements MmioHandler {
  readonly device: VirtioDevice;
  /** Driver errors by kind; the VMM reads these for diagnostics. */
  readonly errors = new VirtioErrorCounters();
  private readonly queues: Virtqueue[];
  private readonly irq: IrqLine;
  private readonly memory: GuestMemory;
  /** All feature bits offered: the device's plus the transport's. */
  readonly offeredFeatures: bigint;

  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private negotiated = 0n;
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private irqLevel = false;

  constructor(device: VirtioDevice, options: VirtioMmioTransportOptions) {
    this.device = device;
    this.memory = options.memory;
    this.irq = options.irq;
    let offered = device.features | featureBit(VIRTIO_F_VERSION_1);
    if (options.indirectDescriptors ?? true) offered |= featureBit(VIRTIO_F_INDIRECT_DESC);
    if (options.eventIdx ?? true) offered |= featureBit(VIRTIO_F_EVENT_IDX);
    this.offeredFeatures = offered;
    const onError = (kind: VirtioErrorKind, detail: string): void => this.fail(kind, detail);
    this.queues = device.queueSizes.map((max) => new Virtqueue(max, options.memory, onError));
    device.attach(this.context());
  }

  /** The Status register as the driver reads it. */
  get deviceStatus(): number {
    return this.status;
  }

  /** The InterruptStatus register. */
  get pendingInterrupts(): number {
    return this.interruptStatus;
  }

  /** Feature bits both sides agreed on at FEATURES_OK (0 before). */
  get features(): bigint {
    return this.negotiated;
  }

  mmioRead(offset: number, size: AccessSize): number {
    if (offset >= Reg.Config) return this.readConfig(offset - Reg.Config, size);
    // Section 4.2.2.2: the driver uses 32-bit aligned accesses for registers; anything else reads 0.
    if (size !== 4 || offset % 4 !== 0) return 0;
    switch (offset) {
      case Reg.MagicValue: return VIRTIO_MMIO_MAGIC;
      case Reg.Version: return VIRTIO_MMIO_VERSION;
      case Reg.DeviceID: return this.device.deviceId;
      case Reg.VendorID: return VIRTIO_MMIO_VENDOR_ID;
      case Reg.DeviceFeatures:
        return this.deviceFeaturesSel > 1 ? 0 : Number((this.offeredFeatures >> BigInt(32 * this.deviceFeaturesSel)) & 0xffff_ffffn);
      case Reg.QueueNumMax: return this.selectedQueue()?.maxSize ?? 0;
      case Reg.QueueReady: return this.selectedQueue()?.ready ? 1 : 0;
      case Reg.InterruptStatus: return this.interruptStatus;
      case Reg.Status: return this.status;
      case Reg.ConfigGeneration: return this.configGeneration;
      default: return 0;
    }
  }

  mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (offset >= Reg.Config) {
      this.writeConfig(offset - Reg.Config, size, value);
      return;
    }
    if (size !== 4 || offset % 4 !== 0) return;
    value >>>= 0;
    switch (offset) {
      case Reg.DeviceFeaturesSel: this.deviceFeaturesSel = value; return;
      case Reg.DriverFeaturesSel: this.driverFeaturesSel = value; return;
      case Reg.DriverFeatures: this.writeDriverFeatures(value); return;
      case Reg.QueueSel: this.queueSel = value; return;
      case Reg.QueueNum: this.writeQueueRegister((q) => { q.size = value; }); return;
      case Reg.QueueDescLow: this.writeQueueRegister((q) => { q.descLow = value; }); return;
      case Reg.QueueDescHigh: this.writeQueueRegister((q) => { q.descHigh = value; }); return;
      case Reg.QueueDriverLow: this.writeQueueRegister((q) => { q.driverLow = value; }); return;
      case Reg.QueueDriverHigh: this.writeQueueRegister((q) => { q.driverHigh = value; }); return;
      case Reg.QueueDeviceLow: this.writeQueueRegister((q) => { q.deviceLow = value; }); return;
      case Reg.QueueDeviceHigh: this.writeQueueRegister((q) => { q.deviceHigh = value; }); return;
      case Reg.QueueReady: this.writeQueueReady(value); return;
      case Reg.QueueNotify: this.writeQueueNotify(value); return;
      case Reg.InterruptACK:
        this.interruptStatus &= ~value;
        this.updateIrq();
        return;
      case Reg.Status: this.writeStatus(value); return;
      default: return;
    }
  }

  private selectedQueue(): Virtqueue | undefined {
    return this.queues[this.queueSel];
  }

  private get needsReset(): boolean {
    return (this.status & VIRTIO_STATUS_NEEDS_RESET) !== 0;
  }

  private get active(): boolean {
    return (this.status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) === VIRTIO_STATUS_DRIVER_OK;
  }

  private writeDriverFeatures(value: number): void {
    if (this.status & VIRTIO_STATUS_FEATURES_OK) {
      this.fail('status-protocol', 'DriverFeatures written after FEATURES_OK');
      return;
    }
    if (this.driverFeaturesSel > 1) return; // no feature bits exist above 63
    const shift = BigInt(32 * this.driverFeaturesSel);
    this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(value) << shift);
  }

  private writeQueueRegister(write: (queue: Virtqueue) => void): void {
    const queue = this.selectedQueue();
    if (queue === undefined) {
      this.fail('bad-queue-select', `queue register written with QueueSel ${this.queueSel}`);
    } else if (queue.ready) {
      this.fail('queue-write-while-ready', `queue ${this.queueSel} reconfigured while ready`);
    } else {
      write(queue);
    }
  }

  private writeQueueReady(value: number): void {
    const queue = this.selectedQueue();
    if (queue === undefined) {
      this.fail('bad-queue-select', `QueueReady written with QueueSel ${this.queueSel}`);
      return;
    }
    if ((value & 1) === 0) {
      queue.disable();
      return;
    }
    if (queue.ready) return;
    const problem = queue.validate();
    if (problem !== null) {
      this.fail(problem[0], `queue ${this.queueSel}: ${problem[1]}`);
      return;
    }
    queue.enable();
  }

  private writeQueueNotify(value: number): void {
    if (this.needsReset) return; // already failed; the driver has to reset first
    if ((this.status & VIRTIO_STATUS_DRIVER_OK) === 0) {
      this.fail('bad-notify', `queue ${value} notified before DRIVER_OK`);
      return;
    }
    // Without VIRTIO_F_NOTIFICATION_DATA (not offered) the whole value is the queue index.
    const queue = this.queues[value];
    if (queue === undefined || !queue.ready) {
      this.fail('bad-notify', `notify for queue ${value}, which is not ready`);
      return;
    }
    this.device.notify(value);
  }

  private writeStatus(value: number): void {
    value &= 0xff;
    if (value === 0) {
      this.reset();
      return;
    }
    const requested = value & ~VIRTIO_STATUS_NEEDS_RESET;
    const current = this.status & ~VIRTIO_STATUS_NEEDS_RESET;
    if ((current & ~requested) !== 0) {
      this.fail('status-protocol', `status 0x${value.toString(16)} clears bits of 0x${this.status.toString(16)}`);
      return;
    }
    let next = requested;
    const added = requested & ~current;
    if (added & VIRTIO_STATUS_FEATURES_OK && !this.acceptFeatures()) {
      // Section 3.1.1: FEATURES_OK stays clear and the driver, reading it back, gives up.
      next &= ~VIRTIO_STATUS_FEATURES_OK;
    }
    if (added & VIRTIO_STATUS_DRIVER_OK && (next & VIRTIO_STATUS_FEATURES_OK) === 0) {
      this.status = (this.status & VIRTIO_STATUS_NEEDS_RESET) | (next & ~VIRTIO_STATUS_DRIVER_OK);
      this.fail('status-protocol', 'DRIVER_OK without FEATURES_OK');
      return;
    }
    this.status = next | (this.status & VIRTIO_STATUS_NEEDS_RESET);
    if (added & VIRTIO_STATUS_DRIVER_OK) {
      if (this.needsReset) {
        // An error before DRIVER_OK is announced now that the driver listens (section 2.1.2).
        this.raise(VIRTIO_MMIO_INT_CONFIG);
      } else {
        this.device.activate();
      }
    }
  }

  private acceptFeatures(): boolean {
    const unsupported = this.driverFeatures & ~this.offeredFeatures;
    if (unsupported !== 0n) {
      this.errors.record('features-rejected', `driver accepted unoffered features 0x${unsupported.toString(16)}`);
      return false;
    }
    if ((this.driverFeatures & featureBit(VIRTIO_F_VERSION_1)) === 0n) {
      this.errors.record('features-rejected', 'driver did not accept VIRTIO_F_VERSION_1');
      return false;
    }
    this.negotiated = this.driverFeatures;
    for (const queue of this.queues) {
      queue.eventIdx = (this.negotiated & featureBit(VIRTIO_F_EVENT_IDX)) !== 0n;
      queue.indirect = (this.negotiated & featureBit(VIRTIO_F_INDIRECT_DESC)) !== 0n;
    }
    return true;
  }

  private reset(): void {
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.negotiated = 0n;
    this.queueSel = 0;
    this.interruptStatus = 0;
    for (const queue of this.queues) queue.reset();
    this.device.reset();
    this.updateIrq();
  }

  private readConfig(offset: number, size: AccessSize): number {
    const config = this.device.config;
    if (offset + size > config.length) return 0;
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + config[offset + i];
    return value;
  }

  private writeConfig(offset: number, size: AccessSize, value: number): void {
    if (offset + size > this.device.config.length) return;
    this.device.writeConfig(offset, size, value & (size === 4 ? U32 : (1 << (8 * size)) - 1));
  }

  /** Puts the device in DEVICE_NEEDS_RESET and stops every queue until the driver resets it. */
  private fail(kind: VirtioErrorKind, detail: string): void {
    this.errors.record(kind, detail);
    for (const queue of this.queues) queue.halt();
    if (this.needsReset) return;
    this.status |= VIRTIO_STATUS_NEEDS_RESET;
    if (this.status & VIRTIO_STATUS_DRIVER_OK) this.raise(VIRTIO_MMIO_INT_CONFIG);
  }

  private raise(bits: number): void {
    this.interruptStatus |= bits;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  private context(): VirtioDeviceContext {
    const negotiated = (): bigint => this.negotiated;
    const active = (): boolean => this.active;
    return {
      memory: this.memory,
      queues: this.queues,
      get features() {
        return negotiated();
      },
      get active() {
        return active();
      },
      usedBuffersAdded: (queueIndex: number): void => {
        if (this.queues[queueIndex]?.shouldInterrupt()) this.raise(VIRTIO_MMIO_INT_VRING);
      },
      configChanged: (): void => {
        this.configGeneration = (this.configGeneration + 1) >>> 0;
        if (this.status & VIRTIO_STATUS_DRIVER_OK) this.raise(VIRTIO_MMIO_INT_CONFIG);
      },
      error: (kind: VirtioErrorKind, detail: string): void => this.fail(kind, detail),
    };
  }
}
