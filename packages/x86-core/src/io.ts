import type { AccessSize } from '@ringvisor/vmm-api';
import { EV_POLL_IRQ, type Cpu } from './cpu.js';
import { checkIoPermission } from './system/index.js';

/**
 * The checks every IN/OUT/INS/OUTS makes before touching the bus: the clock sync (`ioSyncInstructions`),
 * the I/O permission (#GP), then the VMM's intercept, which stops `run()` with the access described
 * and EIP at the instruction.
 */
export function ioCheck(cpu: Cpu, port: number, size: number, write: boolean, string: boolean): void {
  const sync = cpu.ioSyncInstructions;
  if (sync > 0 && cpu.recordedRetire >= sync) cpu.interceptStop('budget');
  checkIoPermission(cpu, port, size);
  if (cpu.intercepts.io(port, size)) {
    const stop = cpu.stop;
    stop.port = port;
    stop.size = size;
    stop.write = write;
    stop.string = string;
    stop.repeat = cpu.rep !== 0;
    cpu.interceptStop('io');
  }
}

function count(cpu: Cpu, port: number): void {
  if (cpu.ioCount[port]++ === 0) cpu.ioTouched[cpu.ioTouchedCount++] = port;
}

export function portRead(cpu: Cpu, port: number, size: AccessSize): number {
  count(cpu, port);
  cpu.events |= EV_POLL_IRQ;
  const v = cpu.io.read(port, size);
  return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v | 0;
}

export function portWrite(cpu: Cpu, port: number, size: AccessSize, value: number): void {
  count(cpu, port);
  cpu.events |= EV_POLL_IRQ;
  cpu.io.write(port, size, size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0);
}
