// A VM of the `vmx` backend: guest-physical memory (the board's regions, with the MMIO bus behind
// everything else), the VMM's own frames with the EPT and the MSR bitmap, and VMX vCPUs.
import { PhysicalMemory } from '@ringvisor/mmu';
import type { AccessSize, MmioBus, Vcpu, Vm, VmSpec } from '@ringvisor/vmm-api';
import {
  IA32_BIOS_SIGN_ID, IA32_SYSENTER_CS, IA32_SYSENTER_EIP, IA32_SYSENTER_ESP, IA32_TIME_STAMP_COUNTER, Vmx,
} from '@ringvisor/x86-core';
import { buildVmmFrames, type VmmFrames } from './ept-builder.js';
import { InstructionEmulator } from './emulator.js';
import { VmxVcpu } from './vmx-vcpu.js';

const FOUR_GIB = 2 ** 32;

/** Counts MMIO accesses as exits ('mmio'), as strategy none counts them. */
class CountingMmio implements MmioBus {
  constructor(private readonly bus: MmioBus, private readonly count: () => void) {}
  read(address: number, size: AccessSize): number {
    this.count();
    return this.bus.read(address, size);
  }
  write(address: number, size: AccessSize, value: number): void {
    this.count();
    this.bus.write(address, size, value);
  }
}

/** How the `vmx` backend runs its vCPUs. */
export interface VmxBackendOptions {
  /** Compile hot guest code to JavaScript blocks (default true), as strategy none does. */
  compileBlocks?: boolean;
}

export class VmxVm implements Vm {
  /** Guest-physical memory (host frames of the guest at the same addresses), for loaders and DMA. */
  readonly memory: PhysicalMemory;
  readonly frames: VmmFrames;
  private readonly emulator: InstructionEmulator;

  constructor(private readonly spec: VmSpec, private readonly options: VmxBackendOptions = {}) {
    for (const r of spec.regions) {
      if (r.base + r.size > FOUR_GIB) {
        throw new RangeError(`strategy hw:vmx maps guest-physical memory below 4 GiB; the region at 0x${r.base.toString(16)} ends above it`);
      }
    }
    const stats = spec.stats;
    const mmio = new CountingMmio(spec.mmio, () => stats.count('mmio'));
    const ramEnd = spec.regions.filter((r) => !r.rom).reduce((end, r) => Math.max(end, r.base + r.size), 0);
    const ramBuffer = ramEnd > 0 ? spec.ramBacking?.({ base: 0, size: ramEnd }) : undefined;
    this.memory = new PhysicalMemory({ regions: spec.regions, fallback: mmio, ...(ramBuffer ? { ramBuffer } : {}) });
    this.frames = buildVmmFrames(this.memory);
    // MSR bitmap: every access exits except those of the MSRs the processor itself has. The SYSENTER
    // MSRs are guest state the VMCS switches at entry and exit, so the guest owns them (as under KVM).
    const bitmap = this.frames.msrBitmap;
    for (let i = 0; i < 4096; i += 4) this.frames.memory.write32(bitmap + i, -1);
    for (const msr of [IA32_TIME_STAMP_COUNTER, IA32_BIOS_SIGN_ID, IA32_SYSENTER_CS, IA32_SYSENTER_ESP, IA32_SYSENTER_EIP]) {
      for (const half of [0, 0x800]) {
        const at = bitmap + half + (msr >>> 3);
        this.frames.memory.write8(at, this.frames.memory.read8(at) & ~(1 << (msr & 7)));
      }
    }
    this.emulator = new InstructionEmulator(this.memory, new CountingIo(spec));
  }

  createVcpu(index: number): Vcpu {
    const vmx = new Vmx({
      memory: this.memory, vmmMemory: this.frames.memory, io: this.spec.io, compileBlocks: this.options.compileBlocks !== false,
    });
    const clock = this.spec.clock;
    return new VmxVcpu(index, vmx, {
      io: this.spec.io, interrupts: this.spec.interrupts, stats: this.spec.stats, emulator: this.emulator,
      eptPointer: this.frames.eptPointer, msrBitmap: this.frames.msrBitmap,
      hostClock: clock?.kind === 'host' ? clock : null, memory: this.memory,
    });
  }

  destroy(): void {
    // Nothing outside the JS heap is held.
  }
}

/** The port bus as the emulator reaches it (string I/O): each access counted as an 'io' exit. */
class CountingIo {
  constructor(private readonly spec: VmSpec) {}
  read(port: number, size: AccessSize): number {
    this.spec.stats.count('io', port);
    return this.spec.io.read(port, size);
  }
  write(port: number, size: AccessSize, value: number): void {
    this.spec.stats.count('io', port);
    this.spec.io.write(port, size, value);
  }
}
