/**
 * Thrown when an exception occurs while the CPU delivers a double fault (SDM Vol. 3A 6.15, vector 8:
 * "the processor enters shutdown mode"). The run loop catches it and reports a `shutdown` exit; the
 * CPU state is left as it was when the last fault was raised.
 */
export class TripleFault extends Error {
  constructor(
    /** The exception that could not be delivered while delivering #DF. */
    readonly vector: number,
  ) {
    super(`triple fault (exception ${vector} while delivering #DF)`);
    this.name = 'TripleFault';
  }
}
