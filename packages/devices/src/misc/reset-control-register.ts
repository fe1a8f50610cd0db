// Reset Control Register at 0xCF9 (Intel PIIX3/PIIX4 "RC—Reset Control Register", ICH "RST_CNT"):
// the FADT's RESET_REG points here with RESET_VALUE 6, and Linux's reboot=pci writes 2 then 6.
import type { AccessSize } from '@ringvisor/vmm-api';
import type { BusRange } from '../bus/access.js';

export const RESET_CONTROL_PORT = 0xcf9;
/** SYS_RST: the reset RST_CPU starts is a full system reset rather than an INIT (kept as written). */
export const RC_SYS_RST = 0x02;
/** RST_CPU: writing 1 starts the reset. */
export const RC_RST_CPU = 0x04;
/** FULL_RST (ICH): power-cycle during the reset (kept as written). */
export const RC_FULL_RST = 0x08;
/** What FADT RESET_VALUE writes: SYS_RST | RST_CPU, a hard reset. */
export const RC_HARD_RESET = RC_SYS_RST | RC_RST_CPU;

export interface ResetControlRegisterOptions {
  readonly onReset: () => void;
}

export class ResetControlRegister {
  /** An 8-bit register: wider accesses reach 0xCFA-0xCFB byte by byte (nothing there on this board). */
  readonly byteWide = true;
  readonly ports: readonly BusRange[] = [{ base: RESET_CONTROL_PORT, length: 1 }];
  private value = 0;

  constructor(private readonly options: ResetControlRegisterOptions) {}

  ioRead(_port: number, _size: AccessSize): number {
    return this.value;
  }

  ioWrite(_port: number, _size: AccessSize, value: number): void {
    this.value = value & (RC_SYS_RST | RC_FULL_RST);
    if (value & RC_RST_CPU) this.options.onReset();
  }
}
