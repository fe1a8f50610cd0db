import type { PhysicalMemory } from '../physical/physical-memory.js';
import { FOUR_GIB, KIND_RAM_CODE, PAGE_SHIFT } from '../physical/page-kind.js';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, TLB_HIT_MASK, TLB_NOT_RAM, TLB_VALID, type Access } from './access.js';
import { CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_LMA, EFER_NXE } from './control-bits.js';
import { HighTlb } from './high-tlb.js';
import { Tlb } from './tlb.js';
import { WalkResult, type PageTableMemory, type WalkContext } from './walk.js';
import { walk32Bit } from './walk-32bit.js';
import { pdpteReservedBitsSet, walkPae } from './walk-pae.js';
import { walk4Level } from './walk-4level.js';

export interface PagingOptions {
  /** MAXPHYADDR, 32..52 (default 36, as on P6-family processors with PAE). */
  readonly maxPhysAddrBits?: number;
  /** Where walkers read entries (default: the physical memory itself; EPT interposes here). */
  readonly tables?: PageTableMemory;
}

/** Control-register bits whose change makes every cached translation (global ones too) stale. */
const CR0_FLUSH_BITS = CR0_PG | CR0_WP;
const CR4_FLUSH_BITS = CR4_PSE | CR4_PAE | CR4_PGE;
const A20_BIT = 1 << 20;
const TWO_32 = 0x1_0000_0000;
const PAGE_SIZE = 4096;

/**
 * Linear-to-physical translation for one CPU: the paging controls, the page walkers and the TLB.
 * `translate` never throws and never allocates: a fault returns -1 and leaves the error code and
 * linear address in `faultCode` / `faultAddress` (the CPU raises #PF and writes CR2).
 */
export class Paging implements WalkContext {
  /** The TLB, one slot per linear page (see TLB_* and TLB_HIT_MASK); read it, never write it. */
  readonly tlb: Int32Array;
  /** #PF error code of the last failed `translate`. */
  faultCode = 0;
  /** Linear address of the last failed `translate` (what the CPU writes to CR2). */
  faultAddress = 0;
  /** Page walks done (TLB misses with paging enabled), for benchmarks. */
  walks = 0;
  readonly maxPhysAddrBits: number;
  readonly tables: PageTableMemory;

  private readonly memory: PhysicalMemory;
  private readonly unsubscribe: () => void;
  private readonly cache = new Tlb();
  /** The cache of translations outside 0-4 GiB (`translateLong`); read it, never write it. */
  readonly high = new HighTlb();
  private readonly result = new WalkResult();
  private cr0Value = 0;
  private cr3Value = 0;
  private cr4Value = 0;
  private eferValue = 0;

  constructor(memory: PhysicalMemory, options: PagingOptions = {}) {
    const bits = options.maxPhysAddrBits ?? 36;
    if (!Number.isInteger(bits) || bits < 32 || bits > 52) throw new RangeError(`maxPhysAddrBits ${bits} is not in 32..52`);
    this.maxPhysAddrBits = bits;
    this.memory = memory;
    this.tables = options.tables ?? memory;
    this.tlb = this.cache.entries;
    this.unsubscribe = memory.onLayoutChange(() => this.flushBoth(true));
  }

  /** Stops following the memory's layout changes (a CPU being thrown away). */
  detach(): void {
    this.unsubscribe();
  }

  get cr0(): number { return this.cr0Value; }
  get cr3(): number { return this.cr3Value; }
  get cr4(): number { return this.cr4Value; }
  get efer(): number { return this.eferValue; }
  get pagingEnabled(): boolean { return (this.cr0Value & CR0_PG) !== 0; }

  /**
   * Physical address of `linear` for `access` at `user` privilege (CPL 3; implicit supervisor
   * accesses such as descriptor-table reads pass false), or -1 on #PF. With paging off this is the
   * identity. The result may be 4 GiB or more (PAE); such pages are never cached in the TLB.
   */
  translate(linear: number, access: Access, user: boolean): number {
    const entry = this.tlb[linear >>> PAGE_SHIFT];
    if ((entry & TLB_HIT_MASK[(access << 1) | (user ? 1 : 0)]) === TLB_VALID) return ((entry & ~0xfff) ^ linear) >>> 0;
    return this.translateSlow(linear >>> 0, access, user);
  }

  /** Loads all four controls at once (VM entry, loaders, reset) and flushes the whole TLB. */
  setControl(cr0: number, cr3: number, cr4: number, efer: number): void {
    this.cr0Value = cr0 >>> 0;
    this.cr3Value = cr3 >>> 0;
    this.cr4Value = cr4 >>> 0;
    this.eferValue = efer >>> 0;
    this.flushBoth(true);
  }

