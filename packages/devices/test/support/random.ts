// A small deterministic generator for the garbage-traffic tests: the same seed replays the same
// hostile sequence, so a failure can be reproduced.

/** Returns a function yielding pseudo-random non-negative integers below 2^23 (a 31-bit LCG). */
export function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    return state >> 8;
  };
}
