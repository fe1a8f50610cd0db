import { describe, expect, it } from 'vitest';
import { CF, PF, ZF } from '../../src/flags.js';
import { CODE, createMachine } from '../support/machine.js';

// The x87 wired into the interpreter: programs of hand-encoded bytes (assembly beside them) ending
// in HLT, run in flat 32-bit protected mode unless said otherwise.

const EAX = 0;
const DATA = 0x8000;

function run(bytes: number[], mode: 'real' | 'flat32' = 'flat32') {
  const m = createMachine(mode);
  m.load([...bytes, 0xf4]);
  const reason = m.cpu.run(1000);
  return { ...m, reason };
}

const f64 = (m: ReturnType<typeof createMachine>, at: number): number => {
  const b = new Uint8Array(8);
  m.memory.readBytes(at, b);
  return new DataView(b.buffer).getFloat64(0, true);
};

describe('x87 instructions in the CPU', () => {
  it('computes with the stack and stores to memory (FNINIT, FLD1, FLDPI, FADDP, FSTP m64, FNSTSW AX)', () => {
    const m = run([
      0xdb, 0xe3, //                         fninit
      0xd9, 0xe8, //                         fld1
      0xd9, 0xeb, //                         fldpi
      0xde, 0xc1, //                         faddp st1, st0
      0xdd, 0x1d, 0x00, 0x80, 0x00, 0x00, // fstp qword [0x8000]
      0xdf, 0xe0, //                         fnstsw ax
    ]);
    expect(m.reason).toBe('hlt');
    expect(f64(m, DATA)).toBe(1 + Math.PI);
    expect(m.cpu.reg16[EAX]).toBe(0); // TOP back at 0, no exception
  });

  it('sets EFLAGS from FCOMI and moves with FCMOVB', () => {
    const m = run([
      0xdb, 0xe3, //       fninit
      0xd9, 0xe8, //       fld1        (ST1 after the next push)
      0xd9, 0xee, //       fldz
      0xdb, 0xf1, //       fcomi st0, st1 : 0 < 1 → CF
      0xda, 0xc1, //       fcmovb st0, st1 : CF set → ST0 = 1
      0xdd, 0x1d, 0x00, 0x80, 0x00, 0x00, // fstp qword [0x8000]
    ]);
    expect(m.cpu.getEflags() & (CF | ZF | PF)).toBe(CF);
    expect(f64(m, DATA)).toBe(1);
  });

  it('uses the 16-bit address size for memory operands in real mode', () => {
    const m = run([
      0xdb, 0xe3, //             fninit
      0xd9, 0xeb, //             fldpi
      0xdd, 0x1e, 0x00, 0x80, // fstp qword [0x8000]
    ], 'real');
    expect(m.reason).toBe('hlt');
    expect(f64(m, DATA)).toBe(Math.PI);
  });

  it('raises #NM while CR0.TS or CR0.EM is set, and for WAIT only with MP and TS', () => {
    for (const [cr0Bits, bytes, expected] of [
      [0x8, [0xd9, 0xe8], 7], //   TS: fld1 → #NM
      [0x4, [0xd9, 0xe8], 7], //   EM: fld1 → #NM
      [0x8, [0x9b], 'hlt'], //     TS without MP: wait runs
      [0xa, [0x9b], 7], //         MP and TS: wait → #NM
    ] as const) {
      const m = createMachine('flat32');
      m.cpu.cr0 |= cr0Bits;
      m.cpu.intercepts.exceptions = 1 << 7;
      m.load([...bytes, 0xf4]);
      const reason = m.cpu.run(10);
      if (expected === 'hlt') expect(reason).toBe('hlt');
      else {
        expect(reason).toBe('exception');
        expect(m.cpu.stop.vector).toBe(expected);
      }
    }
  });

  it('reports an unmasked exception as #MF at the next waiting instruction, not at FNSTSW', () => {
    const m = createMachine('flat32');
    m.cpu.cr0 |= 0x20; // NE
    m.cpu.intercepts.exceptions = 1 << 16;
    m.memory.write16(DATA, 0x037b); // control word with ZE unmasked
    m.load([
      0xdb, 0xe3, //                         fninit
      0xd9, 0x2d, 0x00, 0x80, 0x00, 0x00, // fldcw [0x8000]
      0xd9, 0xee, //                         fldz
      0xd9, 0xe8, //                         fld1
      0xd8, 0xf1, //                         fdiv st0, st1 : 1/0 with ZE unmasked → pending
      0xdf, 0xe0, //                         fnstsw ax     : no-wait, runs
      0x9b, //                               wait          : #MF
      0xf4,
    ]);
    expect(m.cpu.run(100)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(16);
    expect(m.cpu.reg16[EAX] & 0x0084).toBe(0x0084); // ZE and ES were visible to FNSTSW
    expect(m.cpu.eip).toBe(CODE + 16); // the WAIT, not the FDIV
  });

  it('answers #UD for encodings the x87 does not define (FISTTP is SSE3)', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.exceptions = 1 << 6;
    m.load([0xdb, 0x0d, 0x00, 0x80, 0x00, 0x00, 0xf4]); // fisttp dword [0x8000]
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(6);
  });

  it('advertises the FPU in CPUID and starts from the RESET state', () => {
    const m = run([0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2]); // mov eax, 1; cpuid
    expect(m.cpu.reg32[2] & 1).toBe(1);
    const fresh = createMachine('real').cpu;
    expect(fresh.fpu.cw).toBe(0x0040);
    expect(fresh.fpu.tagWord).toBe(0x5555);
  });
});

