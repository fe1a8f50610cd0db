// Shadow page tables for software full virtualization: the CPU walks tables the VMM builds from
// the guest's, in VMM frames of host-physical memory; guest page-table pages are write-traced.
import type { Access } from '../paging/access.js';
import type { PhysicalMemory } from '../physical/physical-memory.js';
import type { ShadowFaultKind } from './fault-kind.js';

/** The host CPU's TLB over the shadow tables (mmu's `Paging` is one): dropped entries the pager changed. */
export interface HostTlb {
  invlpg(linear: number): void;
  flush(global: boolean): void;
}

export interface ShadowPagingOptions {
  /**
   * Host-physical memory: guest RAM at hpa = gpa in [0, guestRamEnd), the VMM's frames above it,
   * ROM and MMIO at their guest-physical addresses.
   */
  readonly host: PhysicalMemory;
  /** One past the last byte of guest RAM; RAM at or above it is the VMM's and never mapped for the guest. */
  readonly guestRamEnd: number;
  /** A zeroed or dirty 4 KiB host RAM frame (hpa) for a shadow table, or -1 when the pool is empty. */
  allocFrame(): number;
  /** Gives a frame back to the pool (when the pager is reset). */
  freeFrame(hpa: number): void;
  /** The CPU's TLB, told about every shadow entry the pager weakens or removes. */
  readonly hostTlb: HostTlb;
  /** Shadow tables kept at most (default 512); past it, or when `allocFrame` fails, the least recently used are recycled. */
  readonly maxShadowPages?: number;
}

/**
 * Shadow paging for one vCPU. The VMM forwards the guest's virtual CR0/CR3/CR4/EFER, loads `root`
 * into the real CR3 (with CR0.PG = CR0.WP = 1 and CR4 = `hostCr4`), and hands every host #PF taken
 * in guest context to `fault`. Hot paths allocate nothing.
 */
export class ShadowPaging {
  /** #PF error code for the guest after SHADOW_TRUE (from the guest's tables, CPL and CR0.WP). */
  guestErrorCode = 0;
  /** Guest-physical address of the access after SHADOW_TRACED or SHADOW_MMIO (may be ≥ 4 GiB with PSE-36). */
  faultGpa = 0;

  // Counters (plain numbers, for --stats).
  hiddenFaults = 0;
  trueFaults = 0;
  tracedFaults = 0;
  mmioFaults = 0;
  /** `guestWrite` calls that hit a traced page-table page. */
  tracedWrites = 0;
  /** Shadow tables built (roots and page tables). */
  shadowsBuilt = 0;
  /** Guest CR3 loads that found their shadow root cached. */
  rootsReused = 0;
  /** Shadow tables recycled to make room. */
  shadowsRecycled = 0;
  invlpgs = 0;
  flushes = 0;

  constructor(options: ShadowPagingOptions) {
    void options;
    throw new Error('ShadowPaging: not implemented yet');
  }

  /** Host-physical address of the shadow root to load into the real CR3. */
  get root(): number { return 0; }
  /** CR4 bits (PSE, PAE) the real CPU needs for the shadow format. */
  get hostCr4(): number { return 0; }

  /** Loads the guest's four paging controls at once (mode switch, reset): what changed decides the work. */
  setGuestControl(cr0: number, cr3: number, cr4: number, efer: number): void { void cr0; void cr3; void cr4; void efer; }
  /** Guest MOV to CR0: PG switches between identity and guest-table shadows, WP rebuilds. */
  setCr0(value: number): void { void value; }
  /** Guest MOV to CR3: switches to the cached shadow root for it, or a fresh one built lazily. */
  setCr3(value: number): void { void value; }
  /** Guest MOV to CR4: PSE/PAE change rebuilds; PGE changes only flush the host TLB. */
  setCr4(value: number): void { void value; }
  /** Guest WRMSR EFER (NXE). */
  setEfer(value: number): void { void value; }

  /** Classifies a host #PF at `linear` for `access` in guest user mode (`user`: guest CPL 3). */
  fault(linear: number, access: Access, user: boolean): ShadowFaultKind { void linear; void access; void user; return 0; }

  /** Stores a guest write the VMM emulated after SHADOW_TRACED, and brings the shadows in line. */
  guestWrite(gpa: number, size: 1 | 2 | 4, value: number): void { void gpa; void size; void value; }

  /** Walks the guest's tables as the guest CPU would (sets A/D): gpa, or -1 with `guestErrorCode`. */
  translateGuest(linear: number, access: Access, user: boolean): number { void linear; void access; void user; return -1; }

  /** Guest INVLPG. */
  invlpg(linear: number): void { void linear; }
  /** A guest TLB flush of non-global translations (what a CR3 load does). */
  flushNonGlobal(): void { /* */ }
  /** A guest TLB flush of everything (CR4.PGE toggle). */
  flushAll(): void { /* */ }

  /** Reserves 4 MiB slots from `linearBase` for the VMM: `pdes` go into every shadow root there. */
  reserveVmmArea(linearBase: number, pdes: ArrayLike<number>): void { void linearBase; void pdes; }
  /** Moves the reserved area (the guest mapped over it). */
  relocateVmmArea(linearBase: number): void { void linearBase; }

  /** Checks every shadow entry: throws on a mapping of a frame the guest must not reach (tests, `escape`). */
  checkInvariants(): void { /* */ }

  /** Drops every shadow and returns the frames to the pool. */
  reset(): void { /* */ }
}
