// @ringvisor/mmu: guest-physical memory (RAM, ROM, MMIO, A20) and x86 linear-to-physical translation.
export { PhysicalMemory, type PhysicalMemoryOptions } from './physical/physical-memory.js';
export {
  PAGE_SHIFT, PAGE_SIZE, PAGE_MASK, KIND_RAM, KIND_RAM_CODE, KIND_ROM, KIND_MMIO, KIND_UNMAPPED,
} from './physical/page-kind.js';
export { Paging, type PagingOptions } from './paging/paging.js';
export {
  ACCESS_READ, ACCESS_WRITE, ACCESS_FETCH, type Access, accessIndex, DENY_MASK, TLB_HIT_MASK,
  TLB_VALID, TLB_NO_USER, TLB_NO_WRITE_USER, TLB_NO_WRITE_SUPER, TLB_NO_FETCH, TLB_CLEAN, TLB_NOT_RAM,
  TLB_GLOBAL, TLB_LARGE, TLB_HUGE,
} from './paging/access.js';
export {
  CR0_WP, CR0_PG, CR4_PSE, CR4_PAE, CR4_PGE, EFER_NXE, EFER_LMA,
  PTE_P, PTE_RW, PTE_US, PTE_PWT, PTE_PCD, PTE_A, PTE_D, PTE_PS, PTE_G, PTE_HI_XD,
  PF_P, PF_W, PF_U, PF_RSVD, PF_I, PF_VECTOR,
} from './paging/control-bits.js';
export { WalkResult, type PageTableMemory, type WalkContext } from './paging/walk.js';
export { walk32Bit } from './paging/walk-32bit.js';
export { walkPae } from './paging/walk-pae.js';
export { walk4Level } from './paging/walk-4level.js';
export { ShadowPaging, type ShadowPagingOptions, type HostTlb } from './shadow/shadow-paging.js';
export {
  SHADOW_HIDDEN, SHADOW_TRUE, SHADOW_TRACED, SHADOW_MMIO, SHADOW_VMM_AREA, SHADOW_UNSUPPORTED, SHADOW_OVERLAY, type ShadowFaultKind,
} from './shadow/fault-kind.js';
export {
  Ept, EptWalk, EPT_READ, EPT_WRITE, EPT_EXECUTE, EPT_LARGE, EPT_ACCESSED, EPT_DIRTY, EPTP_WB, EPTP_UC, EPTP_WALK_4,
  EPTP_AD, EPTQ_READ, EPTQ_WRITE, EPTQ_FETCH, EPTQ_READABLE, EPTQ_WRITABLE, EPTQ_EXECUTABLE, EPTQ_LINEAR_VALID,
  EPTQ_FINAL, EPT_ACCESS_READ, EPT_ACCESS_WRITE, EPT_ACCESS_FETCH,
} from './ept/ept.js';
export { NestedPaging, NestedPagingStats, EptExit, EPT_EXIT } from './ept/nested-paging.js';