describe('x87 stores that cannot be written', () => {
  const le32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

  it('FSTP through a read-only data segment is #GP(0) before it pops or flags anything', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.exceptions = 1 << 13;
    m.load([
      0xdb, 0xe3, //                      fninit
      0xd9, 0xee, //                      fldz
      0xd9, 0xe8, //                      fld1
      0x3e, 0xd9, 0x1d, ...le32(DATA), // fstp dword ds:[DATA]
      0xf4,
    ]);
    m.cpu.run(3);
    m.cpu.segAccess[3] = 0xc091; // DS: read-only data
    expect(m.cpu.run(10)).toBe('exception');
    expect([m.cpu.stop.vector, m.cpu.stop.errorCode, m.cpu.eip]).toEqual([13, 0, CODE + 6]);
    expect([m.cpu.fpu.top, m.cpu.fpu.st(0), m.cpu.fpu.statusWord & 0x3f]).toEqual([6, 1, 0]);
    expect(m.memory.read32(DATA)).toBe(0);
  });

  it('FNSAVE to a read-only page is #PF (W=1) before any byte is stored or the FPU reinitialised', () => {
    const m = createMachine('flat32');
    const table = 0x9000;
    m.memory.writeBytes(0xa000, Uint8Array.from(le32(table | 3)));
    // Identity pages; 0x21000 read-only, so a save at 0x20fd0 starts writable and crosses into it.
    for (let p = 0; p < 256; p++) m.memory.writeBytes(table + p * 4, Uint8Array.from(le32((p << 12) | (p === 0x21 ? 1 : 3))));
    m.cpu.cr3 = 0xa000;
    m.cpu.cr0 |= 0x80010000;
    m.cpu.modeChanged();
    m.cpu.intercepts.exceptions = 1 << 14;
    m.load([
      0xdb, 0xe3, //                  fninit
      0xd9, 0xe8, //                  fld1
      0xdd, 0x35, ...le32(0x20fd0), // fnsave [20FD0h] (108 bytes)
      0xf4,
    ]);
    expect(m.cpu.run(10)).toBe('exception');
    expect([m.cpu.stop.vector, m.cpu.stop.errorCode, m.cpu.cr2 >>> 0]).toEqual([14, 3, 0x21000]);
    expect([m.cpu.fpu.top, m.cpu.fpu.st(0)]).toEqual([7, 1]);
    expect(Array.from(m.memory.ram.subarray(0x20fd0, 0x21000)).every((b) => b === 0)).toBe(true);
  });
});
