// The seam between the virtio-mmio transport and a device model (block, console, rng): the device
// says what it is and offers, the transport runs the register protocol and the rings' bookkeeping.
import type { GuestMemory } from '@ringvisor/vmm-api';
import type { VirtioErrorKind } from './errors.js';
import type { Virtqueue } from './virtqueue.js';

/** What the transport gives a device model to work with. */
export interface VirtioDeviceContext {
  /** Guest RAM for DMA. */
  readonly memory: GuestMemory;
  /** One per entry of the device's `queueSizes`, in order. */
  readonly queues: readonly Virtqueue[];
  /** Feature bits the driver accepted; meaningful once the device is active. */
  readonly features: bigint;
  /** True from DRIVER_OK until the next reset, unless an error put the device in NEEDS_RESET. */
  readonly active: boolean;
  /** Call after putting buffers in a queue's used ring; raises the interrupt if the driver wants it. */
  usedBuffersAdded(queueIndex: number): void;
  /** Call after changing `config`: bumps ConfigGeneration and raises a configuration-change interrupt. */
  configChanged(): void;
  /** Reports a driver error that leaves the device unusable until reset (DEVICE_NEEDS_RESET). */
  error(kind: VirtioErrorKind, detail: string): void;
}

/** A virtio device model, driven by a transport (`VirtioMmioTransport`). */
export interface VirtioDevice {
  /** Device ID (section 5): 2 block, 3 console, 4 entropy. */
  readonly deviceId: number;
  /** Device-specific feature bits offered; the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX. */
  readonly features: bigint;
  /** QueueNumMax of each virtqueue; the length is the number of queues. */
  readonly queueSizes: readonly number[];
  /** Device-specific configuration space, little-endian, as the driver reads it at offset 0x100. */
  readonly config: Uint8Array;
  /** Called once by the transport's constructor. */
  attach(context: VirtioDeviceContext): void;
  /** The driver wrote `size` bytes of `value` at `offset` into the configuration space (already bounds-checked). */
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void;
  /** The driver set DRIVER_OK: queues are set up and the device may start using them. */
  activate(): void;
  /** The driver notified queue `queueIndex` (only delivered while active). */
  notify(queueIndex: number): void;
  /** The driver reset the device (status 0); the transport has already reset the queues. */
  reset(): void;
}
