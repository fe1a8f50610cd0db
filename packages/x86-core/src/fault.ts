/**
 * An architectural exception raised while executing an instruction. The run loop catches it, rolls
 * EIP (and ESP when the instruction saved it) back to the faulting instruction and delivers it.
 * Faults are rare, so a thrown object costs nothing on the hot path.
 */
export class CpuFault extends Error {
  constructor(
    readonly vector: number,
    readonly errorCode: number,
    readonly hasErrorCode: boolean,
  ) {
    super(`CPU exception ${vector}${hasErrorCode ? ` (error code ${errorCode.toString(16)})` : ''}`);
  }
}

/** Raises exception `vector`; an error code is pushed only when one is given. */
export function throwFault(vector: number, errorCode?: number): never {
  throw new CpuFault(vector, errorCode ?? 0, errorCode !== undefined);
}
