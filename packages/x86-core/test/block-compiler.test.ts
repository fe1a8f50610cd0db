import { describe, expect, it } from 'vitest';
import { CS, DS, ES, SS } from '../src/cpu.js';
import { MAX_BLOCKS } from '../src/block-cache.js';
import { RECORD } from '../src/decoded-cache.js';
import {
  type Mode, interruptedLoop, le32, lockstep, pair, randomInstructions, setupLoop, state,
} from './support/block-lockstep.js';
import { CODE, createMachine, type TestMachine } from './support/machine.js';
import { random } from './support/random.js';

// The block compiler must be invisible: every program gives the same state, the same instruction
// counts, the same stops and the same memory with compiled blocks as with the interpreter alone,
// whatever the budget of each run() — a block never runs past a budget, a fault inside a block looks
// like the interpreter's, and events (interrupts, MMIO, writes to code) are taken where the
// interpreter takes them.

/** Opcodes the compiler handles, over-represented in random programs (as the decode-cache test does). */
const BIASED = [
  0x01, 0x03, 0x29, 0x31, 0x39, 0x89, 0x8b, 0x8d, 0x83, 0x40, 0x50, 0x58, 0x74, 0x75, 0xc1, 0x66,
  0xf7, 0xf6, 0xff, 0xfe, 0x87, 0x86, 0x93, 0x98, 0x99, 0x0f, 0x0f, 0x0f, 0x69, 0x6b, 0xd3, 0xe8,
  0x11, 0x19, 0x21, 0x09, 0x3b, 0x85, 0xa9, 0xc7, 0xb8, 0x48, 0x7c, 0x72, 0xeb, 0xc3, 0x88, 0x8a,
  0xc9, 0x55, 0x5d,
];

/**
 * Structured random loops: a body of random instructions (`randomInstructions`), forward Jcc over the
 * next instruction, a CALL to a small subroutine, then DEC ECX / JNZ. Real mode gets the 16-bit meaning.
 */
function loopProgram(next: () => number, mode: Mode): number[] {
  const body = randomInstructions(next, mode, 4 + (next() % 24));
  const code: number[] = [];
  for (const insn of body) {
    // Now and then a conditional branch over the instruction: a side exit of the block.
    if (next() % 5 === 0) code.push(0x70 + (next() & 15), insn.length);
    code.push(...insn);
  }
  // CALL sub (placed after the loop) in half the programs; in the others the whole loop may be one
  // block, which then runs laps inside itself. DEC ECX, JNZ top (rel32 in 32-bit code, rel16 in 16-bit).
  const withCall = (next() & 1) === 0;
  const callAt = code.length;
  code.push(0xe8, ...(mode === 'flat32' ? [0, 0, 0, 0] : [0, 0]));
  const callEnd = code.length;
  code.push(0x49);
  code.push(0x0f, 0x85);
  const rel = -(code.length + (mode === 'flat32' ? 4 : 2));
  code.push(...le32(rel).slice(0, mode === 'flat32' ? 4 : 2));
  code.push(0xf4);
  const sub = code.length;
  const relSub = sub - callEnd;
  code.splice(callAt + 1, mode === 'flat32' ? 4 : 2, ...le32(relSub).slice(0, mode === 'flat32' ? 4 : 2));
  code.push(0x31, 0xd8, 0x01, 0xc5, 0xc3); // sub: xor eax, ebx; add ebp, eax; ret
  // Without the call: the same bytes, with the CALL turned into NOPs.
  if (!withCall) code.fill(0x90, callAt, callEnd);
  return code;
}

