// A guest-initiated exit like QEMU's isa-debug-exit device: a write of value v (of any access
// size) asks the VMM to stop the machine with exit status (v << 1) | 1. The status is always odd,
// so it never collides with the 0 a VMM returns on a normal shutdown; a test harness agrees with
// its guest which odd status means "pass". QEMU computes it on a 64-bit value, so a 32-bit write
// of v gives 2v + 1 exactly (no wrap-around); a host process exit keeps only the low 8 bits.
import type { AccessSize } from '@ringvisor/vmm-api';
import { allOnes, type BusRange } from '../bus/access.js';

/** QEMU's common test-harness placement (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`). */
export const DEBUG_EXIT_PORT = 0xf4;

export interface DebugExitPortOptions {
  /** Called on every write with the requested exit status; the VMM decides when to stop. */
  readonly onExit: (status: number) => void;
  /** First port (default 0xf4). */
  readonly base?: number;
  /** Ports decoded (default 4, so that 8-, 16- and 32-bit writes at the base all hit). */
  readonly length?: number;
}

export class DebugExitPort {
  readonly ports: readonly BusRange[];
  /** The status of the last exit request, or undefined if the guest never asked. */
  exitStatus: number | undefined;

  constructor(private readonly options: DebugExitPortOptions) {
    this.ports = [{ base: options.base ?? DEBUG_EXIT_PORT, length: options.length ?? 4 }];
  }

  /** Write-only: reads float high like an unclaimed port. */
  ioRead(_port: number, size: AccessSize): number {
    return allOnes(size);
  }

  ioWrite(_port: number, _size: AccessSize, value: number): void {
    const status = value * 2 + 1;
    this.exitStatus = status;
    this.options.onExit(status);
  }
}
