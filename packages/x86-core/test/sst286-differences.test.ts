import { describe, expect, it } from 'vitest';
import { SST286_DIFFERENCES } from '../src/conformance/sst286-differences.js';
import type { CpuModel } from '../src/model.js';
import { CODE, createMachine } from './support/machine.js';

// Each documented 286-versus-686 difference, shown to behave as the i686 does on the i686 model and,
// for each difference the '80286' model reproduces, as the 286 does on that model. A new entry in
// SST286_DIFFERENCES without its proofs fails the last tests.

const real286 = (): ReturnType<typeof createMachine> => createMachine('real', undefined, true, true, '80286');

/** The exception a real-mode POP AX with SP = FFFF raises (intercepted: SP is left as it was). */
function popAtStackTop(model: CpuModel): number {
  const m = createMachine('real', undefined, true, true, model);
  m.cpu.intercepts.exceptions = -1;
  m.load([0x58]); // pop ax
  m.cpu.reg16[8] = 0xffff;
  expect(m.cpu.run(10)).toBe('exception');
  expect([m.cpu.eip, m.cpu.reg16[8]]).toEqual([CODE, 0xffff]);
  return m.cpu.stop.vector;
}

/** The i686 side: what the core does by default. */
const i686Proofs: Record<string, () => void> = {
  'lock-undefined-opcode': () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = 1 << 6;
    m.load([0xf0, 0xd7]); // lock xlatb
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(6);
    expect(m.cpu.eip).toBe(CODE);
  },
  'real-mode-stack-fault': () => expect(popAtStackTop('i686')).toBe(12),
  'instruction-length-limit': () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = -1;
    // cs ss cs ds ds add word [si+1DDFh], 7693h: 11 bytes, legal up to 15.
    m.load([0x2e, 0x36, 0x2e, 0x3e, 0x3e, 0x81, 0x84, 0xdf, 0x1d, 0x93, 0x76, 0xf4]);
    m.memory.write16(0x1ddf, 0x0001);
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.memory.read16(0x1ddf)).toBe(0x7694);
  },
  'segment-registers-fs-gs': () => {
    const m = createMachine('real');
    m.load([0x8e, 0xe0, 0x8c, 0xe9, 0xf4]); // mov fs, ax; mov cx, gs
    m.cpu.reg16[0] = 0x1234;
    m.cpu.seg[5] = 0x5678;
    expect(m.cpu.run(10)).toBe('hlt');
    expect([m.cpu.seg[4], m.cpu.segBase[4]]).toEqual([0x1234, 0x12340]);
    expect(m.cpu.reg16[2]).toBe(0x5678);
  },
  'real-mode-flags-12-15': () => {
    const m = createMachine('real');
    m.load([0x68, 0x02, 0x70, 0x9d, 0xf4]); // push 0x7002; popf
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.getEflags() & 0xf000).toBe(0x7000);
  },
  'pop-memory-fault-sp': () => {
    const { sp, frame } = popToFaultingWord('i686');
    expect(sp).toBe(0x0100);
    expect(frame).toEqual([CODE, 0, 0x0100 - 6]);
  },
  'string-fault-index-update': () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = -1;
    m.load([0xf3, 0xa5]); // rep movsw
    m.cpu.reg16[12] = 0xffff;
    m.cpu.reg16[14] = 0x100;
    m.cpu.reg16[2] = 3;
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(13);
    expect([m.cpu.reg16[12], m.cpu.reg16[14], m.cpu.reg16[2]]).toEqual([0xffff, 0x100, 3]);
  },
};

/** SI DI CX after a string instruction at CODE raised #GP (intercepted), with the registers it started from. */
function stringFault286(bytes: number[], si: number, di: number, cx: number, df = false): number[] {
  const m = real286();
  m.cpu.intercepts.exceptions = -1;
  m.load(bytes);
  m.cpu.reg16[12] = si;
  m.cpu.reg16[14] = di;
  m.cpu.reg16[2] = cx;
  if (df) m.cpu.setEflags(m.cpu.getEflags() | 0x400);
  expect(m.cpu.run(10)).toBe('exception');
  expect(m.cpu.stop.vector).toBe(13);
  expect(m.cpu.eip).toBe(CODE);
  return [m.cpu.reg16[12], m.cpu.reg16[14], m.cpu.reg16[2]];
}

