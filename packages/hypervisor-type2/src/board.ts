import { FileBlockBackend } from '@ringvisor/devices';
import {
  HostClock, loadFlatBinary, loadLinux, loadMultiboot, firmwareEntry, PcBoard, VirtualClock, type EntryState,
  type ShutdownRequest, type VirtioDeviceConfig,
} from '@ringvisor/machine';
import type { GuestMemory, PvBlockDevice, PvConsoleHost, PvDomain, VmSpec } from '@ringvisor/vmm-api';
import { HostSerial } from './host-serial.js';
import type { BootImage } from './machine-config.js';
import type { WorkerConfig } from './protocol.js';
import type { VmEnd } from './result.js';
import type { SerialBuffer } from './serial-buffer.js';

/** The board of one hosted VM with its host backends, as the worker uses it. */
export interface HostedBoard {
  readonly spec: VmSpec;
  readonly clock: VirtualClock | HostClock;
  /** Connects DMA-capable devices to guest RAM (after the strategy built the VM). */
  /** Connects the board to the VM's memory and, where the strategy models it, its A20 gate. */
  attach(memory: GuestMemory, setA20?: (enabled: boolean) => void): void;
  /** Loads the boot image and returns the vCPU's first state. */
  load(memory: GuestMemory): EntryState;
  serialInput(bytes: Uint8Array): void;
  /** The main thread's sink wrote `count` bytes of earlier output. */
  serialOutputAcknowledged(count: number): void;
  postCode(): number | null;
  /**
   * Presses the board's ACPI power button (QEMU's system_powerdown); for a para-virtual kernel,
   * which has no ACPI, asks through xenstore's control/shutdown as Xen's toolstack does. The guest
   * decides what follows.
   */
  pressPowerButton(): void;
  /** What the guest asked for through the exit port or a power-off, or null. */
  pendingEnd(): VmEnd | null;
  /**
   * For a para-virtual kernel: the host ends of its split devices (the console on the serial
   * buffer, the disk unattached to virtio) and the built domain, which takes the console's host
   * input and room and the power button's shutdown requests.
   */
  readonly pv: {
    readonly console: PvConsoleHost;
    readonly disk?: PvBlockDevice;
    connect(domain: PvDomain): void;
  };
  destroy(): void;
}

const ONE_MIB = 0x100000;

function loadImage(board: PcBoard, memory: GuestMemory, boot: BootImage): EntryState {
  const memoryMap = board.memoryMap;
  switch (boot.kind) {
    case 'flat': {
      // A binary that fits below 1 MiB starts in real mode (boot-sector style); above, in 32-bit protected mode.
      const mode = boot.address + boot.image.length <= ONE_MIB ? 'real' : 'protected';
      return loadFlatBinary(memory, boot.image, { address: boot.address, mode });
    }
    case 'multiboot':
      return loadMultiboot(memory, boot.image, { memoryMap, cmdline: boot.cmdline, bootLoaderName: 'ringvisor' });
    case 'linux':
      return loadLinux(memory, boot.kernel, { memoryMap, cmdline: boot.cmdline, initrd: boot.initrd, acpi: board.acpi });
    case 'firmware':
      return firmwareEntry();
    case 'xen-pv':
      throw new Error('a Xen PV kernel is loaded by its strategy\'s domain builder, not the board');
  }
}

/**
 * The run's end for what the guest asked the board for. The exit port reports QEMU's status 2v+1
 * for a written v; the run reports v itself, so that writing 0 is the clean exit.
 */
function endOf(request: ShutdownRequest | null): VmEnd | null {
  if (request === null) return null;
  if (request.cause === 'reset') return { reason: 'reset' };
  if (request.cause === 'power-off') return { reason: 'power-off' };
  return { reason: 'exit-code', code: (request.status - 1) / 2 };
}

/**
 * Builds the PC board for `config` with COM1 on the worker's serial buffer, the disk (when given)
 * as virtio-blk in the first virtio slot, virtio-rng after it, and the RTC at `machine.rtcStart`
 * or else the host's time now.
 */
export function buildHostedBoard(config: WorkerConfig, output: SerialBuffer): HostedBoard {
  const clock = config.clock === 'virtual' ? new VirtualClock() : new HostClock();
  const serial = new HostSerial(output);
  const disk = config.machine.disk === undefined ? null : new FileBlockBackend(config.machine.disk, { readOnly: config.machine.diskReadOnly === true });
  // A PV kernel reaches its disk through the strategy's block back end, not virtio.
  const pvKernel = config.machine.boot.kind === 'xen-pv';
  const virtio: VirtioDeviceConfig[] = [...(disk && !pvKernel ? [{ kind: 'blk' as const, backend: disk }] : []), { kind: 'rng', seed: config.machine.entropySeed }];
  let pv: PvDomain | null = null;
  let board: PcBoard;
  let a20Sink: ((enabled: boolean) => void) | undefined;
  try {
    board = new PcBoard({
      ramSize: config.machine.memory, clock, serial, firmware: config.machine.firmware, virtio,
      rtcTime: config.machine.rtcStart ?? Date.now(),
      onA20: (enabled) => a20Sink?.(enabled),
    });
  } catch (error) {
    disk?.close();
    throw error;
  }
  return {
    spec: board.vmSpec(),
    clock,
    attach: (memory, setA20) => {
      board.attachMemory(memory);
      a20Sink = setA20;
      setA20?.(board.a20);
    },
    load: (memory) => loadImage(board, memory, config.machine.boot),
    serialInput: (bytes) => {
      if (pv) pv.consoleInput(bytes);
      else serial.input(bytes);
    },
    serialOutputAcknowledged: (count) => {
      output.acknowledge(count);
      serial.outputRoom();
      pv?.consoleOutputRoom();
    },
    pv: {
      console: { write: (bytes) => output.write(bytes) },
      ...(disk && pvKernel ? { disk } : {}),
      connect: (domain) => {
        pv = domain;
      },
    },
    postCode: () => board.postCode,
    pressPowerButton: () => {
      if (pv) pv.requestShutdown('poweroff');
      else board.pressPowerButton();
    },
    pendingEnd: () => endOf(board.shutdownRequest),
    destroy: () => disk?.close(),
  };
}
