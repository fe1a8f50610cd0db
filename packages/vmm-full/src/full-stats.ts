// The technique's own counters (`--stats`): what the VMM did, by kind.

/** Counters one vCPU keeps; the TC's and the shadow pager's are read from them when reported. */
export class FullCounters {
  /** Call-outs emulated, by class (translation-cache.ts CALLOUT_NAMES). */
  readonly callouts = new Float64Array(16);
  /** Traps taken at ring 1 or 3 and emulated, by the first opcode byte (0x0F xx as 0x100 | xx). */
  readonly traps = new Float64Array(0x200);
  /** Exceptions reflected to the guest through its IDT, by vector. */
  readonly reflected = new Float64Array(32);
  externalInterrupts = 0;
  /** Instructions the virtual CPU ran for states the hardware cannot hold (interpreter). */
  interpreted = 0;
  chainsPatched = 0;
  /** RET and indirect CALL/JMP completed by the VMM on the CPU's state (no emulator round trip). */
  fastBranches = 0;
  /** Every call-out completed that way (branches, port I/O, segment register moves). */
  fastCallouts = 0;
  staleEntries = 0;
  /** Instructions the TC's indirect-branch lookups retired beyond the guest's (subtracted from the count). */
  lookupInstructions = 0;
  worldSwitches = 0;
  adaptiveRetranslations = 0;
}
