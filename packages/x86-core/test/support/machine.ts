import { Paging, PhysicalMemory } from '@ringvisor/mmu';
import type { AccessSize, InterruptController, IoBus } from '@ringvisor/vmm-api';
import { CS, Cpu, DS, ES, FS, GS, SS } from '../../src/cpu.js';
import { MmuPaging } from '../../src/mmu-paging.js';
import type { CpuModel } from '../../src/model.js';

/** Where test programs are loaded and entered. */
export const CODE = 0x1000;

export interface PortLog {
  port: number;
  size: AccessSize;
  value: number;
  write: boolean;
}

export interface TestMachine {
  cpu: Cpu;
  memory: PhysicalMemory;
  /** Every port access, in order. */
  ports: PortLog[];
  /** What port reads return. */
  portValue: number;
  /** Loads bytes at CODE and points CS:EIP at them. */
  load(bytes: number[], at?: number): void;
}

/**
 * A CPU on 1 MiB of RAM at 0 (mmu memory and paging) in real mode at 0000:CODE, or in flat 32-bit
 * protected mode (CPL 0, 4 GiB code and data segments), with a port bus that records accesses.
 */
export function createMachine(
  mode: 'real' | 'flat32' = 'real', interrupts?: InterruptController, decodeCache = true, compileBlocks = true,
  model: CpuModel = 'i686',
): TestMachine {
  const memory = new PhysicalMemory({ regions: [{ base: 0, size: 1 << 20 }] });
  const ports: PortLog[] = [];
  const machine: TestMachine = {
    cpu: undefined as unknown as Cpu,
    memory,
    ports,
    portValue: 0xffffffff,
    load(bytes, at = CODE) {
      memory.writeBytes(at, Uint8Array.from(bytes));
      this.cpu.eip = at - (this.cpu.segBase[CS] >>> 0);
      this.cpu.halted = false;
    },
  };
  const io: IoBus = {
    read: (port, size) => {
      ports.push({ port, size, value: 0, write: false });
      return machine.portValue;
    },
    write: (port, size, value) => {
      ports.push({ port, size, value, write: true });
    },
  };
  const cpu = new Cpu({ memory, io, paging: new MmuPaging(new Paging(memory)), decodeCache, compileBlocks, model, ...(interrupts ? { interrupts } : {}) });
  machine.cpu = cpu;
  if (mode === 'flat32') enterFlat32(cpu);
  else {
    cpu.loadRealSegment(CS, 0);
    cpu.codeSizeChanged();
  }
  cpu.reg32[4] = mode === 'flat32' ? 0x80000 : 0x8000;
  return machine;
}

/** Flat 32-bit protected mode at CPL 0, as a loader sets it up (no GDT needed for the hidden caches). */
export function enterFlat32(cpu: Cpu): void {
  cpu.cr0 = 0x11;
  for (const s of [ES, SS, DS, FS, GS]) {
    cpu.seg[s] = 0x10;
    cpu.segBase[s] = 0;
    cpu.segLimit[s] = -1;
    cpu.segAccess[s] = 0xc093;
  }
  cpu.seg[CS] = 0x08;
  cpu.segBase[CS] = 0;
  cpu.segLimit[CS] = -1;
  cpu.segAccess[CS] = 0xc09b;
  cpu.cpl = 0;
  cpu.modeChanged();
}
