/**
 * An architectural exception raised while executing an instruction. The run loop catches it, rolls
 * EIP (and ESP when the instruction saved it) back to the faulting instruction and delivers it.
 * It is control flow, not a host error: under `vmm-full` every call-out of the translated code is
 * one (ten million in a Linux boot), so it captures no stack trace.
 */
export class CpuFault extends Error {
  readonly vector: number;
  readonly errorCode: number;
  readonly hasErrorCode: boolean;

  constructor(vector: number, errorCode: number, hasErrorCode: boolean) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`CPU exception ${vector}${hasErrorCode ? ` (error code ${errorCode.toString(16)})` : ''}`);
    Error.stackTraceLimit = limit;
    this.vector = vector;
    this.errorCode = errorCode;
    this.hasErrorCode = hasErrorCode;
  }
}

/** Raises exception `vector`; an error code is pushed only when one is given. */
export function throwFault(vector: number, errorCode?: number): never {
  throw new CpuFault(vector, errorCode ?? 0, errorCode !== undefined);
}