/** The 80286 side: what `model: '80286'` does, as the SingleStepTests vectors show the 286 doing it. */
const i286Proofs: Record<string, () => void> = {
  'lock-undefined-opcode': () => {
    const m = real286();
    m.load([0xf0, 0xd7, 0xf0, 0x89, 0xd9, 0xf4]); // lock xlatb; lock mov cx, bx
    m.cpu.reg16[6] = 0x200;
    m.cpu.reg8[0] = 5;
    m.memory.write8(0x205, 0x42);
    expect(m.cpu.run(10)).toBe('hlt');
    expect([m.cpu.reg8[0], m.cpu.reg16[2]]).toEqual([0x42, 0x200]);
  },
  'real-mode-stack-fault': () => {
    expect(popAtStackTop('80286')).toBe(13);
    // Delivered through the IVT's entry 13, the return address the faulting POP.
    const d = real286();
    d.memory.write16(13 * 4, 0x0300);
    d.memory.write16(0x300, 0xf4f4);
    d.load([0x58]);
    d.cpu.reg16[8] = 0xffff;
    expect(d.cpu.run(10)).toBe('hlt');
    expect(d.cpu.eip).toBe(0x301);
    expect(d.memory.read16(0xfff9)).toBe(CODE); // IP below CS and FLAGS
  },
  'instruction-length-limit': () => {
    const m = real286();
    m.cpu.intercepts.exceptions = -1;
    m.load([0x2e, 0x36, 0x2e, 0x3e, 0x3e, 0x81, 0x84, 0xdf, 0x1d, 0x93, 0x76, 0xf4]); // 11 bytes
    m.memory.write16(0x1ddf, 0x0001);
    expect(m.cpu.run(10)).toBe('exception');
    expect([m.cpu.stop.vector, m.cpu.eip]).toEqual([13, CODE]);
    expect(m.memory.read16(0x1ddf)).toBe(0x0001);
    // Ten bytes are allowed: cs ss cs ds add word [si+1DDFh], 7693h.
    const ok = real286();
    ok.load([0x2e, 0x36, 0x2e, 0x3e, 0x81, 0x84, 0xdf, 0x1d, 0x93, 0x76, 0xf4]);
    ok.memory.write16(0x1ddf, 0x0001);
    expect(ok.cpu.run(10)).toBe('hlt');
    expect(ok.memory.read16(0x1ddf)).toBe(0x7694);
  },
  'segment-registers-fs-gs': () => {
    for (const bytes of [[0x8e, 0xe0], [0x8c, 0xe9], [0x8c, 0x20], [0x8e, 0x28]]) { // mov fs,ax; mov cx,gs; mov [bx+si],fs; mov gs,[bx+si]
      const m = real286();
      m.cpu.intercepts.exceptions = -1;
      m.load(bytes);
      expect(m.cpu.run(10)).toBe('exception');
      expect([m.cpu.stop.vector, m.cpu.eip]).toEqual([6, CODE]);
    }
    const es = real286();
    es.load([0x8e, 0xc0, 0x8c, 0xd9, 0xf4]); // mov es, ax; mov cx, ds
    es.cpu.reg16[0] = 0x1234;
    expect(es.cpu.run(10)).toBe('hlt');
    expect(es.cpu.seg[0]).toBe(0x1234);
  },
  'real-mode-flags-12-15': () => {
    const m = real286();
    m.load([0x68, 0xd5, 0xf0, 0x9d, 0xf4]); // push 0xf0d5; popf
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.getEflags() & 0xffff).toBe(0x00d7);
    // IRET: flags 0xf2d5, CS:IP = 0000:1010.
    const i = real286();
    i.load([0x68, 0xd5, 0xf2, 0x6a, 0x00, 0x68, 0x10, 0x10, 0xcf]);
    i.memory.write8(0x1010, 0xf4);
    expect(i.cpu.run(10)).toBe('hlt');
    expect(i.cpu.getEflags() & 0xffff).toBe(0x02d7);
  },
  'string-fault-index-update': () => {
    // A faulting read steps its index; what follows it (the write) is not made. REP counts the iteration.
    expect(stringFault286([0xf3, 0xa5], 0xffff, 0x100, 3)).toEqual([0x0001, 0x100, 2]); // rep movsw
    expect(stringFault286([0xa5], 0xffff, 0x100, 3)).toEqual([0x0001, 0x100, 3]); // movsw
    expect(stringFault286([0xf3, 0xad], 0xffff, 0x100, 3, true)).toEqual([0xfffd, 0x100, 2]); // std; rep lodsw
    // A faulting write: both indexes stepped, and REP has counted the next iteration too...
    expect(stringFault286([0xf3, 0xa5], 0x100, 0xffff, 3)).toEqual([0x102, 0x0001, 1]); // rep movsw
    expect(stringFault286([0xf3, 0xab], 0x100, 0xffff, 3)).toEqual([0x100, 0x0001, 1]); // rep stosw
    // ...unless the faulting element was the last.
    expect(stringFault286([0xf3, 0xab], 0x100, 0xffff, 1)).toEqual([0x100, 0x0001, 0]);
    // CMPS reads ES:[DI] first and counts an iteration after comparing; SCAS counts before its read.
    expect(stringFault286([0xa7], 0xffff, 0xffff, 3)).toEqual([0xffff, 0x0001, 3]); // cmpsw
    expect(stringFault286([0xa7], 0xffff, 0x100, 3)).toEqual([0x0001, 0x102, 3]);
    expect(stringFault286([0xf3, 0xa7], 0xffff, 0xffff, 3, true)).toEqual([0xffff, 0xfffd, 3]); // std; repe cmpsw
    expect(stringFault286([0xf3, 0xaf], 0x100, 0xffff, 3)).toEqual([0x100, 0x0001, 2]); // repe scasw
    expect(stringFault286([0xf2, 0xaf], 0x100, 0xffff, 3)).toEqual([0x100, 0x0001, 2]); // repne scasw
    expect(stringFault286([0xf2, 0xaf], 0x100, 0xffff, 1)).toEqual([0x100, 0x0001, 0]);
    expect(stringFault286([0xaf], 0x100, 0xffff, 3)).toEqual([0x100, 0x0001, 3]); // scasw: no count
  },
  'pop-memory-fault-sp': () => {
    const { sp, frame } = popToFaultingWord('80286');
    expect(sp).toBe(0x0102);
    // Delivered: FLAGS, CS, IP pushed below the moved SP, IP at the POP.
    expect(frame).toEqual([CODE, 0, 0x0102 - 6]);
  },
};

