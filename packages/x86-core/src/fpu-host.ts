import type { Cpu } from './cpu.js';
import { CF, PF, ZF } from './flags.js';
import type { FpuHost } from './fpu/host.js';

/**
 * The CPU as the x87 sees it. Memory operands are offsets in the instruction's segment (`eaSeg`),
 * wrapped at 64 KiB with a 16-bit address size, and go through the CPU's segment and paging checks.
 */
export class CpuFpuHost implements FpuHost {
  constructor(protected readonly cpu: Cpu) {}

  private offset(at: number): number {
    return this.cpu.addrSize32 ? at >>> 0 : at & 0xffff;
  }

  read8(at: number): number { return this.cpu.read8(this.cpu.eaSeg, this.offset(at)); }
  read16(at: number): number { return this.cpu.read16(this.cpu.eaSeg, this.offset(at)); }
  read32(at: number): number { return this.cpu.read32(this.cpu.eaSeg, this.offset(at)); }
  write8(at: number, v: number): void { this.cpu.write8(this.cpu.eaSeg, this.offset(at), v); }
  write16(at: number, v: number): void { this.cpu.write16(this.cpu.eaSeg, this.offset(at), v); }
  write32(at: number, v: number): void { this.cpu.write32(this.cpu.eaSeg, this.offset(at), v); }

  getEflags(): number {
    return this.cpu.getEflags();
  }

  /** FCOMI family: ZF, PF, CF from the comparison; OF, SF and AF cleared. */
  setCompareFlags(zf: boolean, pf: boolean, cf: boolean): void {
    this.cpu.setArith((zf ? ZF : 0) | (pf ? PF : 0) | (cf ? CF : 0)); // setArith clears the rest
  }

  setAx(value: number): void {
    this.cpu.reg16[0] = value;
  }

  dataSelector(): number {
    return this.cpu.seg[this.cpu.eaSeg];
  }

  dataBase(): number {
    return this.cpu.segBase[this.cpu.eaSeg];
  }
}
