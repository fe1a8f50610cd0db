import { Code, Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { decodeLength } from '../src/decode.js';
import { random } from './support/random.js';

// The decoder's instruction lengths (derived from the opcode table) against iced-x86 on random byte
// strings, in 16- and 32-bit code. Compared where iced decodes a valid instruction and this CPU
// implements the opcode (decodeLength !== -1). The generator is seeded: failures reproduce.

const STRINGS = 600_000; // per mode
const CHUNK = 50_000;
const STRIDE = 16;


/** Random bytes biased toward prefixes, 0F and ModRM-heavy opcodes, so every path gets exercised. */
function fill(buffer: Uint8Array, next: () => number): void {
  const interesting = [0x0f, 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xc4, 0xc5, 0x62, 0x8f];
  for (let i = 0; i < buffer.length; i++) {
    const r = next();
    buffer[i] = (r & 0x300) === 0 ? interesting[(r >>> 12) & 15] : r & 0xff;
  }
}

describe('decoder lengths against iced-x86', () => {
  for (const bitness of [16, 32] as const) {
    it(`agrees on ${STRINGS} random byte strings in ${bitness}-bit code`, () => {
      const next = random(0x1234567 + bitness);
      const instruction = new Instruction();
      let compared = 0;
      const mismatches: string[] = [];
      for (let done = 0; done < STRINGS; done += CHUNK) {
        const bytes = new Uint8Array(CHUNK * STRIDE);
        fill(bytes, next);
        const decoder = new Decoder(bitness, bytes, DecoderOptions.None);
        try {
          for (let k = 0; k < CHUNK; k++) {
            const at = k * STRIDE;
            const ours = decodeLength((i) => bytes[at + i], bitness === 32);
            if (ours < 0) continue;
            decoder.position = at;
            decoder.decodeOut(instruction);
            if (instruction.code === Code.INVALID) continue;
            compared++;
            if (instruction.length !== ours && mismatches.length < 10) {
              mismatches.push(`${Array.from(bytes.subarray(at, at + 15), (b) => b.toString(16).padStart(2, '0')).join(' ')}: iced ${instruction.length}, ours ${ours}`);
            }
          }
        } finally {
          decoder.free();
        }
      }
      instruction.free();
      expect(mismatches).toEqual([]);
      expect(compared).toBeGreaterThan(STRINGS / 3);
    }, 120_000);
  }
});
