/**
 * IA-32e state the i686 core has no place for (SDM Vol. 4, Table 2-2 for the MSRs): 64-bit values
 * as low/high dword pairs, like the register file (`Cpu.reg32` + `Cpu.regHi`).
 */
export class LongState {
  /** Bits 63:32 of the segment bases (FS and GS in 64-bit mode; TR and LDTR from 16-byte descriptors). */
  readonly segBaseHi = new Int32Array(8);
  gdtrBaseHi = 0;
  idtrBaseHi = 0;
  /** IA32_STAR: SYSRET's CS/SS base in 63:48, SYSCALL's in 47:32, the legacy EIP in 31:0. */
  starLo = 0;
  starHi = 0;
  /** IA32_LSTAR / IA32_CSTAR: SYSCALL's RIP from 64-bit / compatibility mode. */
  lstarLo = 0;
  lstarHi = 0;
  cstarLo = 0;
  cstarHi = 0;
  /** IA32_FMASK: RFLAGS bits SYSCALL clears. */
  sfmask = 0;
  /** IA32_KERNEL_GS_BASE: what SWAPGS exchanges with GS's base. */
  kernelGsLo = 0;
  kernelGsHi = 0;
  /** IA32_TSC_AUX (RDTSCP's ECX). */
  tscAux = 0;
  /** IA32_SYSENTER_ESP / IA32_SYSENTER_EIP bits 63:32 (the low halves are `Cpu.sysenterEsp`/`sysenterEip`). */
  sysenterEspHi = 0;
  sysenterEipHi = 0;
  /** CR8 (the task-priority register; no local APIC reads it here). */
  cr8 = 0;

  reset(): void {
    this.segBaseHi.fill(0);
    this.gdtrBaseHi = this.idtrBaseHi = 0;
    this.starLo = this.starHi = this.lstarLo = this.lstarHi = this.cstarLo = this.cstarHi = 0;
    this.sfmask = this.kernelGsLo = this.kernelGsHi = this.tscAux = this.cr8 = 0;
    this.sysenterEspHi = this.sysenterEipHi = 0;
  }
}
