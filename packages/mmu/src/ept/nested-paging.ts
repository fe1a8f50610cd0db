// Two-dimensional translation (SDM Vol. 3C, 29.3.1): the guest's paging structures are read
// through EPT (each guest-physical table address is an EPT walk of its own), then the guest-
// physical result is translated by EPT. The TLB caches the combined linear-to-host translation.
import type { PhysicalMemory } from '../physical/physical-memory.js';
import { FOUR_GIB, KIND_RAM_CODE, PAGE_SHIFT } from '../physical/page-kind.js';
import {
  ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, TLB_CLEAN, TLB_HIT_MASK, TLB_NOT_RAM, TLB_NO_FETCH, TLB_NO_WRITE_SUPER,
  TLB_NO_WRITE_USER, TLB_VALID, type Access,
} from '../paging/access.js';
import { CR0_PG, CR4_PAE } from '../paging/control-bits.js';
import { Tlb } from '../paging/tlb.js';
import { WalkResult, type PageTableMemory, type WalkContext } from '../paging/walk.js';
import { walk32Bit } from '../paging/walk-32bit.js';
import { walkPae } from '../paging/walk-pae.js';
import {
  EPTQ_FINAL, EPTQ_LINEAR_VALID, EPT_ACCESS_FETCH, EPT_ACCESS_READ, EPT_ACCESS_WRITE, EPT_EXECUTE, EPT_READ, EPT_WRITE,
  Ept, EptWalk,
} from './ept.js';

/** `translate`'s answer when EPT refused the access (details in `eptExit`). */
export const EPT_EXIT = -2;
/** Thrown from inside a guest page walk when a paging-structure access fails in EPT. */
const ABORT_WALK = { eptAbort: true };
const A20_BIT = 1 << 20;

/** What an EPT exit reports: the VM exit's qualification, guest-physical and guest-linear address. */
export class EptExit {
  kind: 'violation' | 'misconfig' = 'violation';
  qualification = 0;
  guestPhysical = 0;
  guestLinear = 0;
  detail = '';
}

/** Counters for `--stats` and benchmarks. */
export class NestedPagingStats {
  /** Guest TLB misses resolved by a walk (two-dimensional when EPT is on). */
  walks = 0;
  /** 2-D walks: misses with EPT on. */
  walks2d = 0;
  violationsRead = 0;
  violationsWrite = 0;
  violationsFetch = 0;
  misconfigs = 0;
}

/**
 * Guest paging over EPT for one CPU. Without EPT (`eptEnabled` false) guest-physical is host-
 * physical and this is plain paging. `translate` never throws and never allocates: -1 is a guest
 * #PF (`faultCode`, `faultAddress`), EPT_EXIT a VM exit (`eptExit`).
 */
export class NestedPaging implements WalkContext, PageTableMemory {
  readonly tlb: Int32Array;
  readonly tables: PageTableMemory = this;
  readonly maxPhysAddrBits: number;
  readonly ept: Ept;
  readonly eptExit = new EptExit();
  readonly stats = new NestedPagingStats();
  eptEnabled = false;
  faultCode = 0;
  faultAddress = 0;
  cr0 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;

  private readonly cache = new Tlb();
  private readonly result = new WalkResult();
  private readonly walkOut = new EptWalk();
  /** The linear address being translated (reported with EPT exits from inside its walk). */
  private linear = 0;
  /** Paging-structure accesses count as writes for EPT when A/D flags are on (SDM 29.3.5). */
  private tableAccess = EPT_ACCESS_READ;

  /**
   * `memory` holds the frames EPT maps to; `eptTables` (default: the same) the EPT paging structures,
   * so a VMM can keep its own structures in frames no EPT entry can point at.
   */
  constructor(
    private readonly memory: PhysicalMemory,
    options: { maxPhysAddrBits?: number; hostMaxPhysAddrBits?: number; eptTables?: PhysicalMemory } = {},
  ) {
    this.maxPhysAddrBits = options.maxPhysAddrBits ?? 36;
    this.ept = new Ept(options.eptTables ?? memory, options.hostMaxPhysAddrBits ?? 39);
    this.tlb = this.cache.entries;
    memory.onLayoutChange(() => this.cache.flush(true));
  }

  /** Loads the guest's paging controls; flushes every combined translation. */
  setControl(cr0: number, cr3: number, cr4: number, efer: number): void {
    this.cr0 = cr0 >>> 0;
    this.cr3 = cr3 >>> 0;
    this.cr4 = cr4 >>> 0;
    this.efer = efer >>> 0;
    this.cache.flush(true);
  }

  /** A guest CR3 load: every translation but global ones goes (they are tagged by VPID and EPTP, not CR3). */
  setCr3(cr3: number): void {
    this.cr3 = cr3 >>> 0;
    this.cache.flush(false);
  }

