import { describe, expect, it } from 'vitest';
import { CS } from '../src/cpu.js';
import { type Mode, interruptedLoop, le32, lockstep, pair, randomInstructions, setupLoop } from './support/block-lockstep.js';
import { CODE, type TestMachine } from './support/machine.js';
import { random } from './support/random.js';

// Code that jumps about its page: loops scattered by JMPs, loops whose head is not where a block
// starts, stores into such code, interrupts, and the same bytes under two CS bases. Each program
// runs on a CPU compiling blocks and on one interpreting, in lockstep with random budgets. (Blocks
// that follow the jumps were tried and measured slower: packages/x86-core/README.md.)

/** A jump from `from` (the jump's own address) to `to`: JMP rel8 when it reaches, else rel16/rel32. */
function jmp(mode: Mode, from: number, to: number): number[] {
  const short = to - (from + 2);
  if (short >= -128 && short < 128) return [0xeb, short & 0xff];
  const wide = mode === 'flat32' ? 4 : 2;
  return [0xe9, ...le32(to - (from + 1 + wide)).slice(0, wide)];
}

/** Jcc `cc` from `from` to `to` (rel8 when it reaches, else 0F 8x rel16/rel32). */
function jcc(mode: Mode, cc: number, from: number, to: number): number[] {
  const short = to - (from + 2);
  if (short >= -128 && short < 128) return [0x70 | cc, short & 0xff];
  const wide = mode === 'flat32' ? 4 : 2;
  return [0x0f, 0x80 | cc, ...le32(to - (from + 2 + wide)).slice(0, wide)];
}

/**
 * A loop scattered over the code page: a prologue, then chunks of random instructions laid out in a
 * random order, each ending in a JMP to the next (now and then a Jcc to a later chunk first, which may
 * lie before it or after it), the last ending in DEC ECX / JNZ to the chunk the loop starts at (not always the
 * first: the head may be inside the block entered at the prologue). Now and then a chunk lies in the
 * next page, where blocks do not follow.
 */
function scatteredLoop(next: () => number, mode: Mode): Map<number, number[]> {
  const chunks = 2 + (next() % 5);
  const bodies = Array.from({ length: chunks }, () => randomInstructions(next, mode, 1 + (next() % 6)));
  // Slots of 0x80 bytes: 1-31 in the code page (slot 0 holds the prologue), 32-33 in the next page.
  const free = Array.from({ length: 31 }, (_, i) => i + 1);
  const far = [32, 33];
  const place = bodies.map(() => CODE + 0x80 * (next() % 8 === 0 && far.length > 0 ? far.pop() as number : free.splice(next() % free.length, 1)[0]));
  const head = next() % chunks;
  const out = new Map<number, number[]>();
  const prologue = randomInstructions(next, mode, next() % 4).flat();
  out.set(CODE, [...prologue, ...jmp(mode, CODE + prologue.length, place[0])]);
  bodies.forEach((body, c) => {
    const code: number[] = [];
    for (const insn of body) {
      if (next() % 4 === 0) code.push(0x70 + (next() & 15), insn.length);
      code.push(...insn);
    }
    if (c < chunks - 1 && next() % 3 === 0) {
      // To a later chunk only (wherever it lies), so every path reaches the DEC ECX.
      const other = place[c + 1 + (next() % (chunks - 1 - c))];
      code.push(...jcc(mode, next() & 15, place[c] + code.length, other));
    }
    if (c < chunks - 1) code.push(...jmp(mode, place[c] + code.length, place[c + 1]));
    else {
      code.push(0x49);
      code.push(...jcc(mode, 5, place[c] + code.length, place[head]), 0xf4);
    }
    out.set(place[c], code);
  });
  return out;
}

