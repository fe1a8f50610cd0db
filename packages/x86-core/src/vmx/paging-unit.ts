import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, EPT_EXIT, PF_VECTOR, TLB_HIT_MASK, TLB_NOT_RAM, type NestedPaging } from '@ringvisor/mmu';
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import type { PagingCpu, PagingUnit } from '../memory.js';

/**
 * The paging unit of a CPU that can run in VMX non-root operation: mmu's `NestedPaging` (guest
 * paging, then EPT when enabled). A guest #PF raises #PF as bare paging does; an EPT violation or
 * misconfiguration stops the instruction as a VM exit. CR2 is written for a #PF; the value it
 * replaced is kept in `cr2Before`, because a #PF that causes a VM exit leaves CR2 unchanged.
 */
export class VmxPagingUnit implements PagingUnit {
  private stale = true;
  cr2Before = 0;
  readonly inlineTlb: { readonly entries: Int32Array; readonly hitMask: Int32Array };
  /** The CPU stopped by EPT exits (set once the CPU exists). */
  cpu: Cpu | null = null;

  constructor(readonly paging: NestedPaging) {
    this.inlineTlb = { entries: paging.tlb, hitMask: TLB_HIT_MASK.map((m) => m | TLB_NOT_RAM) };
  }

  translate(linear: number, access: number, cpu: PagingCpu): number {
    if (this.stale) this.sync(cpu);
    const kind = access & 16 ? ACCESS_FETCH : access & 2 ? ACCESS_WRITE : ACCESS_READ;
    const pa = this.paging.translate(linear, kind, (access & 4) !== 0);
    if (pa >= 0) return pa;
    if (pa === EPT_EXIT) {
      const owner = this.cpu;
      if (owner === null) throw new Error('x86-core: an EPT exit without a CPU to stop');
      // Measuring the stopped instruction's length reads its bytes again (stop.length is -1 until
      // then): an exit there only ends the measurement (instructionLength gives 0).
      if (owner.stop.length < 0) throw new Error('x86-core: EPT exit while measuring an instruction');
      owner.stopAccess(this.paging.eptExit.kind === 'violation' ? 'ept-violation' : 'ept-misconfig');
    }
    this.cr2Before = cpu.cr2;
    cpu.cr2 = this.paging.faultAddress;
    return throwFault(PF_VECTOR, this.paging.faultCode);
  }

  flush(): void {
    this.stale = true;
  }

  /** A change of paging mode flushes everything; a CR3 load all but global pages. */
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
