// What the vCPUs of one 64-bit PV domain share (Xen's struct domain): its frames and their types,
// the hypervisor's pages (the reserved GDT entries, the L3/L2/L1 that map every vCPU's GDT, the
// M2P and its tables), the p2m, the event channels, the latched shutdown and the watchdogs; and
// the vCPUs themselves.
import type { PhysicalMemory } from '@ringvisor/mmu';
import type { ExitStats } from '@ringvisor/vmm-api';
import { FIRST_RESERVED_GDT_ENTRY, PAGE_SIZE } from '../abi.js';
import { EventChannels } from '../events.js';
import { OWNER_DOMAIN, OWNER_SHARED } from '../frames.js';
import { SharedDomain } from '../vcpu-view.js';
import { NR_EVENT_CHANNELS_64, SHARED_INFO_64 } from './abi.js';
import { checkDescriptor64 } from './descriptors.js';
import type { Domain64 } from './domain.js';
import { GDT_L4_SLOT, hypervisorFrames64, M2P_L4_SLOT, tableEntry, type HypervisorFrames64 } from './layout.js';
import { PageTables64 } from './page-tables.js';

const TWO_32 = 0x1_0000_0000;
/** The reserved descriptors (selector, low dword, high dword): Xen x86-64's GDT from 0xe000. */
const RESERVED_DESCRIPTORS_64: readonly (readonly [number, number, number])[] = [
  [0xe008, 0x0000ffff, 0x00af9b00], // ring 0 code, 64-bit
  [0xe010, 0x0000ffff, 0x00cf9300], // ring 0 data
  [0xe023, 0x0000ffff, 0x00cffb00], // ring 3 code, compatibility
  [0xe02b, 0x0000ffff, 0x00cff300], // ring 3 data
  [0xe033, 0x0000ffff, 0x00affb00], // ring 3 code, 64-bit
  [0xe038, 0x0000ffff, 0x00cf9b00], // ring 0 code, compatibility
];

export class Domain64Shared extends SharedDomain<Domain64> {
  readonly tables: PageTables64;
  readonly hv: HypervisorFrames64;
  readonly xenL4Slots = new Int32Array(32);
  readonly events: EventChannels;

  constructor(memory: PhysicalMemory, stats: ExitStats) {
    super(memory, stats);
    const ramFrames = Math.floor(memory.ramEnd / PAGE_SIZE);
    this.hv = hypervisorFrames64(ramFrames);
    this.tables = new PageTables64(memory, ramFrames);
    this.tables.connect({ xenL4Slots: this.xenL4Slots, validateGdtPage: (mfn) => this.validateGdtPage(mfn) });
    this.events = new EventChannels(this, {
      pending: SHARED_INFO_64.evtchnPending, mask: SHARED_INFO_64.evtchnMask, pendingSel: SHARED_INFO_64.pendingSel,
      upcallPending: SHARED_INFO_64.upcallPending, wordBits: 64, ports: NR_EVENT_CHANNELS_64,
    });
    this.buildHypervisorPages();
  }

  get sharedInfoBase(): number {
    return this.hv.sharedInfo * PAGE_SIZE;
  }

  /** A 64-bit vCPU may move its vcpu_info (VCPUOP_register_vcpu_info). */
  override vcpuInfo(vcpu: number): number {
    return this.vcpus[vcpu]?.vcpuInfoBase ?? this.defaultVcpuInfo(vcpu);
  }

  assign(mfn: number, shared = false): void {
    this.tables.frames.owner[mfn] = shared ? OWNER_SHARED : OWNER_DOMAIN;
  }

  /** The guest's pseudo-physical frame for `mfn` in the M2P the guest reads (MMU_MACHPHYS_UPDATE). */
  setM2p(mfn: number, pfn: number): void {
    this.tables.frames.m2p[mfn] = pfn;
    const at = this.hv.m2p[mfn >>> 9] * PAGE_SIZE + (mfn & 511) * 8;
    const hi = Math.floor(pfn / TWO_32);
    this.memory.write32(at, pfn - hi * TWO_32);
    this.memory.write32(at + 4, hi);
  }

  private validateGdtPage(mfn: number): boolean {
    for (let i = 0; i < 512; i++) {
      const at = mfn * PAGE_SIZE + i * 8;
      const checked = checkDescriptor64(this.memory.read32(at + 4));
      if (checked === null) return false;
      this.memory.write32(at + 4, checked);
    }
    return true;
  }

  /** The reserved GDT page, the tables that map the vCPUs' GDTs, the M2P (every entry "no pseudo-physical frame") and its tables. */
  private buildHypervisorPages(): void {
    const { memory, hv } = this;
    for (const [selector, lo, hi] of RESERVED_DESCRIPTORS_64) {
      const at = hv.gdtReserved * PAGE_SIZE + ((selector >>> 3) - FIRST_RESERVED_GDT_ENTRY) * 8;
      memory.write32(at, lo);
      memory.write32(at + 4, hi);
    }
    memory.write32(hv.gdtL3 * PAGE_SIZE, tableEntry(hv.gdtL2, false, true));
    memory.write32(hv.gdtL2 * PAGE_SIZE, tableEntry(hv.gdtL1, false, true));
    for (const frame of hv.m2p) for (let i = 0; i < PAGE_SIZE; i += 4) memory.write32(frame * PAGE_SIZE + i, -1);
    memory.write32(hv.m2pL3 * PAGE_SIZE, tableEntry(hv.m2pL2, true, false));
    hv.m2pL1.forEach((l1, i) => memory.write32(hv.m2pL2 * PAGE_SIZE + i * 8, tableEntry(l1, true, false)));
    hv.m2p.forEach((frame, i) => memory.write32(hv.m2pL1[i >>> 9] * PAGE_SIZE + (i & 511) * 8, tableEntry(frame, true, false)));
    const slot = (l4Slot: number, l3: number, user: boolean) => {
      this.xenL4Slots[2 * (l4Slot - 256)] = tableEntry(l3, user, !user) | 0;
    };
    slot(M2P_L4_SLOT, hv.m2pL3, true);
    slot(GDT_L4_SLOT, hv.gdtL3, false);
    this.assign(hv.sharedInfo, true);
    for (const frame of hv.grant) this.assign(frame, true);
  }
}