describe('blocks in code that jumps about its page', () => {
  for (const mode of ['real', 'flat32'] as const) {
    it(`random loops scattered over a page by jumps give the same state, counts and memory as interpreted (${mode})`, () => {
      const next = random(mode === 'real' ? 71 : 73);
      let compiled = 0;
      for (let program = 0; program < 60; program++) {
        const pieces = scatteredLoop(next, mode);
        const load = setupLoop(mode, [0xf4], Array.from({ length: 8 }, () => next()), Uint8Array.from({ length: 256 }, () => next() & 0xff));
        const [jit, plain] = pair(mode, next() & 1 ? 1 : 40, (m) => {
          load(m);
          // Everything else in the two pages is HLT, so a wild branch stops both the same way.
          m.memory.writeBytes(CODE, new Uint8Array(0x2000).fill(0xf4));
          for (const [at, code] of pieces) m.memory.writeBytes(at, Uint8Array.from(code));
        });
        const reason = lockstep(jit, plain, () => 1 + (next() % 3000), 400, `program ${program}`);
        expect(['hlt', 'exception'], `program ${program}`).toContain(reason);
        compiled += jit.cpu.blockCache?.compiled ?? 0;
      }
      expect(compiled).toBeGreaterThan(60);
    }, 60_000);
  }

  it('a loop whose head is not the block\'s entry runs as interpreted, stopped by every budget', () => {
    for (const mode of ['real', 'flat32'] as const) {
      // mov ax, 5; mov bx, 7; top: add ax, bx; xor bx, ax; jmp over; (hlt); over: dec cx; jnz top; hlt
      const setup = (m: TestMachine): void => {
        m.load([0xb8, 5, 0, ...(mode === 'flat32' ? [0, 0] : []), 0xbb, 7, 0, ...(mode === 'flat32' ? [0, 0] : []),
          0x01, 0xd8, 0x31, 0xc3, 0xeb, 0x01, 0xf4, 0x49, 0x75, 0xf6, 0xf4]);
        m.cpu.reg32[1] = 20000;
      };
      const [jit, plain] = pair(mode, 1, setup);
      const next = random(79);
      expect(lockstep(jit, plain, () => 1 + (next() % 5000), 400, `head ${mode}`)).toBe('hlt');
      expect(jit.cpu.retired).toBe(2 + 20000 * 5 + 1);
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
    }
  });

  it('the decompressor\'s shape, a loop entered at its tail, runs as interpreted', () => {
    // top: mov al, [esi+edi]; and eax, -2; cmp al, 0xe8; lea eax, [edi+1]; jne tail; (rare path) inc ebx; lea eax, [edi+4]
    // tail: mov edi, eax; cmp edi, ecx; jb top; hlt
    const setup = (m: TestMachine): void => {
      m.load([
        0x8a, 0x04, 0x3e, 0x83, 0xe0, 0xfe, 0x3c, 0xe8, 0x8d, 0x47, 0x01, 0x75, 0x04, 0x43, 0x8d, 0x47, 0x04,
        0x89, 0xc7, 0x39, 0xcf, 0x72, 0xe9, 0xf4,
      ]);
      m.memory.writeBytes(0x3000, Uint8Array.from({ length: 0x8000 }, (_, i) => ((i * 7919) % 251 === 0 ? 0xe8 : i & 0xff)));
      m.cpu.reg32[6] = 0x3000;
      m.cpu.reg32[1] = 0x8000;
      m.cpu.eip = CODE + 17;
    };
    const [jit, plain] = pair('flat32', 1, setup);
    const next = random(83);
    expect(lockstep(jit, plain, () => 1 + (next() % 20000), 400, 'bcj')).toBe('hlt');
    expect(jit.cpu.reg32[3]).toBeGreaterThan(50);
    expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
  });

  it('a store into the code of a loop scattered by jumps, ahead of it and behind it, is seen before the stale code runs', () => {
    for (const target of ['ahead', 'behind'] as const) {
      // entry: jmp loop. loop: test cl, 15; jnz +6; mov [add+2], cl; jmp add. add: add eax, imm8 (the
      // byte rewritten every 16th lap); jmp back. back: dec ecx; jnz loop; hlt. The ADD lies after the
      // loop's first chunk ('ahead') or before it ('behind').
      const add = target === 'ahead' ? CODE + 0x300 : CODE + 0x40;
      const loop = CODE + 0x200;
      const back = CODE + 0x280;
      const setup = (m: TestMachine): void => {
        m.memory.writeBytes(CODE, new Uint8Array(0x1000).fill(0xf4));
        m.load(jmp('flat32', CODE, loop));
        m.memory.writeBytes(loop, Uint8Array.from([0xf6, 0xc1, 0x0f, 0x75, 0x06, 0x88, 0x0d, ...le32(add + 2), ...jmp('flat32', loop + 11, add)]));
        m.memory.writeBytes(add, Uint8Array.from([0x83, 0xc0, 0x00, ...jmp('flat32', add + 3, back)]));
        m.memory.writeBytes(back, Uint8Array.from([0x49, ...jcc('flat32', 5, back + 1, loop), 0xf4]));
        m.cpu.reg32[1] = 300;
      };
      const [jit, plain] = pair('flat32', 1, setup);
      const next = random(89);
      expect(lockstep(jit, plain, () => 1 + (next() % 700), 200, `smc ${target}`)).toBe('hlt');
      let sum = 0;
      let imm = 0;
      for (let c = 300; c > 0; c--) {
        if ((c & 15) === 0) imm = (c << 24) >> 24;
        sum += imm;
      }
      expect(jit.cpu.reg32[0]).toBe(sum);
    }
  });

  it('an interrupt arriving during a loop scattered by jumps is taken at the same instruction as interpreted', () => {
    // The controller raises its line on every 5th poll; the loop stores to an unbacked address (the
    // CPU polls after it) in a chunk reached by a backward JMP.
    interruptedLoop((m) => {
      // CODE: jmp 0x1100. 0x1080: mov es:[0x10], bx; jmp 0x1110. 0x1100: add ax, cx; xor bx, ax; jmp 0x1080.
      // 0x1110: dec cx; jnz 0x1100; hlt.
      m.memory.writeBytes(CODE, new Uint8Array(0x200).fill(0xf4));
      m.load(jmp('real', CODE, 0x1100));
      m.memory.writeBytes(0x1080, Uint8Array.from([0x26, 0x89, 0x1e, 0x10, 0x00, ...jmp('real', 0x1085, 0x1110)]));
      m.memory.writeBytes(0x1100, Uint8Array.from([0x01, 0xc8, 0x31, 0xc3, ...jmp('real', 0x1104, 0x1080)]));
      m.memory.writeBytes(0x1110, Uint8Array.from([0x49, ...jcc('real', 5, 0x1111, 0x1100), 0xf4]));
    }, 1, 5, 97);
  });

  it('code run through two CS bases, under one of which a backward JMP wraps, runs as interpreted', () => {
    // At 0x1000: dec cx; jnz 0x1018; hlt. At 0x1018 (the entry): inc ax; add bx, ax; jmp 0x1000.
    // With CS = 0x100 the loop goes through 0x1000; entered at the same bytes with
    // CS = 0x101 (base 0x1010, through a far JMP at 0x1100) the JMP goes to EIP 0xfff0, linear
    // 0x11000, where other code is.
    const setup = (m: TestMachine): void => {
      m.memory.writeBytes(0x1100, Uint8Array.from([0xea, 0x08, 0x00, 0x01, 0x01])); // jmp 0x101:0x0008
      m.memory.writeBytes(0x1000, Uint8Array.from([0x49, 0x75, 0x15, 0xf4]));
      m.memory.writeBytes(0x1018, Uint8Array.from([0x40, 0x01, 0xc3, 0xeb, 0xe3]));
      m.memory.writeBytes(0x11000, Uint8Array.from([0xbe, 0x34, 0x12, 0xf4])); // mov si, 0x1234; hlt
      m.cpu.loadRealSegment(CS, 0x100);
      m.cpu.eip = 0x18;
      m.cpu.reg32[1] = 500;
    };
    const [jit, plain] = pair('real', 1, setup);
    expect(lockstep(jit, plain, () => 100_000, 1, 'first')).toBe('hlt');
    expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
    for (const m of [jit, plain]) {
      m.cpu.eip = 0x100;
      m.cpu.reg32[1] = 500;
      m.cpu.halted = false;
    }
    expect(lockstep(jit, plain, () => 100_000, 1, 'second')).toBe('hlt');
    expect(jit.cpu.reg16[12]).toBe(0x1234);
  });

  it('a 16-bit JMP in 32-bit code back to a block\'s entry truncates EIP instead of looping in the block', () => {
    // At 0x21000: inc eax; dec ecx; jnz (rel32) the entry, 300 laps; then jmp short (66 EB) back to the
    // entry, which goes to EIP 0x1000: mov esi, 0x1234; hlt.
    const setup = (m: TestMachine): void => {
      m.load([0x40, 0x49, 0x0f, 0x85, ...le32(-8), 0x66, 0xeb, -11 & 0xff], 0x21000);
      m.memory.writeBytes(0x1000, Uint8Array.from([0xbe, ...le32(0x1234), 0xf4]));
      m.cpu.reg32[1] = 300;
    };
    // One run, so the laps and the JMP run in the block entered at the top.
    const [jit, plain] = pair('flat32', 1, setup);
    expect(lockstep(jit, plain, () => 100_000, 1, 'jmp16')).toBe('hlt');
    expect(jit.cpu.reg32[6]).toBe(0x1234);
    expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
  });
});
