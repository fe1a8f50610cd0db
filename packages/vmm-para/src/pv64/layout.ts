// Where the 64-bit hypervisor keeps its own structures: machine frames at the top of RAM that the
// domain does not own, reached through the hypervisor's L4 slots, which every validated L4 gets:
// slot 256 maps the machine-to-physical table read-only for the guest (MACH2PHYS_VIRT_START, as
// XENMEM_machphys_mapping reports), slot 260 the CPU's GDT, supervisor-only, at PERDOMAIN_VIRT_START.
import { PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from '../abi.js';
import { HYPERVISOR_LOW_FRAMES, MAX_GRANT_FRAMES } from '../layout.js';
import { MACH2PHYS_VIRT_START, PERDOMAIN_VIRT_START } from './abi.js';

export const GDT_VIRT_64 = PERDOMAIN_VIRT_START;
/** vCPU `vcpu`'s GDT: 16 pages each in the GDT's L1 (512 entries: 32 vCPUs), as Xen maps a GDT per vCPU. */
export const gdtVirt64 = (vcpu: number): number => GDT_VIRT_64 + vcpu * 16 * PAGE_SIZE;
/** L4 slots of the two hypervisor mappings. */
export const M2P_L4_SLOT = Math.floor((MACH2PHYS_VIRT_START + 2 ** 48) / 2 ** 39);
export const GDT_L4_SLOT = Math.floor((PERDOMAIN_VIRT_START + 2 ** 48) / 2 ** 39);

export interface HypervisorFrames64 {
  readonly sharedInfo: number;
  readonly grant: readonly number[];
  /** GDT page 14 (the reserved entries from 0xe000) and the zero page for pages the guest did not give. */
  readonly gdtReserved: number;
  readonly gdtEmpty: number;
  /** L3, L2, L1 mapping the vCPUs' GDTs (16 pages each) from GDT_VIRT_64. */
  readonly gdtL3: number;
  readonly gdtL2: number;
  readonly gdtL1: number;
  /** The M2P table: 8 bytes per machine frame. */
  readonly m2p: readonly number[];
  /** L3, L2 and L1s mapping the M2P at MACH2PHYS_VIRT_START. */
  readonly m2pL3: number;
  readonly m2pL2: number;
  readonly m2pL1: readonly number[];
  /** Frames from this one up are the hypervisor's. */
  readonly first: number;
}

/** Carves the hypervisor's frames out of the top of RAM (`ramFrames` frames). */
export function hypervisorFrames64(ramFrames: number): HypervisorFrames64 {
  const m2pPages = Math.ceil((ramFrames * 8) / PAGE_SIZE);
  const m2pL1s = Math.ceil(m2pPages / 512);
  if (m2pL1s > 512) throw new Error(`strategy para maps an M2P for at most 1 GiB of it: ${ramFrames * 4} KiB`);
  const count = 1 + MAX_GRANT_FRAMES + 2 + 3 + m2pPages + 2 + m2pL1s;
  const first = ramFrames - count;
  if (first <= HYPERVISOR_LOW_FRAMES + 1024) throw new Error(`strategy para needs more RAM than ${ramFrames * 4} KiB for a 64-bit domain`);
  let next = first;
  const take = (n: number) => Array.from({ length: n }, () => next++);
  const [sharedInfo] = take(1);
  const grant = take(MAX_GRANT_FRAMES);
  const [gdtReserved, gdtEmpty, gdtL3, gdtL2, gdtL1] = take(5);
  const m2p = take(m2pPages);
  const [m2pL3, m2pL2] = take(2);
  const m2pL1 = take(m2pL1s);
  return { sharedInfo, grant, gdtReserved, gdtEmpty, gdtL3, gdtL2, gdtL1, m2p, m2pL3, m2pL2, m2pL1, first };
}

/** A table entry's low dword for `mfn` (below 4 GiB of machine memory: the high dword is 0). */
export const tableEntry = (mfn: number, user: boolean, writable: boolean) =>
  (mfn * PAGE_SIZE + (PTE_P | PTE_A | PTE_D | (writable ? PTE_RW : 0) | (user ? PTE_US : 0))) >>> 0;