describe('block compiler', () => {
  for (const mode of ['real', 'flat32'] as const) {
    it(`random loops give the same state, counts and memory as the interpreter (${mode})`, () => {
      const next = random(mode === 'real' ? 41 : 43);
      let compiled = 0;
      for (let program = 0; program < 40; program++) {
        const code = loopProgram(next, mode);
        const regs = Array.from({ length: 8 }, () => next());
        const data = Uint8Array.from({ length: 256 }, () => next() & 0xff);
        const [jit, plain] = pair(mode, 40, setupLoop(mode, code, regs, data));
        const reason = lockstep(jit, plain, () => 1 + (next() % 3000), 400, `program ${program}`);
        expect(['hlt', 'exception'], `program ${program}`).toContain(reason);
        compiled += jit.cpu.blockCache?.compiled ?? 0;
      }
      expect(compiled).toBeGreaterThan(40);
    }, 60_000);

    it(`random bytes compiled at once give the same state as the interpreter, whatever the budgets (${mode})`, () => {
      const next = random(mode === 'real' ? 51 : 53);
      let ran = 0;
      for (let program = 0; program < 60; program++) {
        const code = new Uint8Array(0x10000);
        for (let i = 0; i < code.length; i++) {
          const r = next();
          code[i] = (r & 3) !== 0 ? BIASED[(r >>> 4) % BIASED.length] : (r >>> 8) & 0xff;
        }
        const regs = Array.from({ length: 8 }, () => next());
        const eip = next() & 0xfff0;
        const intercept = (next() & 1) === 0;
        const [jit, plain] = pair(mode, 1, (m) => {
          m.memory.writeBytes(0, code);
          regs.forEach((v, r) => (m.cpu.reg32[r] = v));
          m.cpu.reg32[4] = mode === 'real' ? 0x8000 : 0x80000;
          if (mode === 'real') for (const s of [DS, ES, SS]) m.cpu.loadRealSegment(s, 0);
          m.cpu.eip = eip;
          if (intercept) m.cpu.intercepts.exceptions = -1;
        });
        lockstep(jit, plain, () => 1 + (next() % 40), 150, `program ${program}`);
        ran += jit.cpu.blockCache?.compiled ?? 0;
      }
      expect(ran).toBeGreaterThan(20);
    }, 60_000);
  }

  it('random bytes under random page tables, descriptor tables and user mode match the interpreter', () => {
    // As the hostile fuzz test does it: PDE 0 maps the first 4 MiB (PSE, user, writable), the other
    // PDEs are random, so do the GDT/IDT registers; half the programs run at CPL 3.
    const next = random(57);
    let ran = 0;
    for (let program = 0; program < 60; program++) {
      const code = new Uint8Array(0x10000);
      for (let i = 0; i < code.length; i++) {
        const r = next();
        code[i] = (r & 3) !== 0 ? BIASED[(r >>> 4) % BIASED.length] : (r >>> 8) & 0xff;
      }
      const regs = Array.from({ length: 8 }, () => next());
      const tables = [next() & 0xffff, next() & 0xffff, next() & 0xffff, next() & 0x7ff];
      const eip = next() & 0xfff0;
      const user = (next() & 1) === 0;
      const [jit, plain] = pair('flat32', 1, (m) => {
        m.memory.writeBytes(0, code);
        regs.forEach((v, r) => (m.cpu.reg32[r] = v));
        m.cpu.reg32[4] = 0x80000;
        [m.cpu.gdtrBase, m.cpu.gdtrLimit, m.cpu.idtrBase, m.cpu.idtrLimit] = tables;
        m.memory.writeBytes(0xf000, Uint8Array.from(le32(0x87)));
        m.cpu.cr3 = 0xf000;
        m.cpu.cr4 = 0x10;
        m.cpu.cr0 |= 0x80000000;
        if (user) {
          m.cpu.cpl = 3;
          for (const s of [CS, DS, ES, SS]) m.cpu.segAccess[s] |= 0x60;
        }
        m.cpu.modeChanged();
        m.cpu.eip = eip;
        m.cpu.intercepts.exceptions = -1;
      });
      // After an intercepted exception the VMM resumes past it, so the program runs on.
      lockstep(jit, plain, () => 1 + (next() % 40), 150, `program ${program}`, () => {
        for (const m of [jit, plain]) if (m.cpu.stop.reason === 'exception') m.cpu.skipInstruction(1);
      }, true);
      ran += jit.cpu.blockCache?.compiled ?? 0;
    }
    expect(ran).toBeGreaterThan(10);
  }, 60_000);

  for (const variant of ['not-present', 'read-only'] as const) {
    it(`a #PF inside a hot block (${variant} page) stops at the faulting instruction with CR2, error code and count as interpreted`, () => {
      // Paging: 4 KiB pages identity-mapped over the first MiB; page 0x5000 is not present, or present
      // but read-only with CR0.WP (then the ADD's read succeeds and its write faults, after the flags
      // were computed). The loop walks ESI up through memory until it reaches 0x5000.
      const setup = (m: TestMachine): void => {
        const pt = 0x9000;
        m.memory.writeBytes(0x8000, Uint8Array.from(le32(pt | 7)));
        const page5 = variant === 'not-present' ? 0 : 0x5005;
        for (let p = 0; p < 256; p++) m.memory.writeBytes(pt + p * 4, Uint8Array.from(le32(p === 5 ? page5 : (p << 12) | 7)));
        m.memory.writeBytes(0x4000, Uint8Array.from({ length: 0x2000 }, (_, i) => (i * 37) & 0xff));
        m.cpu.cr3 = 0x8000;
        m.cpu.cr0 |= 0x80010000;
        m.cpu.modeChanged();
        m.load([
          0xf6, 0xc1, 0x01, // test cl, 1
          0x74, 0x01, //       jz +1       (a branch inside the block: skips the INC when ECX is even)
          0x47, //             inc edi
          0x8b, 0x06, //       mov eax, [esi]
          0x01, 0xc3, //       add ebx, eax
          0x01, 0x1e, //       add [esi], ebx
          0x53, //             push ebx
          0x5a, //             pop edx
          0x83, 0xc6, 0x04, // add esi, 4
          0x49, //             dec ecx
          0x75, 0xec, //       jnz top
          0xf4,
        ]);
        m.cpu.reg32[1] = 0x10000;
        m.cpu.reg32[6] = 0x4000;
        m.cpu.intercepts.exceptions = 1 << 14;
      };
      const [jit, plain] = pair('flat32', 40, setup);
      const next = random(61);
      expect(lockstep(jit, plain, () => 1 + (next() % 500), 100, '#PF')).toBe('exception');
      expect(jit.cpu.stop.vector).toBe(14);
      expect(jit.cpu.stop.errorCode).toBe(variant === 'not-present' ? 0 : 3);
      expect(jit.cpu.cr2).toBe(0x5000);
      expect(jit.cpu.eip).toBe(variant === 'not-present' ? CODE + 6 : CODE + 10);
      // 1024 laps of 10 instructions, 512 of them with the INC; in the faulting lap (ECX even) TEST and
      // JZ, then the faulting instruction, which counts against the budget as the interpreter counts it.
      expect(jit.cpu.retired).toBe(1024 * 10 + 512 + (variant === 'not-present' ? 3 : 5));
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
    });
  }

  it('MOV to and from a bare offset (A0-A3, with a segment override) and PAUSE run in blocks as interpreted', () => {
    for (const mode of ['real', 'flat32'] as const) {
      const wide = mode === 'flat32';
      const moffs = (v: number): number[] => le32(v).slice(0, wide ? 4 : 2);
      const setup = (m: TestMachine): void => {
        // top: mov eax, [0x3000]; add eax, ecx; mov [0x3004], eax; mov al, fs:[0x10]; add [0x3008], al;
        // (add byte [moffs]: 00 05/06 ..) pause; dec ecx; jnz top; hlt
        m.load([
          0xa1, ...moffs(0x3000),
          0x01, 0xc8,
          0xa3, ...moffs(0x3004),
          0x64, 0xa0, ...moffs(0x10),
          0x66, 0xa3, ...moffs(0x3010),
          0xf3, 0x90,
          0x49,
          0x0f, 0x85, ...moffs(0),
          0xf4,
        ]);
        const code = Array.from(m.memory.ram.subarray(CODE, CODE + 40));
        const jnz = code.indexOf(0x85, 10) + 1 + (wide ? 4 : 2);
        m.memory.writeBytes(CODE + jnz - (wide ? 4 : 2), Uint8Array.from(moffs(-jnz)));
        m.memory.writeBytes(0x3000, Uint8Array.from(le32(0x11223344)));
        m.memory.writeBytes(0x5010, Uint8Array.from([0x5a]));
        m.cpu.segBase[4] = 0x5000; // FS
        if (!wide) for (const s of [DS, ES, SS]) m.cpu.loadRealSegment(s, 0);
        m.cpu.reg32[1] = 500;
      };
      const [jit, plain] = pair(mode, 40, setup);
      const next = random(141);
      expect(lockstep(jit, plain, () => 1 + (next() % 300), 400, `moffs ${mode}`)).toBe('hlt');
      expect(jit.cpu.reg8[0]).toBe(0x5a);
      expect(jit.memory.read32(0x3004)).toBe(wide ? 0x11223345 : 0x3345);
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
      // The records themselves against the full decoder.
      const decoder = createMachine(mode, undefined, false, false);
      setup(decoder);
      expect(decoder.cpu.run(100_000)).toBe('hlt');
      expect(state(decoder.cpu)).toBe(state(jit.cpu));
      expect(Buffer.from(decoder.memory.ram).equals(Buffer.from(jit.memory.ram))).toBe(true);
    }
  });

  it('RDTSC inside blocks and laps reads the count the interpreter reads', () => {
    for (const mode of ['real', 'flat32'] as const) {
      const setup = (m: TestMachine): void => {
        // top: rdtsc; mov ebx, eax; pause; rdtsc; sub eax, ebx; add esi, eax; add edi, edx; dec ecx; jnz top; hlt
        m.load([0x0f, 0x31, 0x66, 0x89, 0xc3, 0xf3, 0x90, 0x0f, 0x31, 0x66, 0x29, 0xd8, 0x66, 0x01, 0xc6, 0x66, 0x01, 0xd7,
          0x49, 0x75, 0xeb, 0xf4].map((v, i, a) => (mode === 'flat32' && v === 0x66 && a[i + 1] !== 0x90 ? 0x90 : v)));
        m.cpu.reg32[1] = 3000;
        m.cpu.tscOffset = 0x1fffff000;
      };
      const [jit, plain] = pair(mode, 40, setup);
      const next = random(151);
      expect(lockstep(jit, plain, () => 1 + (next() % 500), 400, `rdtsc ${mode}`)).toBe('hlt');
      expect(jit.cpu.reg32[6]).toBe(3000 * (mode === 'flat32' ? 4 : 3)); // flat32: the 66 prefixes became NOPs
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
      const decoder = createMachine(mode, undefined, false, false);
      setup(decoder);
      expect(decoder.cpu.run(1_000_000)).toBe('hlt');
      expect(state(decoder.cpu)).toBe(state(jit.cpu));
    }
  });

  it('RDTSC after a forward branch skipped an instruction of the block reads the count the interpreter reads', () => {
    // top: test cl, 1; jz +1; inc edi; rdtsc; add esi, eax; dec ecx; jnz top; hlt
    const setup = (m: TestMachine): void => {
      m.load([0xf6, 0xc1, 0x01, 0x74, 0x01, 0x47, 0x0f, 0x31, 0x01, 0xc6, 0x49, 0x75, 0xf3, 0xf4]);
      m.cpu.reg32[1] = 3000;
    };
    const [jit, plain] = pair('flat32', 40, setup);
    const next = random(153);
    expect(lockstep(jit, plain, () => 1 + (next() % 500), 400, 'rdtsc skip')).toBe('hlt');
    expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
  });

  it('LEAVE in a hot epilogue, and a LEAVE whose pop faults, match the interpreter', () => {
    for (const variant of ['runs', 'faults'] as const) {
      const setup = (m: TestMachine): void => {
        if (variant === 'runs') {
          // top: call f; dec ecx; jnz top; hlt.
          // f: push ebp; mov ebp, esp; sub esp, 8; mov [ebp-4], ecx; add eax, [ebp-4]; leave; ret.
          m.load([
            0xe8, 0x04, 0x00, 0x00, 0x00, 0x49, 0x75, 0xf8, 0xf4,
            0x55, 0x89, 0xe5, 0x83, 0xec, 0x08, 0x89, 0x4d, 0xfc, 0x03, 0x45, 0xfc, 0xc9, 0xc3,
          ]);
          m.cpu.reg32[1] = 2000;
          return;
        }
        // top: mov ebp, esi; leave (ESP = ESI, pop EBP from [ESI]); sub esi, 8; mov esp, 0x80000;
        // dec ecx; jnz top. ESI walks down into page 0x70000, which is not present.
        m.load([0x89, 0xf5, 0xc9, 0x83, 0xee, 0x08, 0xbc, ...le32(0x80000), 0x49, 0x75, 0xf2, 0xf4]);
        const pt = 0x9000;
        m.memory.writeBytes(0x8000, Uint8Array.from(le32(pt | 7)));
        for (let p = 0; p < 256; p++) m.memory.writeBytes(pt + p * 4, Uint8Array.from(le32(p === 0x70 ? 0 : (p << 12) | 7)));
        m.cpu.cr3 = 0x8000;
        m.cpu.cr0 |= 0x80000000;
        m.cpu.modeChanged();
        m.cpu.reg32[1] = 0x10000;
        m.cpu.reg32[6] = 0x72000;
        m.cpu.intercepts.exceptions = -1;
      };
      const [jit, plain] = pair('flat32', 40, setup);
      const next = random(131);
      expect(lockstep(jit, plain, () => 1 + (next() % 400), 400, `leave ${variant}`)).toBe(variant === 'runs' ? 'hlt' : 'exception');
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
      if (variant === 'runs') expect(jit.cpu.reg32[0]).toBe((2000 * 2001) / 2);
      else {
        expect([jit.cpu.stop.vector, jit.cpu.cr2 >>> 0]).toEqual([14, 0x70ff8]);
        expect(jit.cpu.reg32[4]).toBe(0x80000);
      }
    }
  });

  it('a RET or CALL whose target is past CS\'s limit faults with ESP as it was before the instruction', () => {
    for (const variant of ['ret', 'call'] as const) {
      // The loop returns (or calls) through a table of targets; the last lies past CS's limit.
      const setup = (m: TestMachine): void => {
        m.load([
          0x8b, 0x06, //             mov eax, [esi]
          0x83, 0xc6, 0x04, //       add esi, 4
          ...(variant === 'ret' ? [0x50, 0xc3] : [0xff, 0xd0]), // push eax; ret   |   call eax
          0xf4,
        ]);
        // Target: a stub that (for CALL) drops the return address and jumps back to the top.
        const stub = 0x1800;
        m.memory.writeBytes(stub, Uint8Array.from(variant === 'ret' ? [0xe9, ...le32(CODE - (stub + 5))] : [0x5b, 0xe9, ...le32(CODE - (stub + 6))]));
        for (let i = 0; i < 100; i++) m.memory.writeBytes(0x3000 + 4 * i, Uint8Array.from(le32(i === 99 ? 0x30000 : stub)));
        m.cpu.segLimit[CS] = 0x1ffff;
        m.cpu.reg32[6] = 0x3000;
        m.cpu.intercepts.exceptions = -1;
      };
      const [jit, plain] = pair('flat32', 10, setup);
      const next = random(67);
      expect(lockstep(jit, plain, () => 1 + (next() % 100), 100, variant)).toBe('exception');
      expect(jit.cpu.stop.vector).toBe(13);
      expect(jit.cpu.reg32[4]).toBe(variant === 'ret' ? 0x80000 - 4 : 0x80000);
      expect(jit.cpu.eip).toBe(CODE + 5 + (variant === 'ret' ? 1 : 0));
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
    }
  });

  it('a near CALL past CS\'s limit with no room on the stack raises #GP(0) before its push, in every tier', () => {
    // SDM "CALL" (Operation): the target's limit check comes before the stack check. Two NOPs, then
    // CALL rel32, CALL EAX or CALL [ESI] to 0x30000 (past CS's limit of 0x1ffff), with ESP at the
    // expand-down stack's limit, so the push would raise #SS. Blocks are compiled on their first run.
    const calls: [string, number[]][] = [['rel32', [0xe8, ...le32(0x30000 - (CODE + 7))]], ['eax', [0xff, 0xd0]], ['[esi]', [0xff, 0x16]]];
    for (const [name, insn] of calls) {
      for (const [decoded, blocks] of [[false, false], [true, false], [true, true]]) {
        const m = createMachine('flat32', undefined, decoded, blocks);
        if (m.cpu.blockCache !== null) m.cpu.blockCache.hotRuns = 0;
        m.load([0x90, 0x90, ...insn, 0xf4]);
        m.memory.writeBytes(0x3000, Uint8Array.from(le32(0x30000)));
        m.cpu.reg32[0] = 0x30000;
        m.cpu.reg32[6] = 0x3000;
        m.cpu.segLimit[CS] = 0x1ffff;
        m.cpu.reg32[4] = 0x70000;
        m.cpu.segLimit[SS] = 0x70000;
        m.cpu.segAccess[SS] = 0xc097;
        m.cpu.intercepts.exceptions = -1;
        const label = `call ${name}, decoded ${decoded}, blocks ${blocks}`;
        expect(m.cpu.run(10), label).toBe('exception');
        expect([m.cpu.stop.vector, m.cpu.stop.errorCode, m.cpu.eip, m.cpu.reg32[4], m.cpu.retired], label).toEqual([13, 0, CODE + 2, 0x70000, 3]);
        if (blocks) expect(m.cpu.blockCache?.compiled, label).toBeGreaterThan(0);
      }
    }
  });

  it('a read through an execute-only CS raises #GP(0) in every tier, hot inline blocks and string instructions included', () => {
    // SDM Vol. 3A 5.4.1: an execute-only code segment cannot be read, a CS override included. The loop
    // reads [ESI] through DS and CS (mov eax, [esi]; mov ebx, cs:[esi]; cs: lodsb; dec esi; dec ecx;
    // jnz) while CS is readable, hot enough to be compiled with inline accesses; then CS becomes
    // execute-only (type 9) and the next CS read must fault.
    const loop = [0x8b, 0x06, 0x2e, 0x8b, 0x1e, 0x2e, 0xac, 0x4e, 0x49, 0x75, 0xf5, 0xf4];
    for (const [decoded, blocks] of [[false, false], [true, false], [true, true]]) {
      const label = `decoded ${decoded}, blocks ${blocks}`;
      const m = createMachine('flat32', undefined, decoded, blocks);
      if (m.cpu.blockCache !== null) {
        m.cpu.blockCache.hotRuns = 2;
        m.cpu.blockCache.inlineRuns = 2;
      }
      m.load(loop);
      m.memory.writeBytes(0x3000, Uint8Array.from(le32(0x11223344)));
      m.cpu.reg32[1] = 1000;
      m.cpu.reg32[6] = 0x3000;
      m.cpu.intercepts.exceptions = -1;
      expect(m.cpu.run(300), label).toBe('budget');
      expect(m.cpu.reg32[1], label).toBe(1000 - 50);
      m.cpu.segAccess[CS] = 0xc099;
      expect(m.cpu.run(300), label).toBe('exception');
      expect([m.cpu.stop.vector, m.cpu.stop.errorCode, m.cpu.eip, m.cpu.reg32[1]], label).toEqual([13, 0, CODE + 2, 1000 - 50]);
      m.cpu.skipInstruction(3);
      expect(m.cpu.run(1), label).toBe('exception');
      expect([m.cpu.stop.vector, m.cpu.eip], label).toEqual([13, CODE + 5]);
      if (blocks) expect(m.cpu.blockCache?.compiled, label).toBeGreaterThan(1);
    }
  });

  it('conditions after every flag producer, size and boundary operand agree with the interpreter', () => {
    const values = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678, 0xfffffffe];
    // Producers of flags from EAX and EBX: [dword form, byte form, word form when its immediate differs].
    const producers: [number[], number[], number[]?][] = [
      [[0x01, 0xd8], [0x00, 0xd8]], [[0x29, 0xd8], [0x28, 0xd8]], [[0x39, 0xd8], [0x38, 0xd8]], [[0x21, 0xd8], [0x20, 0xd8]],
      [[0x09, 0xd8], [0x08, 0xd8]], [[0x31, 0xd8], [0x30, 0xd8]], [[0x85, 0xd8], [0x84, 0xd8]], [[0x40], [0xfe, 0xc0]],
      [[0x48], [0xfe, 0xc8]], [[0x11, 0xd8], [0x10, 0xd8]], [[0x19, 0xd8], [0x18, 0xd8]], [[0xf7, 0xd8], [0xf6, 0xd8]],
      [[0x83, 0xf8, 0x80], [0x80, 0xf8, 0x80]], [[0x3d, ...le32(0x80000000)], [0x3c, 0x80], [0x3d, 0x00, 0x80]],
      [[0xa9, ...le32(0x80)], [0xa8, 0x80], [0xa9, 0x80, 0x00]],
    ];
    const next = random(111);
    for (let program = 0; program < 12; program++) {
      const code: number[] = [0xbf, ...le32(0x3000)]; // mov edi, 0x3000
      for (let i = 0; i < 120; i++) {
        const [dword, byte, word] = producers[next() % producers.length];
        const size = next() % 3;
        const cc = next() & 15;
        code.push(0xb8, ...le32(values[next() % values.length]), 0xbb, ...le32(values[next() % values.length]));
        // A CF to consume for ADC/SBB, from an earlier compare.
        code.push(0x39, 0xc3);
        code.push(...(size === 0 ? byte : size === 1 ? [0x66, ...(word ?? dword)] : dword));
        code.push(0x0f, 0x90 + cc, 0xc2); //     setcc dl
        code.push(0x70 + cc, 0x01, 0x42); //     jcc +1; inc edx
        code.push(0x0f, 0x40 + (cc ^ 1), 0xd3); // cmovncc edx, ebx
        code.push(0x89, 0x17, 0x83, 0xc7, 0x04); // mov [edi], edx; add edi, 4
      }
      code.push(0x49, 0x0f, 0x85, ...le32(-(code.length + 7)), 0xf4); // dec ecx; jnz top; hlt
      const [jit, plain] = pair('flat32', 1, (m) => {
        m.load(code);
        m.cpu.reg32[1] = 3;
      });
      expect(lockstep(jit, plain, () => 100_000, 5, `program ${program}`)).toBe('hlt');
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
    }
  });

  it('a push that faults inside a block rolls ESP back; a #GP past a segment limit is exact', () => {
    for (const variant of ['stack', 'limit'] as const) {
      const setup = (m: TestMachine): void => {
        m.load([
          0x89, 0x03, //       mov [ebx], eax
          0x40, //             inc eax
          0x50, //             push eax
          0x83, 0xc3, 0x04, // add ebx, 4
          0x49, //             dec ecx
          0x75, 0xf6, //       jnz top
          0xf4,
        ]);
        m.cpu.reg32[1] = 0x10000;
        m.cpu.reg32[3] = 0x20000;
        // The stack or DS ends in a limit: push faults with #SS, the store with #GP.
        if (variant === 'stack') {
          m.cpu.reg32[4] = 0x70200;
          m.cpu.segLimit[SS] = 0x70000;
          m.cpu.segAccess[SS] = 0xc097; // expand-down: valid offsets above the limit
        } else m.cpu.segLimit[DS] = 0x20400 - 1;
        m.cpu.intercepts.exceptions = -1;
      };
      const [jit, plain] = pair('flat32', 40, setup);
      const next = random(71);
      expect(lockstep(jit, plain, () => 1 + (next() % 300), 200, variant)).toBe('exception');
      expect(jit.cpu.stop.vector).toBe(variant === 'stack' ? 12 : 13);
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
    }
  });

  it('PUSH and CALL through FF /6 and FF /2 with a register operand fault at their own instruction', () => {
    // mov bh, 8Dh; push esi (FF F6); dec ecx; jnz top: the push (no memory operand, but a stack write)
    // reaches the expand-down stack's limit after a few hundred laps. Then the same with call esi.
    for (const [name, op] of [['push', 0xf6], ['call', 0xd6]] as const) {
      const setup = (m: TestMachine): void => {
        m.load([0xb7, 0x8d, 0xff, op, 0x49, 0x75, 0xf9, 0xf4]);
        m.cpu.reg32[1] = 0x10000;
        m.cpu.reg32[6] = CODE + 4; // call esi lands on dec ecx
        m.cpu.reg32[4] = 0x70800;
        m.cpu.segLimit[SS] = 0x70000;
        m.cpu.segAccess[SS] = 0xc097;
        m.cpu.intercepts.exceptions = -1;
      };
      const [jit, plain] = pair('flat32', 4, setup);
      const next = random(73);
      expect(lockstep(jit, plain, () => 1 + (next() % 300), 200, name)).toBe('exception');
      expect([jit.cpu.stop.vector, jit.cpu.eip]).toEqual([12, CODE + 2]);
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
    }
  });

  it('faults delivered through the IVT from inside blocks, and a divide error, match the interpreter', () => {
    // Real mode: #DE handler at 0:0x2000 sets BX and returns past the DIV.
    const setup = (m: TestMachine): void => {
      m.memory.writeBytes(0, Uint8Array.from([0x00, 0x20, 0x00, 0x00]));
      m.memory.writeBytes(0x2000, Uint8Array.from([
        0x43, //             inc bx
        0x89, 0xe5, //       mov bp, sp
        0x83, 0x46, 0x00, 0x02, // add word [bp+0], 2 (skip the 2-byte DIV)
        0xcf, //             iret
      ]));
      m.load([
        0x89, 0xc8, //       mov ax, cx
        0x31, 0xd2, //       xor dx, dx
        0x83, 0xe0, 0x07, // and ax, 7
        0x89, 0xc7, //       mov di, ax
        0xf7, 0xf7, //       div di      (#DE when CX is a multiple of 8)
        0x01, 0xc6, //       add si, ax
        0x49, //             dec cx
        0x75, 0xf0, //       jnz top
        0xf4,
      ]);
      m.cpu.reg32[1] = 500;
      m.cpu.reg32[3] = 0;
    };
    const [jit, plain] = pair('real', 40, setup);
    const next = random(81);
    expect(lockstep(jit, plain, () => 1 + (next() % 700), 400, '#DE')).toBe('hlt');
    expect(jit.cpu.reg16[6]).toBe(Math.floor(500 / 8));
    expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
  });

  it('an interrupt arriving while hot blocks run is taken at the same instruction as interpreted', () => {
    // The controller raises its line on every 7th poll. The CPU polls at run() entry and after each
    // access to non-RAM (here a store to an unbacked address above 1 MiB), so a block must stop
    // right after that store, as the interpreter's loop does.
    interruptedLoop((m) => {
      m.load([
        0x01, 0xc8, //             add ax, cx
        0x31, 0xc3, //             xor bx, ax
        0x89, 0x1e, 0x00, 0x07, // mov [0x700], bx
        0x26, 0x89, 0x1e, 0x10, 0x00, // mov es:[0x10], bx   (ES=0xffff: 0x100000, not RAM)
        0x41, //                   inc cx
        0x49, //                   dec cx
        0x49, //                   dec cx
        0x75, 0xee, //             jnz top
        0xf4,
      ]);
    }, 40, 7, 91);
  });

  for (const variant of ['paging off', 'paging on', 'user pages', 'expand-down DS'] as const) {
    it(`inline memory accesses (${variant}): page-crossing, unaligned, MMIO, unbacked and code-page addresses as interpreted`, () => {
      // Each lap loads ESI and EDI from a table, then reads and read-modify-writes dwords, words and
      // bytes there: aligned, unaligned, across a page end, in an MMIO window (whose reads count, so
      // a repeated or skipped access shows), past RAM, and into the code page beside the loop.
      const next = random(variant.length * 7 + 3);
      const places = [0x3ffc, 0x3ffd, 0x3ffe, 0x4fff, 0x5000, 0x7ff8, 0x200000, 0x200ffe, 0x300000, 0x100ffd, CODE + 0x40, CODE + 0xffd];
      const table = Array.from({ length: 1024 }, () => {
        const r = next();
        return (r & 1) !== 0 ? places[(r >>> 1) % places.length] : 0x20000 + ((r >>> 4) & 0x3ffff);
      });
      const mmio = (log: number[]) => ({
        mmioRead: (offset: number, size: number) => {
          log.push(offset, size);
          return (log.length * 0x01010101 + offset) >>> 0;
        },
        mmioWrite: (offset: number, size: number, value: number) => { log.push(offset, size, value >>> 0); },
      });
      const logs = new Map<TestMachine, number[]>();
      const setup = (m: TestMachine): void => {
        const log: number[] = [];
        logs.set(m, log);
        m.memory.addMmio(0x200000, 0x1000, mmio(log));
        m.load([
          0x8b, 0x33, //             mov esi, [ebx]
          0x8b, 0x7b, 0x04, //       mov edi, [ebx+4]
          0x83, 0xc3, 0x08, //       add ebx, 8
          0x8b, 0x06, //             mov eax, [esi]
          0x01, 0x07, //             add [edi], eax
          0x66, 0x8b, 0x56, 0x01, // mov dx, [esi+1]
          0x66, 0x89, 0x57, 0x05, // mov [edi+5], dx
          0x8a, 0x46, 0x03, //       mov al, [esi+3]
          0x28, 0x47, 0x02, //       sub [edi+2], al
          0x49, //                   dec ecx
          0x75, 0xe3, //             jnz top
          0xf4,
        ]);
        table.forEach((v, i) => m.memory.writeBytes(0x10000 + 4 * i, Uint8Array.from(le32(v))));
        m.cpu.reg32[3] = 0x10000;
        m.cpu.reg32[1] = 500;
        m.cpu.intercepts.exceptions = -1;
        if (variant === 'paging on' || variant === 'user pages') {
          // PDE 0 maps the first 4 MiB (PSE, writable; user for the user variant, run at CPL 3).
          m.memory.writeBytes(0xf000, Uint8Array.from(le32(variant === 'user pages' ? 0x87 : 0x83)));
          m.cpu.cr3 = 0xf000;
          m.cpu.cr4 = 0x10;
          m.cpu.cr0 |= 0x80000000;
          if (variant === 'user pages') {
            m.cpu.cpl = 3;
            for (const s of [CS, DS, ES, SS]) m.cpu.segAccess[s] |= 0x60;
          }
          m.cpu.modeChanged();
        } else if (variant === 'expand-down DS') {
          // Valid offsets lie above the limit: the entries in the code page fault (#GP, intercepted).
          m.cpu.segAccess[DS] = 0xc097;
          m.cpu.segLimit[DS] = 0x1fff;
        }
      };
      const [jit, plain] = pair('flat32', 1, setup);
      const runs = 1 + (next() % 200);
      const reason = lockstep(jit, plain, () => 1 + (next() % runs), 2000, variant);
      expect(logs.get(jit)).toEqual(logs.get(plain));
      expect(logs.get(jit)!.length).toBeGreaterThan(variant === 'expand-down DS' ? 0 : 100);
      // At CPL 3 the final HLT raises #GP; with the expand-down DS an access at CODE does.
      expect(reason).toBe(variant === 'paging off' || variant === 'paging on' ? 'hlt' : 'exception');
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(1);
    });
  }

  const STORES: [string, number[]][] = [
    ['mov [esi], eax', [0x89, 0x06]], ['add [esi], eax', [0x01, 0x06]],
    ['adc [esi], ax', [0x66, 0x11, 0x06]], ['inc byte [esi]', [0xfe, 0x06]],
  ];
  for (const [name, bytes] of STORES) {
    it(`an inline ${name} through a segment that became read-only raises #GP(0) as interpreted`, () => {
      // <store>; dec ecx; jnz top: hot and compiled with inline accesses while DS is writable, then
      // DS's hidden access rights become read-only data (as a guest loading such a selector leaves them).
      const setup = (m: TestMachine): void => {
        m.load([...bytes, 0x49, 0x75, (-(bytes.length + 3)) & 0xff, 0xf4]);
        m.cpu.reg32[6] = 0x3000;
        m.cpu.reg32[1] = 1_000_000;
        m.cpu.intercepts.exceptions = -1;
      };
      const [jit, plain] = pair('flat32', 4, setup);
      const readOnly = (run: number): void => {
        if (run === 20) for (const m of [jit, plain]) m.cpu.segAccess[DS] = 0xc091;
      };
      expect(lockstep(jit, plain, () => 1000, 40, `${name}, read-only DS`, readOnly)).toBe('exception');
      expect([jit.cpu.stop.vector, jit.cpu.stop.errorCode, jit.cpu.eip]).toEqual([13, 0, CODE]);
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(0);
    });
  }

  it('inline accesses take the limits and access rights DS has at each block entry, up to the last byte', () => {
    // Dword, word and byte reads and writes at [ESI], [ESI+4] .. [ESI+13]; between runs DS gets a
    // limit around those offsets (each access just fitting or one byte over), 4 GiB, or one near
    // 4 GiB with ESI there, and writable, read-only, expand-down, code or unusable access rights.
    // The hot block's inline accesses compute their limits at entry, so every boundary must come
    // out as the interpreter's checks have it: the same faults at the same instructions.
    const accesses = [
      [0x8b, 0x06], [0x01, 0x46, 0x04], //              top: mov eax, [esi]; add [esi+4], eax
      [0x66, 0x8b, 0x56, 0x08], [0x66, 0x89, 0x56, 0x0a], // mov dx, [esi+8]; mov [esi+10], dx
      [0x8a, 0x5e, 0x0c], [0x88, 0x5e, 0x0d], //        mov bl, [esi+12]; mov [esi+13], bl
    ].flat();
    const setup = (m: TestMachine): void => {
      m.load([...accesses, 0x49, 0x75, (-(accesses.length + 3)) & 0xff, 0xf4]); // dec ecx; jnz top; hlt
      m.cpu.reg32[1] = 1_000_000;
      m.cpu.intercepts.exceptions = -1;
    };
    const [jit, plain] = pair('flat32', 2, setup);
    const next = random(4099);
    const rights = [0xc093, 0xc093, 0xc091, 0xc097, 0xc09b, 0xc099, 1 << 16];
    const limits = [3, 2, 7, 6, 9, 8, 11, 10, 12, 13, 14];
    let faults = 0;
    const between = (): void => {
      if (jit.cpu.stop.reason === 'exception') faults++;
      const near = next() % 4 === 0;
      const esi = near ? 0xfffffff0 + (next() % 16) : 0x3000;
      const pick = next() % (limits.length + 2);
      const limit = pick >= limits.length ? 0xffffffff : (esi + limits[pick]) >>> 0;
      const access = rights[next() % rights.length];
      for (const m of [jit, plain]) {
        m.cpu.reg32[6] = esi;
        m.cpu.segLimit[DS] = limit | 0;
        m.cpu.segAccess[DS] = access;
      }
    };
    lockstep(jit, plain, () => 1 + (next() % 3000), 600, 'DS limits', between, true);
    // Both outcomes are common: runs ending in #GP/#SS at a boundary, and runs of many laps.
    expect(faults).toBeGreaterThan(100);
    expect(jit.cpu.retired).toBeGreaterThan(50_000);
    expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(1);
  });

  for (const flush of ['CR3 reload', 'INVLPG'] as const) {
    it(`hot blocks with inline accesses read a page the guest remaps (${flush}) through its new mapping`, () => {
      // Linear 0x400000 maps frame 0x4000 or 0x5000; every 50 laps the guest flips the PTE and flushes
      // the TLB entry. The block reading it is compiled inline after one run.
      const setup = (m: TestMachine): void => {
        m.memory.writeBytes(0x8000, Uint8Array.from([...le32(0x9003), ...le32(0xa003)]));
        for (let p = 0; p < 256; p++) m.memory.writeBytes(0x9000 + p * 4, Uint8Array.from(le32((p << 12) | 3)));
        m.memory.writeBytes(0xa000, Uint8Array.from(le32(0x5003)));
        m.memory.writeBytes(0x4000, Uint8Array.from(le32(0x1111)));
        m.memory.writeBytes(0x5000, Uint8Array.from(le32(0x220000)));
        m.cpu.cr3 = 0x8000;
        m.cpu.cr0 |= 0x80000000;
        m.cpu.modeChanged();
        m.load([
          0xa1, ...le32(0x400000), //                       top: mov eax, [0x400000]
          0x01, 0xc3, //                                    add ebx, eax
          0x4a, //                                          dec edx
          0x75, flush === 'INVLPG' ? 0x16 : 0x15, //         jnz skip
          0x81, 0x35, ...le32(0xa000), ...le32(0x1000), //  xor dword [0xa000], 0x1000
          ...(flush === 'INVLPG' ? [0x0f, 0x01, 0x3d, ...le32(0x400000)] : [0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8]),
          0xba, ...le32(50), //                             mov edx, 50
          0x49, //                                          skip: dec ecx
          0x75, flush === 'INVLPG' ? 0xdd : 0xde, //         jnz top
          0xf4,
        ]);
        m.cpu.reg32[1] = 1000;
        m.cpu.reg32[2] = 50;
        m.cpu.intercepts.exceptions = -1;
      };
      const [jit, plain] = pair('flat32', 1, setup);
      const next = random(flush.length + 71);
      expect(lockstep(jit, plain, () => 1 + (next() % 400), 400, flush)).toBe('hlt');
      // 20 periods of 50 laps, alternating frames: 10 * 50 reads of each.
      expect(jit.cpu.reg32[3]).toBe(500 * 0x220000 + 500 * 0x1111);
      expect(jit.cpu.blockCache?.compiled).toBeGreaterThan(1);
    });
  }

  it('a store into the running block stops it before the stale code runs', () => {
    // The MOV rewrites the immediate of the ADD two instructions later, on every iteration.
    const setup = (m: TestMachine): void => {
      m.load([
        0x88, 0x0d, ...le32(CODE + 9), // mov [CODE+9], cl   (the ADD's imm8)
        0x90, //                          nop
        0x83, 0xc0, 0x00, //              add eax, imm8 (at CODE+9)
        0x49, //                          dec ecx
        0x75, 0xf3, //                    jnz top
        0xf4,
      ]);
      m.cpu.reg32[0] = 0;
      m.cpu.reg32[1] = 100;
    };
    const [jit, plain] = pair('flat32', 1, setup);
    const next = random(101);
    expect(lockstep(jit, plain, () => 1 + (next() % 100), 100, 'smc')).toBe('hlt');
    // Each ADD adds CL as sign-extended imm8.
    let sum = 0;
    for (let c = 100; c > 0; c--) sum += (c << 24) >> 24;
    expect(jit.cpu.reg32[0]).toBe(sum);
  });

  it('code rewritten by DMA between runs runs as rewritten', () => {
    // mov al, 1; top: inc eax; dec ecx; jnz top; hlt
    const [jit, plain] = pair('flat32', 1, (m) => m.load([0xb0, 0x01, 0x40, 0x49, 0x75, 0xfc, 0xf4]));
    for (const m of [jit, plain]) m.cpu.reg32[1] = 50;
    lockstep(jit, plain, () => 1000, 1, 'first');
    for (const m of [jit, plain]) {
      m.memory.writeBytes(CODE + 1, Uint8Array.from([0x07]));
      m.cpu.eip = CODE;
      m.cpu.halted = false;
      m.cpu.reg32[1] = 50;
    }
    lockstep(jit, plain, () => 1000, 1, 'second');
    expect(jit.cpu.reg8[0]).toBe(7 + 50);
  });

  it('a guest rewriting its code in a loop cannot make the host compile without bound', () => {
    // Every 50 iterations (counted in EDX) the loop changes its own ADD immediate: the page's
    // generation moves, its blocks die and get hot again.
    const m = createMachine('flat32');
    m.load([
      0x83, 0xc0, 0x01, //                add eax, 1 (immediate at CODE+2)
      0x4a, //                            dec edx
      0x75, 0x0b, //                      jnz skip
      0xba, ...le32(50), //               mov edx, 50
      0xfe, 0x05, ...le32(CODE + 2), //   inc byte [CODE+2]
      0x49, //                            skip: dec ecx
      0x75, 0xec, //                      jnz top
      0xf4,
    ]);
    m.cpu.reg32[1] = 200_000;
    m.cpu.reg32[2] = 50;
    let reason = '';
    for (let i = 0; i < 100 && reason !== 'hlt'; i++) reason = m.cpu.run(100_000);
    expect(reason).toBe('hlt');
    // 4000 rewrites; compiling stops paying after the first few dozen.
    expect(m.cpu.blockCache?.compiled).toBeLessThan(300);
  });

  it('runs an entry from its own bytes when compiling its block recycled its decoded record', () => {
    // jnz +6, taken while ZF=0, so the 6 bytes after it are first decoded when its block compiles:
    // sub esp, 20; add eax, 5; then the jump's target, hlt.
    const m = createMachine('flat32');
    m.cpu.blockCache!.hotRuns = 1;
    const base = 0x20000;
    m.memory.writeBytes(base, Uint8Array.from([0x75, 0x06, 0x83, 0xec, 0x14, 0x83, 0xc0, 0x05, 0xf4]));
    const visit = (): string => {
      m.cpu.eip = base;
      m.cpu.halted = false;
      m.cpu.setEflags(0x2);
      return m.cpu.run(2);
    };
    m.cpu.reg32[4] = 0x8000;
    expect(visit()).toBe('hlt');
    // The record pool is a ring: make the jump's own record the next one handed out, as a long run
    // of other code would, so that decoding the block's second instruction takes it.
    const cache = m.cpu.decoded!;
    const entry = cache.page(base >>> 12, true)[base & 0xfff];
    expect(entry).toBeGreaterThan(0);
    (cache as unknown as { next: number }).next = entry / RECORD;
    expect(visit()).toBe('hlt');
    expect(m.cpu.eip).toBe(base + 9);
    expect(m.cpu.reg32[4]).toBe(0x8000);
    expect(m.cpu.reg32[0]).toBe(0);
  });

  it('holds a bounded number of blocks however much code is hot', () => {
    // 9000 blocks of "nop; inc eax; inc ebx" (each ended by a CLD, which blocks do not compile; a
    // JMP would not end them, blocks follow it), run twice with blocks compiled on their first re-entry.
    const m = createMachine('flat32');
    m.cpu.blockCache!.hotRuns = 1;
    const count = 9000;
    const base = 0x20000;
    const code: number[] = [];
    for (let i = 0; i < count; i++) code.push(0x90, 0x40, 0x43, 0xfc);
    code.push(0x49, 0x0f, 0x85, ...le32(-(code.length + 7)), 0xf4);
    m.memory.writeBytes(base, Uint8Array.from(code));
    m.cpu.eip = base;
    m.cpu.reg32[1] = 3;
    expect(m.cpu.run(1_000_000)).toBe('hlt');
    expect(m.cpu.reg32[0]).toBe(3 * count);
    expect(m.cpu.blockCache!.size).toBeLessThan(MAX_BLOCKS);
    expect(m.cpu.blockCache!.flushes).toBeGreaterThan(0);
  }, 30_000);

  it('single-stepping (TF) and opcode intercepts see every instruction, as interpreted', () => {
    // inc ax; add bx, ax; dec cx; jnz; then (a single-stepped HLT would trap and run on past it)
    // pushf; pop ax; and ah, 0FEh; push ax; popf (TF off); hlt
    const program = [0x40, 0x01, 0xc3, 0x49, 0x75, 0xfa, 0x9c, 0x58, 0x80, 0xe4, 0xfe, 0x50, 0x9d, 0xf4];
    for (const variant of ['tf', 'opcode'] as const) {
      const setup = (m: TestMachine): void => {
        m.load(program);
        m.cpu.reg32[1] = 300;
        if (variant === 'tf') {
          // #DB handler at 0:0x2000: inc word [0x600]; iret.
          m.memory.writeBytes(4, Uint8Array.from([0x00, 0x20, 0x00, 0x00]));
          m.memory.writeBytes(0x2000, Uint8Array.from([0xff, 0x06, 0x00, 0x06, 0xcf]));
          m.cpu.setEflags(0x102);
        } else m.cpu.intercepts.interceptOpcode(0x01);
      };
      const [jit, plain] = pair('real', 1, setup);
      if (variant === 'tf') {
        lockstep(jit, plain, () => 500, 100, variant);
        // One #DB after each of the loop's 1200 instructions and the 5 that clear TF; none is lost or
        // doubled at run boundaries.
        expect(jit.memory.read16(0x600)).toBe(4 * 300 + 5);
      } else {
        for (let i = 0; i < 50; i++) {
          lockstep(jit, plain, () => 100, 1, `${variant} ${i}`);
          expect(jit.cpu.stop.reason).toBe('opcode');
          for (const m of [jit, plain]) {
            m.cpu.reg16[6] = (m.cpu.reg16[6] + m.cpu.reg16[0]) & 0xffff;
            m.cpu.skipInstruction(2);
          }
        }
      }
    }
  });

  it('can be turned off', () => {
    const m = createMachine('flat32', undefined, true, false);
    expect(m.cpu.blockCache).toBeNull();
    m.load([0x40, 0x49, 0x75, 0xfc, 0xf4]);
    m.cpu.reg32[1] = 1000;
    expect(m.cpu.run(10_000)).toBe('hlt');
    expect(m.cpu.reg32[0]).toBe(1000);
    expect(m.cpu.seg[CS]).toBe(0x08);
  });
});
