// System Control Port A at 0x92 ("PS/2 fast A20 and reset", Intel PIIX4/ICH datasheets, "Port 92h").
import type { AccessSize } from '@ringvisor/vmm-api';
import type { BusRange } from '../bus/access.js';

/** System Control Port A; Linux tries it in enable_a20_fast(). */
export const PORT_A = 0x92;
/** INIT_NOW: a 0 → 1 transition resets the CPU ("fast reset"). */
export const PORT_A_FAST_RESET = 0x01;
/** ALT_A20_GATE: A20 enabled; Linux's enable_a20_fast sets it and keeps bit 0 clear. */
export const PORT_A_A20 = 0x02;
/** Bits that read back as written (bit 3 is the CMOS password lock on PS/2 machines). */
export const PORT_A_WRITABLE = 0x0b;

export interface SystemControlPortAOptions {
  readonly onReset: () => void;
  /** Port A's A20 gate changed (the VMM ORs it with the keyboard controller's). */
  readonly onA20?: (enabled: boolean) => void;
}

export class SystemControlPortA {
  /** An 8-bit ISA device: the bus splits wider accesses into bytes. */
  readonly byteWide = true;
  readonly ports: readonly BusRange[] = [{ base: PORT_A, length: 1 }];
  private value = 0;

  constructor(private readonly options: SystemControlPortAOptions) {}

  get a20(): boolean {
    return (this.value & PORT_A_A20) !== 0;
  }

  ioRead(_port: number, _size: AccessSize): number {
    return this.value;
  }

  ioWrite(_port: number, _size: AccessSize, value: number): void {
    const old = this.value;
    this.value = value & PORT_A_WRITABLE;
    if ((old ^ this.value) & PORT_A_A20) this.options.onA20?.(this.a20);
    if (!(old & PORT_A_FAST_RESET) && this.value & PORT_A_FAST_RESET) this.options.onReset();
  }
}