  invlpg(linear: number): void {
    this.cache.invalidate(linear >>> PAGE_SHIFT);
  }

  /** INVEPT, INVVPID, a VM entry under another tag, a layout change: drop all combined translations. */
  flush(global: boolean): void {
    this.cache.flush(global);
  }

  translate(linear: number, access: Access, user: boolean): number {
    const entry = this.tlb[linear >>> PAGE_SHIFT];
    if ((entry & TLB_HIT_MASK[(access << 1) | (user ? 1 : 0)]) === TLB_VALID) return ((entry & ~0xfff) ^ linear) >>> 0;
    return this.translateSlow(linear >>> 0, access, user);
  }

  private translateSlow(linear: number, access: Access, user: boolean): number {
    this.linear = linear;
    let guestPhysical = linear;
    let flags = TLB_VALID;
    const stats = this.stats;
    if ((this.cr0 & CR0_PG) !== 0) {
      stats.walks++;
      if (this.eptEnabled) stats.walks2d++;
      this.tableAccess = this.ept.accessedDirty ? EPT_ACCESS_WRITE : EPT_ACCESS_READ;
      const result = this.result;
      const known = access === ACCESS_WRITE || access === ACCESS_FETCH ? access : ACCESS_READ;
      let ok: boolean;
      try {
        ok = (this.cr4 & CR4_PAE) !== 0 ? walkPae(this, linear, known, user, result) : walk32Bit(this, linear, known, user, result);
      } catch (e) {
        if (e === ABORT_WALK) return EPT_EXIT;
        throw e;
      }
      if (!ok) {
        this.faultCode = result.errorCode;
        this.faultAddress = linear;
        return -1;
      }
      guestPhysical = result.physical;
      flags = result.flags;
    }
    let host = guestPhysical;
    if (this.eptEnabled) {
      const out = this.walkOut;
      const eptAccess = access === ACCESS_WRITE ? EPT_ACCESS_WRITE : access === ACCESS_FETCH ? EPT_ACCESS_FETCH : EPT_ACCESS_READ;
      if (!this.ept.walk(guestPhysical, eptAccess, out)) {
        this.recordExit(out, guestPhysical, EPTQ_LINEAR_VALID | EPTQ_FINAL);
        return EPT_EXIT;
      }
      host = out.hostPhysical;
      // An execute-only page is never cached: its reads must walk again and fault.
      if ((out.rights & EPT_READ) === 0) return host;
      if ((out.rights & EPT_WRITE) === 0) flags |= TLB_NO_WRITE_USER | TLB_NO_WRITE_SUPER;
      if ((out.rights & EPT_EXECUTE) === 0) flags |= TLB_NO_FETCH;
      if (!out.leafDirty) flags |= TLB_CLEAN;
    } else if (!this.memory.a20Enabled) host -= host & A20_BIT;
    if (host < FOUR_GIB) {
      if (this.memory.kind[host >>> PAGE_SHIFT] > KIND_RAM_CODE) flags |= TLB_NOT_RAM;
      this.cache.fill(linear >>> PAGE_SHIFT, (host & ~0xfff) >>> 0, flags);
    }
    return host;
  }

  private recordExit(out: EptWalk, guestPhysical: number, bits: number): void {
    const exit = this.eptExit;
    const stats = this.stats;
    exit.guestPhysical = guestPhysical;
    exit.guestLinear = this.linear;
    exit.detail = out.detail;
    if (out.failure === 'misconfig') {
      exit.kind = 'misconfig';
      exit.qualification = 0;
      stats.misconfigs++;
      return;
    }
    exit.kind = 'violation';
    exit.qualification = out.qualification | bits;
    if (out.qualification & 4) stats.violationsFetch++;
    else if (out.qualification & 2) stats.violationsWrite++;
    else stats.violationsRead++;
  }

  /** Host-physical address of a guest paging-structure entry, or an aborted walk. */
  private tableAddress(address: number, access: number): number {
    if (!this.eptEnabled) return address;
    const out = this.walkOut;
    if (this.ept.walk(address, access, out)) return out.hostPhysical;
    this.recordExit(out, address, EPTQ_LINEAR_VALID);
    throw ABORT_WALK;
  }

  read32(address: number): number {
    return this.memory.read32(this.tableAddress(address, this.tableAccess));
  }

  write32(address: number, value: number): void {
    this.memory.write32(this.tableAddress(address, EPT_ACCESS_WRITE), value);
  }

  or32(address: number, bits: number): void {
    this.memory.or32(this.tableAddress(address, EPT_ACCESS_WRITE), bits);
  }
}
