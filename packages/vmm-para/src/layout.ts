// Where the hypervisor keeps its own structures: machine frames at the top of RAM that the domain
// does not own, mapped into the top of every guest address space through the hypervisor's L2 slots.
// The guest reaches none of it: its segments end below HYPERVISOR_VIRT_START and the frames are
// not its own, so no page-table entry of its can name them.
import { GDT_PAGES, HYPERVISOR_VIRT_START, PAGE_SIZE } from './abi.js';

/** Linear addresses inside the hypervisor region. */
export const GDT_VIRT = HYPERVISOR_VIRT_START;
export const IDT_VIRT = HYPERVISOR_VIRT_START + GDT_PAGES * PAGE_SIZE;
/** hvL1 slots: vCPU 0's GDT pages 0-15, then the IDT; vCPU n's GDT from slot 32n (Xen's per-vCPU GDT mappings). */
export const IDT_SLOT = GDT_PAGES;

/** The first hvL1 slot of vCPU `vcpu`'s GDT. */
export const gdtSlot = (vcpu: number): number => vcpu * 2 * GDT_PAGES;

/** Where vCPU `vcpu` finds its GDT (its GDTR base). */
export const gdtVirt = (vcpu: number): number => GDT_VIRT + gdtSlot(vcpu) * PAGE_SIZE;

/** Grant-table frames a domain may set up (max_nr_grant_frames). */
export const MAX_GRANT_FRAMES = 4;
/** Low memory the hypervisor keeps to itself (legacy holes live there on a PC board). */
export const HYPERVISOR_LOW_FRAMES = 256;

/** Machine frame numbers of the hypervisor's pages. */
export interface HypervisorFrames {
  /** GDT page holding the reserved entries from 0xe000 (page 14 of the GDT). */
  readonly gdtReserved: number;
  /** An all-zero page standing for GDT pages the guest has not given (null descriptors). */
  readonly gdtEmpty: number;
  readonly idt: number;
  /** The L1 table that maps the hypervisor region's first 4 MiB (GDT, IDT). */
  readonly hvL1: number;
  readonly sharedInfo: number;
  readonly grant: readonly number[];
  /** Frames below this one (and not the domain's) are the hypervisor's; frames from it up, too. */
  readonly first: number;
}

/** Carves the hypervisor's frames out of the top of RAM (`ramFrames` frames). */
export function hypervisorFrames(ramFrames: number): HypervisorFrames {
  const count = 5 + MAX_GRANT_FRAMES;
  const first = ramFrames - count;
  if (first <= HYPERVISOR_LOW_FRAMES + 64) throw new Error(`strategy para needs more RAM than ${ramFrames * 4} KiB`);
  return {
    gdtReserved: first, gdtEmpty: first + 1, idt: first + 2, hvL1: first + 3, sharedInfo: first + 4,
    grant: Array.from({ length: MAX_GRANT_FRAMES }, (_, i) => first + 5 + i), first,
  };
}
