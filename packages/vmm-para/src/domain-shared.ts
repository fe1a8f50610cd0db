// What the vCPUs of one x86-32 PV domain share (Xen's struct domain): its frames and their types,
// the hypervisor's pages (reserved GDT entries, IDT, the L1 that maps every vCPU's GDT), the p2m,
// the event channels, the latched shutdown and the watchdogs; and the vCPUs themselves.
import type { PhysicalMemory } from '@ringvisor/mmu';
import type { ExitStats } from '@ringvisor/vmm-api';
import { FIRST_RESERVED_GDT_ENTRY, FIRST_XEN_L2_SLOT, PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_RW } from './abi.js';
import { checkDescriptor, hypervisorGate, RESERVED_DESCRIPTORS } from './descriptors.js';
import type { Domain } from './domain.js';
import { EventChannels } from './events.js';
import { OWNER_DOMAIN, OWNER_SHARED } from './frames.js';
import { hypervisorFrames, IDT_SLOT, type HypervisorFrames } from './layout.js';
import { PageTables } from './page-tables.js';
import { SharedDomain } from './vcpu-view.js';

export class DomainShared extends SharedDomain<Domain> {
  readonly tables: PageTables;
  readonly hv: HypervisorFrames;
  readonly xenL2Slots = new Uint32Array(1024 - FIRST_XEN_L2_SLOT);
  readonly events: EventChannels;
  vmAssist = 0;

  constructor(memory: PhysicalMemory, stats: ExitStats) {
    super(memory, stats);
    const ramFrames = Math.floor(memory.ramEnd / PAGE_SIZE);
    this.hv = hypervisorFrames(ramFrames);
    this.tables = new PageTables(memory, ramFrames);
    this.tables.connect({ xenL2Slots: this.xenL2Slots, validateGdtPage: (mfn) => this.validateGdtPage(mfn) });
    this.events = new EventChannels(this);
    this.buildHypervisorPages();
  }

  get sharedInfoBase(): number {
    return this.hv.sharedInfo * PAGE_SIZE;
  }

  private validateGdtPage(mfn: number): boolean {
    for (let i = 0; i < 512; i++) {
      const at = mfn * PAGE_SIZE + i * 8;
      if (checkDescriptor(this.memory.read32(at), this.memory.read32(at + 4)) === null) return false;
    }
    return true;
  }

  /** Marks `mfn` as the domain's, or as a hypervisor page it may map. */
  assign(mfn: number, shared = false): void {
    this.tables.frames.owner[mfn] = shared ? OWNER_SHARED : OWNER_DOMAIN;
  }

  private buildHypervisorPages(): void {
    const { memory, hv } = this;
    for (const [selector, lo, hi] of RESERVED_DESCRIPTORS) {
      const at = hv.gdtReserved * PAGE_SIZE + ((selector >>> 3) - FIRST_RESERVED_GDT_ENTRY) * 8;
      memory.write32(at, lo);
      memory.write32(at + 4, hi);
    }
    const [gateLo, gateHi] = hypervisorGate();
    for (let v = 0; v < 256; v++) {
      memory.write32(hv.idt * PAGE_SIZE + v * 8, gateLo);
      memory.write32(hv.idt * PAGE_SIZE + v * 8 + 4, gateHi);
    }
    memory.write32(hv.hvL1 * PAGE_SIZE + IDT_SLOT * 4, (hv.idt * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A | PTE_D);
    this.xenL2Slots[0] = (hv.hvL1 * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A | PTE_D;
    this.assign(hv.sharedInfo, true);
    for (const frame of hv.grant) this.assign(frame, true);
  }
}
