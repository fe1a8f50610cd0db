import { readFileSync } from 'node:fs';
import { Paging, PhysicalMemory } from '@ringvisor/mmu';
import type { AccessSize } from '@ringvisor/vmm-api';
import { CS, Cpu } from '../../src/cpu.js';
import type { CpuModel } from '../../src/model.js';
import type { CpuMemory } from '../../src/memory.js';
import { MMU_PAGING_FEATURES, MmuPaging } from '../../src/mmu-paging.js';

/** Where every guest in guests/ is linked and entered (real mode, 0000:1000). */
export const GUEST_LOAD = 0x1000;
/** 32-bit OUTs here are the guest's reported values; any write to PORT_DONE ends the run. */
export const PORT_REPORT = 0xe4;
export const PORT_DONE = 0xe0;

export interface GuestRun {
  /** Values the guest wrote to PORT_REPORT, unsigned. */
  reports: number[];
  /** True once the guest wrote PORT_DONE. */
  done: boolean;
  /** Why the last `run()` stopped. */
  reason: string;
  cpu: Cpu;
}

export interface Machine {
  cpu: Cpu;
  physical: PhysicalMemory;
  /** Values written to PORT_REPORT, unsigned. */
  reports: number[];
  /** True once PORT_DONE was written. */
  done: () => boolean;
  /** Forgets the reports and the PORT_DONE write. */
  clearReports: () => void;
}

export interface MachineOptions {
  /**
   * Give the CPU mmu's PhysicalMemory itself, which reports writes to code, so decoded records and
   * compiled blocks run; by default an adapter without that stands between them and the CPU interprets.
   */
  direct?: boolean;
  compileBlocks?: boolean;
  /** Runs of an entry before its block compiles, and of a block before it is compiled with inline accesses. */
  hotRuns?: number;
  /** The CPU model (default 'i686'; 'x86-64' for the long-mode guests). */
  model?: CpuModel;
}

/** A CPU with 4 MiB of RAM at 0, mmu paging, and a port bus recording the guest's reports. */
export function createMachine(options: MachineOptions = {}): Machine {
  const physical = new PhysicalMemory({ regions: [{ base: 0, size: 4 << 20 }] });
  const adapter: CpuMemory = {
    ram: physical.ram,
    kind: physical.kind,
    read: (address: number, size: AccessSize) =>
      size === 1 ? physical.read8(address) : size === 2 ? physical.read16(address) : physical.read32(address),
    write: (address: number, size: AccessSize, value: number) => {
      if (size === 1) physical.write8(address, value);
      else if (size === 2) physical.write16(address, value);
      else physical.write32(address, value);
    },
  };
  const reports: number[] = [];
  const status = { done: false };
  const io = {
    read: () => 0xffffffff,
    write: (port: number, _size: AccessSize, value: number) => {
      if (port === PORT_REPORT) reports.push(value >>> 0);
      else if (port === PORT_DONE) status.done = true;
    },
  };
  const memory = options.direct === true ? physical : adapter;
  const cpu = new Cpu({ memory, paging: new MmuPaging(new Paging(physical)), io, compileBlocks: options.compileBlocks, model: options.model });
  cpu.pagingFeatures = MMU_PAGING_FEATURES;
  if (cpu.blockCache !== null && options.hotRuns !== undefined) {
    cpu.blockCache.hotRuns = options.hotRuns;
    cpu.blockCache.inlineRuns = options.hotRuns;
    cpu.blockCache.inlineRuns64 = options.hotRuns;
  }
  const clearReports = () => {
    reports.length = 0;
    status.done = false;
  };
  return { cpu, physical, reports, done: () => status.done, clearReports };
}

/** Loads guests/<name>.bin into 4 MiB of RAM at GUEST_LOAD and runs it until HLT, shutdown or `budget`. */
export function runGuest(name: string, budget = 2_000_000): GuestRun {
  return runGuestOn(createMachine(), name, budget);
}

/** The same on an existing machine: its CPU is reset and its reports cleared first (RAM is not). */
export function runGuestOn(machine: Machine, name: string, budget: number): GuestRun {
  loadGuest(machine, name);
  return runLoaded(machine, budget);
}

/** Runs an image (a flat guest linked at GUEST_LOAD) from real mode until HLT, shutdown or `budget`. */
export function runImageOn(machine: Machine, image: Uint8Array, budget: number): GuestRun {
  loadImage(machine, image);
  return runLoaded(machine, budget);
}

function runLoaded(machine: Machine, budget: number): GuestRun {
  const { cpu, reports, done } = machine;
  const result: GuestRun = { reports, done: false, reason: 'none', cpu };
  let left = budget;
  while (left > 0) {
    const slice = Math.min(left, 100_000);
    result.reason = cpu.run(slice);
    left -= slice;
    if (result.reason !== 'budget') break;
  }
  result.done = done();
  return result;
}

/** Loads guests/<name>.bin at GUEST_LOAD, clears the reports and resets the CPU to enter it in real mode. */
export function loadGuest(machine: Machine, name: string): void {
  loadImage(machine, readFileSync(new URL(`./guests/${name}.bin`, import.meta.url)));
}

function loadImage(machine: Machine, image: Uint8Array): void {
  const { cpu, physical } = machine;
  physical.writeBytes(GUEST_LOAD, image);
  machine.clearReports();
  cpu.reset();
  cpu.loadRealSegment(CS, 0);
  cpu.codeSizeChanged();
  cpu.eip = GUEST_LOAD;
}

/** Formats reports as hex for readable assertion failures. */
export function hex(values: number[]): string[] {
  return values.map((v) => '0x' + (v >>> 0).toString(16));
}
