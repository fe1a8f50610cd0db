// A deterministic entropy source for reproducible runs (QEMU's `-seed`): with a virtual clock and
// a fixed RTC, the same seed gives the guest the same "random" bytes, so a whole boot repeats
// instruction for instruction. Not a CSPRNG: anyone who knows the seed knows every byte.

/** Fills buffers from xoshiro128** seeded by SplitMix32 (Blackman and Vigna's published algorithms). */
export function seededEntropy(seed: number): (into: Uint8Array) => void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`an entropy seed is a non-negative integer, not ${seed}`);
  // SplitMix32 over both halves of the seed spreads any seed (0 too) over the 128-bit state.
  let mix = (seed >>> 0) ^ Math.floor(seed / 2 ** 32);
  const next32 = (): number => {
    mix = (mix + 0x9e3779b9) | 0;
    let z = mix;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = new Uint32Array([next32(), next32(), next32(), next32()]);
  const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));
  const word = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  // One byte stream however the guest splits its buffers: a word's unused bytes carry over.
  let current = 0;
  let left = 0;
  return (into: Uint8Array): void => {
    for (let i = 0; i < into.length; i++) {
      if (left === 0) {
        current = word();
        left = 4;
      }
      into[i] = current & 0xff;
      current >>>= 8;
      left--;
    }
  };
}
