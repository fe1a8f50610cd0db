import {
  AsyncVirtioBlock, VirtioBlock, VirtioConsole, VirtioMmioTransport, VirtioRng, seededEntropy, type AsyncBlockBackend,
  type BlockBackend, type SerialBackend, type VirtioDevice,
} from '@ringvisor/devices';
import type { Clock, GuestMemory, IrqLine } from '@ringvisor/vmm-api';

/** One virtio-mmio device the board should carry, in slot order (slot 0 at 0xd0000000, IRQ 5). */
export type VirtioDeviceConfig =
  | { readonly kind: 'blk'; readonly backend: BlockBackend; readonly readOnly?: boolean; readonly id?: string }
  /**
   * virtio-blk whose requests complete when the host's I/O does (another thread, async file I/O):
   * the thread holding the board never waits for the disk. `beforeCompletion` as AsyncVirtioBlock's.
   */
  | {
    readonly kind: 'blk-async'; readonly backend: AsyncBlockBackend; readonly readOnly?: boolean; readonly id?: string;
    readonly beforeCompletion?: (publish: () => void) => void;
  }
  | { readonly kind: 'console'; readonly backend: SerialBackend }
  /** virtio-rng: the host's CSPRNG, or a fixed byte stream for `seed` (reproducible runs). */
  | { readonly kind: 'rng'; readonly seed?: number };

/** The device model for one slot; `clock` paces virtio-blk so one notify cannot hold the vCPU for long. */
export function createVirtioDevice(config: VirtioDeviceConfig, clock: Clock): VirtioDevice {
  switch (config.kind) {
    case 'blk':
      return new VirtioBlock({ backend: config.backend, readOnly: config.readOnly, id: config.id, clock });
    case 'blk-async':
      return new AsyncVirtioBlock({
        backend: config.backend, readOnly: config.readOnly, id: config.id, beforeCompletion: config.beforeCompletion,
      });
    case 'console':
      return new VirtioConsole({ backend: config.backend });
    case 'rng':
      return new VirtioRng({ source: config.seed === undefined ? undefined : seededEntropy(config.seed) });
  }
}

/** The transport for one slot: created once guest memory exists (the rings live in it). */
export function createVirtioTransport(device: VirtioDevice, memory: GuestMemory, irq: IrqLine): VirtioMmioTransport {
  return new VirtioMmioTransport(device, { memory, irq });
}