/**
 * POP word [0xFFFF] (a word at offset FFFF: #GP in real mode) with SP = 0x100: SP when the fault
 * is taken (intercepted) and, delivered through an IVT entry for 13, the frame's IP, CS and its SP.
 */
function popToFaultingWord(model: CpuModel): { sp: number; frame: number[] } {
  const run = (intercept: boolean) => {
    const m = createMachine('real', undefined, true, true, model);
    if (intercept) m.cpu.intercepts.exceptions = -1;
    m.memory.write32(13 * 4, 0x00002000); // int 13 handler at 0000:2000: hlt
    m.memory.write8(0x2000, 0xf4);
    m.load([0x8f, 0x06, 0xff, 0xff, 0xf4]); // pop word [0xffff]
    m.cpu.reg16[8] = 0x0100;
    m.memory.write16(0x0100, 0x1234);
    return { m, reason: m.cpu.run(10) };
  };
  const stopped = run(true);
  expect(stopped.reason).toBe('exception');
  expect([stopped.m.cpu.stop.vector, stopped.m.cpu.eip]).toEqual([13, CODE]);
  const delivered = run(false);
  expect(delivered.reason).toBe('hlt');
  const sp = delivered.m.cpu.reg16[8];
  return { sp: stopped.m.cpu.reg16[8], frame: [delivered.m.memory.read16(sp), delivered.m.memory.read16(sp + 2), sp] };
}

describe('documented 286-versus-686 differences', () => {
  for (const d of SST286_DIFFERENCES) {
    it(`${d.id} on the i686: ${d.description.slice(0, 60)}...`, () => {
      const proof = i686Proofs[d.id];
      expect(proof, `no i686 proof for ${d.id}`).toBeDefined();
      proof();
    });
    if (!d.remainsOn.includes('80286')) {
      it(`${d.id} on the 80286 model: the 286 behaviour`, () => {
        const proof = i286Proofs[d.id];
        expect(proof, `no 80286 proof for ${d.id}`).toBeDefined();
        proof();
      });
    }
  }

  it('every listed difference remains on the i686 and has a proof for it', () => {
    expect(SST286_DIFFERENCES.every((d) => d.remainsOn.includes('i686'))).toBe(true);
    expect(Object.keys(i686Proofs).sort()).toEqual(SST286_DIFFERENCES.map((d) => d.id).sort());
  });

  it('every difference the 80286 model reproduces has an 80286 proof, and every 80286 proof such a difference', () => {
    const reproduced = SST286_DIFFERENCES.filter((d) => !d.remainsOn.includes('80286')).map((d) => d.id);
    expect(Object.keys(i286Proofs).sort()).toEqual(reproduced.sort());
  });
});
