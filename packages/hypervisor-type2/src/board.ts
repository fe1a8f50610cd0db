import { DebugExitPort, FileBlockBackend, PostCodePort } from '@ringvisor/devices';
import {
  HostClock, loadFlatBinary, loadLinux, loadMultiboot, firmwareEntry, PcBoard, VirtualClock, type EntryState,
  type VirtioDeviceConfig,
} from '@ringvisor/machine';
import type { GuestMemory, VmSpec } from '@ringvisor/vmm-api';
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
  attach(memory: GuestMemory): void;
  /** Loads the boot image and returns the vCPU's first state. */
  load(memory: GuestMemory): EntryState;
  serialInput(bytes: Uint8Array): void;
  postCode(): number | null;
  /** What the guest asked for through the exit port or a power-off, or null. */
  pendingEnd(): VmEnd | null;
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
      return loadLinux(memory, boot.kernel, { memoryMap, cmdline: boot.cmdline, initrd: boot.initrd });
    case 'firmware':
      return firmwareEntry();
  }
}

/** Builds the PC board for `config` with COM1 on the worker's serial buffer and the disk on its file. */
export function buildHostedBoard(config: WorkerConfig, output: SerialBuffer): HostedBoard {
  const clock = config.clock === 'virtual' ? new VirtualClock() : new HostClock();
  const serial = new HostSerial(output);
  const disk = config.machine.disk === undefined ? null : new FileBlockBackend(config.machine.disk);
  const virtio: VirtioDeviceConfig[] = disk ? [{ kind: 'blk', backend: disk }] : [];
  let board: PcBoard;
  try {
    board = new PcBoard({ ramSize: config.machine.memory, clock, serial, firmware: config.machine.firmware, virtio });
  } catch (error) {
    disk?.close();
    throw error;
  }
  // The guest's ways to end the run and report progress: QEMU's isa-debug-exit at 0xf4 (status
  // 2v+1 for a written v, so v comes back as (status-1)/2) and the POST code latch at 0x80.
  let requested: VmEnd | null = null;
  const exitPort = new DebugExitPort({ onExit: (status) => { requested ??= { reason: 'exit-code', code: (status - 1) / 2 }; } });
  const post = new PostCodePort();
  board.io.registerDevice(exitPort);
  board.io.registerDevice(post);
  return {
    spec: board.vmSpec(),
    clock,
    attach: (memory) => board.attachMemory(memory),
    load: (memory) => loadImage(board, memory, config.machine.boot),
    serialInput: (bytes) => serial.input(bytes),
    postCode: () => (post.lastCode < 0 ? null : post.lastCode),
    pendingEnd: () => requested,
    destroy: () => disk?.close(),
  };
}
