import { describe, expect, it } from 'vitest';
import { SST286_DIFFERENCES } from '../src/conformance/sst286-differences.js';
import { CODE, createMachine } from './support/machine.js';

// Each documented 286-versus-686 difference, shown to behave as the i686 does. A new entry in
// SST286_DIFFERENCES without a proof here fails the last test.

const proofs: Record<string, () => void> = {
  'lock-undefined-opcode': () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = 1 << 6;
    m.load([0xf0, 0xd7]); // lock xlatb
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(6);
    expect(m.cpu.eip).toBe(CODE);
  },
  'real-mode-stack-fault': () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = -1;
    m.load([0x58]); // pop ax
    m.cpu.reg16[8] = 0xffff;
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(12);
    expect(m.cpu.reg16[8]).toBe(0xffff);
  },
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

describe('documented 286-versus-686 differences behave as the i686 does', () => {
  for (const d of SST286_DIFFERENCES) {
    it(`${d.id}: ${d.description.slice(0, 60)}...`, () => {
      const proof = proofs[d.id];
      expect(proof, `no proof for ${d.id}`).toBeDefined();
      proof();
    });
  }

  it('every listed difference has a proof and every proof a listed difference', () => {
    expect(Object.keys(proofs).sort()).toEqual(SST286_DIFFERENCES.map((d) => d.id).sort());
  });
});
