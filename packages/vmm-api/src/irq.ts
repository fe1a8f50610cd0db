/** An interrupt request line from a device to an interrupt controller input. */
export interface IrqLine {
  /** Drive the line's level (level-triggered devices hold it; edge-triggered ones raise and drop it). */
  set(level: boolean): void;
}

/**
 * The CPU side of an interrupt controller (the 8259's INTR output and INTA cycle). Emulated CPUs
 * poll `pending()` at instruction boundaries; hardware backends inject `acknowledge()`'s vector.
 */
export interface InterruptController {
  /** True while INTR is asserted. */
  pending(): boolean;
  /** The INTA cycle: returns the vector to deliver (a spurious vector if the request vanished). */
  acknowledge(): number;
}
