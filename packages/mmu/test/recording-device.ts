import type { AccessSize, MmioBus, MmioHandler } from '@ringvisor/vmm-api';

export interface BusCycle {
  readonly op: 'read' | 'write';
  readonly at: number;
  readonly size: AccessSize;
  readonly value?: number;
}

/** A device register file that logs every bus cycle and answers reads with `offset * 0x01010101 + size`. */
export class RecordingDevice implements MmioHandler, MmioBus {
  readonly cycles: BusCycle[] = [];

  static answer(at: number, size: AccessSize): number {
    return (Math.imul(at, 0x01010101) + size) >>> 0;
  }

  mmioRead(offset: number, size: AccessSize): number {
    this.cycles.push({ op: 'read', at: offset, size });
    return RecordingDevice.answer(offset, size);
  }

  mmioWrite(offset: number, size: AccessSize, value: number): void {
    this.cycles.push({ op: 'write', at: offset, size, value });
  }

  read(address: number, size: AccessSize): number {
    return this.mmioRead(address, size);
  }

  write(address: number, size: AccessSize, value: number): void {
    this.mmioWrite(address, size, value);
  }
}
