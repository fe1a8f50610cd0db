import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, PF_VECTOR, TLB_HIT_MASK, TLB_NOT_RAM, type Paging } from '@ringvisor/mmu';
import { throwFault } from './fault.js';
import { FEATURE_PAE, FEATURE_PGE, FEATURE_PSE } from './cpuid.js';
import type { InlineHighTlb, PagingCpu, PagingUnit } from './memory.js';

/** CPUID.1:EDX bit 17: 36-bit physical addresses in 4 MiB pages. */
const FEATURE_PSE36 = 1 << 17;
/** The paging features `@ringvisor/mmu` implements (32-bit paging with PSE/PSE-36, PAE, global pages). */
export const MMU_PAGING_FEATURES = FEATURE_PSE | FEATURE_PAE | FEATURE_PGE | FEATURE_PSE36;

/** The mmu's page walker and TLB as the CPU's paging unit: #PF with CR2 on a failed walk. */
export class MmuPaging implements PagingUnit {
  private stale = true;
  /** mmu's TLB for inline lookups; pages that are not RAM miss, so their accesses take the slow path. */
  readonly inlineTlb: { readonly entries: Int32Array; readonly hitMask: Int32Array };
  /** mmu's cache above 4 GiB; its entries have no TLB_NOT_RAM, so the accesses check the page kind. */
  readonly inlineHighTlb: InlineHighTlb;

  constructor(readonly paging: Paging) {
    this.inlineTlb = { entries: paging.tlb, hitMask: TLB_HIT_MASK.map((m) => m | TLB_NOT_RAM) };
    const { tags, physical, flags } = paging.high;
    this.inlineHighTlb = { tags, physical, flags, hitMask: TLB_HIT_MASK };
  }

  translate(linear: number, access: number, cpu: PagingCpu): number {
    if (this.stale) this.sync(cpu);
    const kind = access & 16 ? ACCESS_FETCH : access & 2 ? ACCESS_WRITE : ACCESS_READ;
    const pa = this.paging.translate(linear, kind, (access & 4) !== 0);
    if (pa < 0) {
      cpu.cr2 = this.paging.faultAddress;
      cpu.cr2Hi = 0;
      throwFault(PF_VECTOR, this.paging.faultCode);
    }
    return pa;
  }

  translateLong(linear: number, access: number, cpu: PagingCpu): number {
    if (this.stale) this.sync(cpu);
    const kind = access & 16 ? ACCESS_FETCH : access & 2 ? ACCESS_WRITE : ACCESS_READ;
    const pa = this.paging.translateLong(linear, kind, (access & 4) !== 0);
    if (pa < 0) {
      const fault = this.paging.faultAddress;
      const high = Math.floor(fault / 0x1_0000_0000);
      cpu.cr2 = fault - high * 0x1_0000_0000;
      cpu.cr2Hi = high | 0;
      throwFault(PF_VECTOR, this.paging.faultCode);
    }
    return pa;
  }

  flush(): void {
    this.stale = true;
  }

  /** Loads CR0/CR3/CR4/EFER: a change of the paging mode flushes everything, a CR3 load all but global pages. */
  private sync(cpu: PagingCpu): void {
    this.stale = false;
    const p = this.paging;
    if (p.cr0 !== cpu.cr0 >>> 0 || p.cr4 !== cpu.cr4 >>> 0 || p.efer !== cpu.efer >>> 0) {
      p.setControl(cpu.cr0, cpu.cr3, cpu.cr4, cpu.efer);
    } else p.setCr3(cpu.cr3);
  }

  invalidate(linear: number): void {
    this.paging.invlpg(linear);
  }
}
