/**
 * What the FPU needs from the CPU that runs it. Memory operands are passed as the effective
 * address (offset) of the instruction's operand; the host adds the segment base, checks the limit,
 * translates through paging and throws the architectural fault itself.
 */
export interface FpuHost {
  read8(offset: number): number;
  read16(offset: number): number;
  read32(offset: number): number;
  write8(offset: number, value: number): void;
  write16(offset: number, value: number): void;
  write32(offset: number, value: number): void;
  /** EFLAGS as the FCMOVcc conditions read them. */
  getEflags(): number;
  /** FCOMI/FUCOMI: set ZF, PF and CF from the comparison and clear OF, SF and AF. */
  setCompareFlags(zf: boolean, pf: boolean, cf: boolean): void;
  /** FNSTSW AX. */
  setAx(value: number): void;
  /** The selector of the memory operand's segment (the FPU data pointer selector, FDS). */
  dataSelector(): number;
  /** The base of the memory operand's segment: real-address images record its linear address. */
  dataBase(): number;
}

/** How the instruction was executed: decides the FSTENV/FSAVE image layout. */
export const FPU_OPSIZE32 = 1;
export const FPU_PROTECTED = 2;