  /** MOV to CR0: a change of PG or WP flushes the whole TLB. */
  setCr0(value: number): void {
    const changed = this.cr0Value ^ value;
    this.cr0Value = value >>> 0;
    if ((changed & CR0_FLUSH_BITS) !== 0) this.flushBoth(true);
  }

  /** MOV to CR3: flushes every translation but those of global pages, even if the value is unchanged. */
  setCr3(value: number): void {
    this.cr3Value = value >>> 0;
    this.flushBoth(false);
  }

  /** MOV to CR4: a change of PSE, PAE or PGE flushes the whole TLB. */
  setCr4(value: number): void {
    const changed = this.cr4Value ^ value;
    this.cr4Value = value >>> 0;
    if ((changed & CR4_FLUSH_BITS) !== 0) this.flushBoth(true);
  }

  /** WRMSR IA32_EFER (or the CPU setting LMA): a change of NXE or LMA flushes the whole TLB. */
  setEfer(value: number): void {
    const changed = this.eferValue ^ value;
    this.eferValue = value >>> 0;
    if ((changed & (EFER_NXE | EFER_LMA)) !== 0) this.flushBoth(true);
  }

  /**
   * `translate` for a 64-bit linear address of IA-32e mode, given as its canonical signed value
   * (-2^47 <= linear < 2^47; the caller has made the canonical check). Addresses below 4 GiB use
   * the TLB; the others their own cache (high-tlb.ts), filled by walks.
   */
  translateLong(linear: number, access: Access, user: boolean): number {
    if (linear >= 0 && linear < TWO_32) return this.translate(linear, access, user);
    if ((this.cr0Value & CR0_PG) === 0 || (this.eferValue & EFER_LMA) === 0) {
      this.faultCode = 0;
      this.faultAddress = linear;
      return -1;
    }
    const known = access === ACCESS_WRITE || access === ACCESS_FETCH ? access : ACCESS_READ;
    const page = Math.floor(linear / PAGE_SIZE);
    const offset = linear - page * PAGE_SIZE;
    const hit = this.high.lookup(page, TLB_HIT_MASK[(known << 1) | (user ? 1 : 0)], TLB_VALID);
    if (hit >= 0) return hit + offset;
    this.walks++;
    const result = this.result;
    if (!walk4Level(this, linear, known, user, result)) {
      this.faultCode = result.errorCode;
      this.faultAddress = linear;
      return -1;
    }
    this.high.fill(page, result.physical - offset, result.flags);
    return result.physical;
  }

  /** INVLPG: drops the translation of the page holding `linear`, global or not. */
  invlpg(linear: number): void {
    if (linear >= 0 && linear < FOUR_GIB) this.cache.invalidate(linear >>> PAGE_SHIFT);
    else this.high.invalidate(Math.floor(linear / PAGE_SIZE));
  }

  /** Drops cached translations: all of them, or (`global` false) all but global pages. */
  flush(global: boolean): void {
    this.flushBoth(global);
  }

  private flushBoth(global: boolean): void {
    this.cache.flush(global);
    this.high.flush(global);
  }

  /**
   * Intel loads the four PDPTEs at MOV to CR3 (with PAE paging on) and raises #GP(0) if a present
   * one sets a reserved bit. True when the PDPTEs at `cr3` would do that.
   */
  pdpteReservedBitsSet(cr3: number): boolean {
    return pdpteReservedBitsSet(this.tables, cr3, this.maxPhysAddrBits);
  }

  private translateSlow(linear: number, access: Access, user: boolean): number {
    let physical = linear;
    let flags = TLB_VALID;
    if ((this.cr0Value & CR0_PG) !== 0) {
      this.walks++;
      const result = this.result;
      const known = access === ACCESS_WRITE || access === ACCESS_FETCH ? access : ACCESS_READ;
      const ok = (this.eferValue & EFER_LMA) !== 0
        ? walk4Level(this, linear, known, user, result)
        : (this.cr4Value & CR4_PAE) !== 0
          ? walkPae(this, linear, known, user, result)
          : walk32Bit(this, linear, known, user, result);
      if (!ok) {
        this.faultCode = result.errorCode;
        this.faultAddress = linear;
        return -1;
      }
      physical = result.physical;
      flags = result.flags;
    }
    // Subtracting the bit keeps addresses above 4 GiB intact (bitwise operators would truncate them).
    if (!this.memory.a20Enabled) physical -= physical & A20_BIT;
    if (physical < FOUR_GIB) {
      if (this.memory.kind[physical >>> PAGE_SHIFT] > KIND_RAM_CODE) flags |= TLB_NOT_RAM;
      this.cache.fill(linear >>> PAGE_SHIFT, (physical & ~0xfff) >>> 0, flags);
    }
    return physical;
  }
}
