// A VM of strategy `full`: host-physical memory is the guest's regions plus the VMM's frames above
// guest RAM (the VMM area's frames with the TC and shadow descriptor tables, its page table, and
// the shadow pager's pool).
import { PhysicalMemory } from '@ringvisor/mmu';
import type { AccessSize, MmioBus, Vcpu, Vm, VmSpec } from '@ringvisor/vmm-api';
import { FullVcpu } from './full-vcpu.js';
import { AREA_FRAMES, SHADOW_POOL_FRAMES, VMM_FRAMES_SIZE, VMM_LINEAR } from './layout.js';
import { GuestView } from './memory-views.js';

const FOUR_GIB = 0x1_0000_0000;
const FOUR_MIB = 0x400000;

/** Counts MMIO accesses for the exit statistics, as strategy `none` does. */
class CountingMmio implements MmioBus {
  count = 0;
  constructor(private readonly bus: MmioBus) {}
  read(address: number, size: AccessSize): number {
    this.count++;
    return this.bus.read(address, size);
  }
  write(address: number, size: AccessSize, value: number): void {
    this.count++;
    this.bus.write(address, size, value);
  }
}

/** Host RAM from 0 a FullVm uses for guest RAM ending at `guestRamEnd`: that, then the VMM's frames at the next 4 MiB. */
export function fullHostRamSize(guestRamEnd: number): number {
  return Math.ceil(guestRamEnd / FOUR_MIB) * FOUR_MIB + VMM_FRAMES_SIZE;
}

export class FullVm implements Vm {
  readonly memory: GuestView;
  readonly host: PhysicalMemory;
  private readonly mmio: CountingMmio;
  private readonly vmmBase: number;
  private readonly guestRamEnd: number;
  private readonly freeFrames: number[] = [];
  private readonly vcpus: FullVcpu[] = [];

  constructor(private readonly spec: VmSpec) {
    this.mmio = new CountingMmio(spec.mmio);
    const ram = spec.regions.filter((r) => !r.rom && r.base < FOUR_GIB);
    this.guestRamEnd = ram.reduce((end, r) => Math.max(end, r.base + r.size), 0);
    const vmmEnd = fullHostRamSize(this.guestRamEnd);
    this.vmmBase = vmmEnd - VMM_FRAMES_SIZE;
    for (const r of spec.regions) {
      if (r.base < vmmEnd && r.base + r.size > this.vmmBase) {
        throw new RangeError(`strategy full: the region at 0x${r.base.toString(16)} overlaps the VMM's frames at 0x${this.vmmBase.toString(16)}`);
      }
    }
    if (vmmEnd > VMM_LINEAR) throw new RangeError('strategy full: guest RAM leaves no room for the VMM below 4 GiB');
    // One array holds guest RAM and the VMM's frames above it; a caller may provide it (fullHostRamSize).
    const ramBuffer = spec.ramBacking?.({ base: 0, size: vmmEnd });
    this.host = new PhysicalMemory({
      regions: [...spec.regions, { base: this.vmmBase, size: VMM_FRAMES_SIZE }],
      fallback: this.mmio,
      ...(ramBuffer ? { ramBuffer } : {}),
    });
    this.memory = new GuestView(this.host, this.guestRamEnd);
  }

  /** Frames of vCPU `index`'s area: each vCPU has its own VMM area and shadow pool. */
  createVcpu(index: number): Vcpu {
    if (this.vcpus.length > 0) throw new RangeError('strategy full runs one vCPU');
    const areaPhys = this.vmmBase;
    const areaTable = areaPhys + AREA_FRAMES * 4096;
    for (let i = SHADOW_POOL_FRAMES - 1; i >= 0; i--) this.freeFrames.push(areaTable + 4096 + i * 4096);
    const vcpu = new FullVcpu(index, {
      host: this.host, guestRamEnd: this.guestRamEnd, areaPhys, areaTable, spec: this.spec,
      takeMmioCount: () => this.takeMmioCount(),
      allocFrame: () => this.freeFrames.pop() ?? -1,
      freeFrame: (frame) => {
        this.freeFrames.push(frame);
      },
    });
    this.vcpus.push(vcpu);
    return vcpu;
  }

  setA20(enabled: boolean): void {
    this.host.a20Enabled = enabled;
  }

  /** MMIO accesses since the last call (for the exit statistics). */
  takeMmioCount(): number {
    const n = this.mmio.count;
    this.mmio.count = 0;
    return n;
  }

  destroy(): void {
    // Nothing outside the JS heap is held.
  }
}
