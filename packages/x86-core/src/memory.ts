import type { AccessSize } from '@ringvisor/vmm-api';

/**
 * Guest-physical memory as the CPU's fast paths need it (the shape of `@ringvisor/mmu`'s
 * `PhysicalMemory`): one RAM array indexed by physical address and a kind byte per 4 KiB page.
 * A read may use `ram` directly when `kind[page] <= 1`, a write only when `kind[page] === 0`;
 * everything else (ROM, MMIO, code pages being watched, holes) goes through `read`/`write`.
 */
export interface CpuMemory {
  readonly ram: Uint8Array;
  readonly kind: Uint8Array;
  read(address: number, size: AccessSize): number;
  write(address: number, size: AccessSize, value: number): void;
  /**
   * Code-write detection (mmu's `markCode`/`onCodeWrite`): after `markCode(page)` the next write to
   * the page, from anywhere, calls `onCodeWrite(page)`. Without it the CPU caches no decoded code.
   */
  markCode?(page: number): boolean;
  onCodeWrite?: ((page: number) => void) | null;
}

/** Access bits given to `PagingUnit.translate` (the #PF error-code layout, SDM 4.7). */
export const ACCESS_WRITE = 2;
export const ACCESS_USER = 4;
export const ACCESS_FETCH = 16;

/**
 * The paging unit: translates a linear address for an access, raising #PF through `throwFault`
 * (and setting `cpu.cr2`) when the walk or the permission check fails.
 */
export interface PagingUnit {
  translate(linear: number, access: number, cpu: PagingCpu): number;
  /**
   * CR0, CR3, CR4 or EFER changed (MOV CR3 included): cached translations are stale. The unit
   * re-reads the control registers from the `cpu` given to its next `translate`.
   */
  flush(): void;
  /** INVLPG. */
  invalidate(linear: number): void;
  /**
   * `translate` for a canonical 64-bit linear address held as a signed number (IA-32e mode); a
   * #PF sets CR2 and its high dword `cr2Hi`. Absent: the unit has no 4-level paging.
   */
  translateLong?(linear: number, access: number, cpu: PagingCpu): number;
  /**
   * A TLB the CPU may read inline: per linear page `(physical page ^ linear page) << 12 | flags`, a
   * hit when `(entry & hitMask[kind << 1 | user]) === 1` (kind 0 read, 1 write, 2 fetch). Valid
   * only after a `translate` following the last `flush`.
   */
  readonly inlineTlb?: { readonly entries: Int32Array; readonly hitMask: Int32Array } | null;
  /**
   * The cache of `translateLong` for pages outside 0-4 GiB, read inline by 64-bit accesses: slot
   * `page & (tags.length - 1)` holds linear page `tags[slot]` at `physical[slot]`, a hit when
   * `(flags[slot] & hitMask[kind << 1 | user]) === 1`. Valid under the same rule as `inlineTlb`.
   */
  readonly inlineHighTlb?: InlineHighTlb | null;
}

export interface InlineHighTlb {
  readonly tags: Float64Array;
  readonly physical: Float64Array;
  readonly flags: Int32Array;
  readonly hitMask: Int32Array;
}

/** The CPU state a page walk reads. */
export interface PagingCpu {
  cr0: number;
  cr2: number;
  /** CR2 bits 63:32 (IA-32e mode). */
  cr2Hi?: number;
  cr3: number;
  cr4: number;
  efer: number;
}
