import { describe, expect, it } from 'vitest';
import { CS, DS } from '../../src/cpu.js';
import { CODE, createMachine, type TestMachine } from '../support/machine.js';

// FXSAVE/FXRSTOR (0F AE /0 /1) against the legacy-mode image of SDM Vol. 2A ("FXSAVE—Save x87 FPU,
// MMX Technology, and SSE State", Non-64-bit-Mode Layout): FCW 0, FSW 2, abridged FTW 4, FOP 6,
// FIP 8, FCS 12, FDP 16, FDS 20, MXCSR 24, MXCSR_MASK 28, ST(i) at 32 + 16i, XMM0-7 at 160-287.
// This CPU has no SSE (see src/fpu/environment.ts for what it keeps in the image).

const AREA = 0x9000;
const FILL = 0xcc;

function bytes(m: TestMachine, at: number, n: number): number[] {
  const b = new Uint8Array(n);
  m.memory.readBytes(at, b);
  return Array.from(b);
}

const u16 = (m: TestMachine, at: number) => m.memory.read16(at);
const u32 = (m: TestMachine, at: number) => m.memory.read32(at) >>> 0;

/** An 80-bit extended real's bytes: significand (with its explicit integer bit), then sign and exponent. */
function real80(significand: bigint, exponent: number, sign = 0): number[] {
  const out: number[] = [];
  for (let i = 0; i < 8; i++) out.push(Number((significand >> BigInt(8 * i)) & 0xffn));
  const se = (sign << 15) | exponent;
  out.push(se & 0xff, se >> 8);
  return out;
}
const ONE = real80(0x8000000000000000n, 0x3fff);
const TWO_AND_A_HALF = real80(0xa000000000000000n, 0x4000);
const THREE = real80(0xc000000000000000n, 0x4000);
const ZERO = real80(0n, 0);

function machine(mode: 'real' | 'flat32' = 'flat32'): TestMachine {
  const m = createMachine(mode);
  m.memory.writeBytes(AREA - 0x100, new Uint8Array(0x400).fill(FILL));
  m.memory.write32(0x8100, 0x40200000); // 2.5f
  m.memory.write16(0x8200, 0x027f); // a control word: 53-bit precision, all exceptions masked
  return m;
}

function runTo(m: TestMachine, code: number[]): string {
  m.load([...code, 0xf4]);
  return m.cpu.run(100);
}

/** Runs `code` expecting it to fault with `vector` (intercepted, so EIP stays at the instruction). */
function faultOf(m: TestMachine, code: number[], vector: number): { reason: string; vector: number; errorCode: number } {
  m.cpu.intercepts.exceptions = 1 << vector;
  const reason = runTo(m, code);
  return { reason, vector: m.cpu.stop.vector, errorCode: m.cpu.stop.errorCode };
}

const FXSAVE_AREA = [0x0f, 0xae, 0x05, AREA & 0xff, AREA >> 8, 0, 0]; // fxsave [AREA]
const FXRSTOR_AREA = [0x0f, 0xae, 0x0d, AREA & 0xff, AREA >> 8, 0, 0]; // fxrstor [AREA]

describe('FXSAVE', () => {
  it('stores the x87 state in the SDM layout and leaves the XMM and reserved area alone', () => {
    const m = machine();
    expect(runTo(m, [
      0xdb, 0xe3, //                         1000 fninit
      0xd9, 0x2d, 0x00, 0x82, 0x00, 0x00, // 1002 fldcw [0x8200]
      0xd9, 0xe8, //                         1008 fld1      R7
      0xd9, 0xeb, //                         100a fldpi     R6
      0xd9, 0xee, //                         100c fldz      R5
      0xd8, 0x05, 0x00, 0x81, 0x00, 0x00, // 100e fadd dword [0x8100]  (the last x87 instruction: FOP, FIP, FDP)
      ...FXSAVE_AREA, //                     1014
    ])).toBe('hlt');
    expect(u16(m, AREA)).toBe(0x027f); // FCW
    expect(u16(m, AREA + 2)).toBe(5 << 11); // FSW: TOP = 5
    expect(bytes(m, AREA + 4, 2)).toEqual([0xe0, 0]); // abridged FTW: R5-R7 valid; reserved byte 0
    expect(u16(m, AREA + 6)).toBe(0x005); // FOP: D8 /0 with ModRM 05
    expect(u32(m, AREA + 8)).toBe(CODE + 0x0e); // FIP
    expect(u32(m, AREA + 12)).toBe(0x08); // FCS, reserved 14-15 zero
    expect(u32(m, AREA + 16)).toBe(0x8100); // FDP
    expect(u32(m, AREA + 20)).toBe(0x10); // FDS, reserved 22-23 zero
    expect(u32(m, AREA + 24)).toBe(0x1f80); // MXCSR: power-up value (no SSE)
    expect(u32(m, AREA + 28)).toBe(0); // MXCSR_MASK 0: the default mask 0xFFBF
    expect(bytes(m, AREA + 32, 16)).toEqual([...TWO_AND_A_HALF, 0, 0, 0, 0, 0, 0]); // ST0
    expect(bytes(m, AREA + 48 + 8, 2)).toEqual([0x00, 0x40]); // ST1: pi, exponent 0x4000
    expect(bytes(m, AREA + 48 + 7, 1)).toEqual([0xc9]);
    expect(bytes(m, AREA + 64, 16)).toEqual([...ONE, 0, 0, 0, 0, 0, 0]); // ST2
    for (let i = 3; i < 8; i++) expect(bytes(m, AREA + 32 + 16 * i + 10, 6)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(bytes(m, AREA + 160, 512 - 160)).toEqual(new Array(512 - 160).fill(FILL)); // XMM0-7, 288-511
    expect(bytes(m, AREA - 16, 16)).toEqual(new Array(16).fill(FILL));
    expect(bytes(m, AREA + 512, 16)).toEqual(new Array(16).fill(FILL));
  });

  it('keeps the state (unlike FSAVE) and checks no pending exception', () => {
    const m = machine();
    m.cpu.cr0 |= 0x20; // NE: a waiting x87 instruction would take #MF
    m.cpu.intercepts.exceptions = 1 << 16;
    expect(runTo(m, [
      0xdb, 0xe3, //                         fninit
      0xd9, 0x2d, 0x00, 0x82, 0x00, 0x00, // fldcw [0x8200]
      0xd9, 0xe8, //                         fld1
      0xd9, 0xee, //                         fldz
      0xde, 0xf9, //                         fdivp st1, st0  (1/0: ZE, masked)
      ...FXSAVE_AREA,
      0xd9, 0x1d, 0x00, 0xb0, 0x00, 0x00, // fstp dword [0xb000]
    ])).toBe('hlt');
    expect(u16(m, AREA + 2) & 0x3f).toBe(0x04); // ZE saved
    expect(m.memory.read32(0xb000) >>> 0).toBe(0x7f800000); // +inf still in ST0 after FXSAVE
  });

  it('stores FIP as an offset in CS and FDS/FDP in real-address mode, high halves 0 with a 16-bit operand size', () => {
    const m = machine('real');
    m.cpu.loadRealSegment(CS, 0x80);
    m.cpu.codeSizeChanged();
    expect(runTo(m, [
      0xdb, 0xe3, //                   0800 fninit
      0xd9, 0x06, 0x00, 0x81, //       0802 fld dword [0x8100]
      0x0f, 0xae, 0x06, 0x00, 0x90, // 0806 fxsave [0x9000]
    ])).toBe('hlt');
    expect(u16(m, AREA + 6)).toBe(0x106); // FOP: D9 /0 with ModRM 06
    expect(u32(m, AREA + 8)).toBe(0x802); // FIP: IP, not the linear 0x1002
    expect(u32(m, AREA + 12)).toBe(0x80); // FCS
    expect(u32(m, AREA + 16)).toBe(0x8100);
    expect(u32(m, AREA + 20)).toBe(0); // FDS
    expect(bytes(m, AREA + 32, 10)).toEqual(TWO_AND_A_HALF);
  });
});

describe('FXRSTOR', () => {
  /** A hand-written image: TOP 6, ST0 = 3 (R6), ST1 = +0 (R7), pointers with reserved bits set. */
  function writeImage(m: TestMachine, mxcsr = 0x1f80): void {
    m.memory.write16(AREA, 0x0c7f); // FCW: round toward zero
    m.memory.write16(AREA + 2, (6 << 11) | 0x0100); // FSW: TOP 6, C0
    m.memory.write16(AREA + 4, 0xc0); // R6, R7 valid
    m.memory.write16(AREA + 6, 0xffff); // FOP: only bits 0-10 are kept
    m.memory.write32(AREA + 8, 0x12345678);
    m.memory.write32(AREA + 12, 0xffff001b);
    m.memory.write32(AREA + 16, 0xdeadbeef);
    m.memory.write32(AREA + 20, 0xffff0023);
    m.memory.write32(AREA + 24, mxcsr);
    m.memory.writeBytes(AREA + 32, Uint8Array.from(THREE));
    m.memory.writeBytes(AREA + 48, Uint8Array.from(ZERO));
  }

  it('loads the x87 state; the full tag word follows from the abridged one and the values', () => {
    const m = machine();
    writeImage(m);
    expect(runTo(m, [
      ...FXRSTOR_AREA,
      0xd9, 0x35, 0x00, 0xa0, 0x00, 0x00, // fnstenv [0xa000]  (32-bit protected layout)
      0xd9, 0x1d, 0x00, 0xb0, 0x00, 0x00, // fstp dword [0xb000]
      0xd9, 0x1d, 0x04, 0xb0, 0x00, 0x00, // fstp dword [0xb004]
    ])).toBe('hlt');
    expect(u16(m, 0xa000)).toBe(0x0c7f); // FCW
    expect(u16(m, 0xa004)).toBe((6 << 11) | 0x0100); // FSW
    expect(u16(m, 0xa008)).toBe(0x4fff); // tags: R7 zero (01), R6 valid (00), the rest empty
    expect(u32(m, 0xa00c)).toBe(0x12345678); // FIP
    expect(u32(m, 0xa010)).toBe((0x7ff << 16) | 0x1b); // FOP:FCS
    expect(u32(m, 0xa014)).toBe(0xdeadbeef); // FDP
    expect(u16(m, 0xa018)).toBe(0x23); // FDS
    expect(m.memory.read32(0xb000)).toBe(0x40400000); // 3.0f
    expect(m.memory.read32(0xb004)).toBe(0);
  });

  it('round-trips what FXSAVE stored', () => {
    const m = machine();
    writeImage(m);
    expect(runTo(m, [
      ...FXRSTOR_AREA,
      0x0f, 0xae, 0x05, 0x00, 0xa0, 0x00, 0x00, // fxsave [0xa000]
    ])).toBe('hlt');
    expect(bytes(m, 0xa000, 160)).toEqual([
      0x7f, 0x0c, 0x00, 0x31, 0xc0, 0, 0xff, 0x07, 0x78, 0x56, 0x34, 0x12, 0x1b, 0, 0, 0,
      0xef, 0xbe, 0xad, 0xde, 0x23, 0, 0, 0, 0x80, 0x1f, 0, 0, 0, 0, 0, 0,
      ...THREE, 0, 0, 0, 0, 0, 0, ...ZERO, 0, 0, 0, 0, 0, 0,
      ...bytes(m, 0xa000 + 64, 96), // R0-R5 are empty: their contents are whatever the registers held
    ]);
  });

  it('raises #GP(0) for MXCSR bits outside the default mask and leaves the FPU as it was', () => {
    for (const mxcsr of [0x1fc0, 0x11f80]) { // DAZ (not in the default mask), bit 16
      const m = machine();
      writeImage(m, mxcsr);
      expect(faultOf(m, [0xdb, 0xe3, ...FXRSTOR_AREA], 13)).toEqual({ reason: 'exception', vector: 13, errorCode: 0 });
      expect(m.cpu.eip).toBe(CODE + 2);
      expect(m.cpu.fpu.cw).toBe(0x037f);
      expect(m.cpu.fpu.statusWord).toBe(0);
      expect(m.cpu.fpu.tagWord).toBe(0xffff);
    }
  });

  it('restores FIP from an offset in real-address mode (FSTENV there records the linear address)', () => {
    const m = machine('real');
    writeImage(m);
    m.memory.write32(AREA + 8, 0x0345);
    m.memory.write32(AREA + 12, 0x0100);
    expect(runTo(m, [
      0x66, 0x0f, 0xae, 0x0e, 0x00, 0x90, // fxrstor [0x9000] (32-bit operand size: all of FIP)
      0xd9, 0x36, 0x00, 0xa0, //             fnstenv [0xa000]  (16-bit real-mode layout)
    ])).toBe('hlt');
    expect(u16(m, 0xa006)).toBe(0x1345); // FIP bits 15-0 of the linear address 0x01345
    expect(u16(m, 0xa008)).toBe((0x0 << 12) | 0x7ff); // FIP bits 19-16, FOP
  });
});

describe('0F AE faults', () => {
  it('#GP(0) when the linear address is not 16-byte aligned, whatever the segment; nothing is written', () => {
    const m = machine();
    const code = [0x0f, 0xae, 0x05, 0x08, 0x90, 0x00, 0x00]; // fxsave [0x9008]
    expect(faultOf(m, code, 13)).toEqual({ reason: 'exception', vector: 13, errorCode: 0 });
    expect(bytes(m, AREA, 0x210)).toEqual(new Array(0x210).fill(FILL));
    const ss = [0x0f, 0xae, 0x04, 0x24]; // fxsave [esp]
    const n = machine();
    n.cpu.reg32[4] = 0x9004;
    expect(faultOf(n, ss, 13)).toEqual({ reason: 'exception', vector: 13, errorCode: 0 }); // #GP, not #SS
    // DS base 8 makes offset 0x9008 the aligned linear 0x9010.
    const o = machine();
    o.cpu.segBase[DS] = 8;
    expect(runTo(o, code)).toBe('hlt');
    expect(u16(o, 0x9010)).toBe(0x0040);
  });

  it('#GP(0) when the 512 bytes cross the segment limit, before any byte is written', () => {
    const m = machine();
    m.cpu.segLimit[DS] = AREA + 0x1f0;
    expect(faultOf(m, FXSAVE_AREA, 13)).toEqual({ reason: 'exception', vector: 13, errorCode: 0 });
    expect(bytes(m, AREA, 0x200)).toEqual(new Array(0x200).fill(FILL));
    const r = machine('real');
    expect(faultOf(r, [0x0f, 0xae, 0x06, 0x00, 0xff], 13)).toEqual({ reason: 'exception', vector: 13, errorCode: 0 }); // FF00h + 511 is past FFFFh
  });

  it('#UD for CR0.EM, then #NM for CR0.TS', () => {
    const m = machine();
    m.cpu.cr0 |= 0xc;
    expect(faultOf(m, FXSAVE_AREA, 6).vector).toBe(6);
    const n = machine();
    n.cpu.cr0 |= 0x8;
    expect(faultOf(n, FXRSTOR_AREA, 7).vector).toBe(7);
    expect(bytes(n, AREA, 16)).toEqual(new Array(16).fill(FILL));
  });

  it('#UD for the forms that need SSE, SSE2, CLFLUSH or XSAVE, register operands, REP prefixes and LOCK', () => {
    const forms: [string, number[]][] = [
      ['fxsave eax', [0x0f, 0xae, 0xc0]],
      ['fxrstor eax', [0x0f, 0xae, 0xc8]],
      ['ldmxcsr [0x8100]', [0x0f, 0xae, 0x15, 0x00, 0x81, 0x00, 0x00]],
      ['stmxcsr [0x8100]', [0x0f, 0xae, 0x1d, 0x00, 0x81, 0x00, 0x00]],
      ['xsave [0x9000]', [0x0f, 0xae, 0x25, 0x00, 0x90, 0x00, 0x00]],
      ['xrstor [0x9000]', [0x0f, 0xae, 0x2d, 0x00, 0x90, 0x00, 0x00]],
      ['xsaveopt [0x9000]', [0x0f, 0xae, 0x35, 0x00, 0x90, 0x00, 0x00]],
      ['clflush [0x9000]', [0x0f, 0xae, 0x3d, 0x00, 0x90, 0x00, 0x00]],
      ['lfence', [0x0f, 0xae, 0xe8]],
      ['mfence', [0x0f, 0xae, 0xf0]],
      ['sfence', [0x0f, 0xae, 0xf8]],
      ['rep fxsave', [0xf3, ...FXSAVE_AREA]],
      ['repne fxrstor', [0xf2, ...FXRSTOR_AREA]],
      ['lock fxsave', [0xf0, ...FXSAVE_AREA]],
    ];
    for (const [name, code] of forms) {
      const m = machine();
      expect([name, faultOf(m, code, 6).reason, m.cpu.stop.vector, m.cpu.eip]).toEqual([name, 'exception', 6, CODE]);
      expect(bytes(m, AREA, 16)).toEqual(new Array(16).fill(FILL));
    }
  });

  it('a #PF in the x87 part of the area reports its address; FXRSTOR then changes nothing', () => {
    const m = machine();
    // Identity-map 0-4 MiB with 4 KiB pages, except the page holding the area's second half.
    const pd = 0x20000;
    const pt = 0x21000;
    m.memory.write32(pd, pt | 3);
    for (let p = 0; p < 1024; p++) m.memory.write32(pt + p * 4, p === 0x0a ? 0 : (p << 12) | 3);
    m.cpu.cr3 = pd;
    m.cpu.cr0 |= 0x80000000;
    m.cpu.modeChanged();
    const at = 0xa000 - 0x40; // ST0-ST1 on the mapped page, ST2 onward on the unmapped one
    m.memory.writeBytes(at, new Uint8Array(0x40).fill(0));
    m.cpu.intercepts.exceptions = 1 << 14;
    const code = [0xdb, 0xe3, 0x0f, 0xae, 0x0d, at & 0xff, at >> 8, 0, 0]; // fninit; fxrstor [at]
    expect(runTo(m, code)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(14);
    expect(m.cpu.cr2 >>> 0).toBe(0xa000);
    expect(m.cpu.fpu.cw).toBe(0x037f);
    expect(m.cpu.fpu.tagWord).toBe(0xffff);
  });
});

describe('real-address FSTENV/FSAVE images (SDM Vol. 1 8.1.10, Figures 8-10 and 8-12)', () => {
  // DS = 1234h: the operand at DS:0010h is linear 12350h, which the image splits into bits 15-0 and
  // bits 19-16 (at 15-12 of the next word; bits 31-16 at 27-12 of the 32-bit image's dword).
  function realWithData(): TestMachine {
    const m = machine('real');
    m.cpu.loadRealSegment(DS, 0x1234);
    m.memory.write32(0x12350, 0x40200000); // 2.5f
    return m;
  }
  const LOAD = [0xdb, 0xe3, 0xd9, 0x06, 0x10, 0x00]; // 1000 fninit; 1002 fld dword [0010h]
  const ENV = 0x12340 + 0xa000;

  it('the 16-bit image holds the linear instruction and operand addresses', () => {
    const m = realWithData();
    expect(runTo(m, [...LOAD, 0xd9, 0x36, 0x00, 0xa0])).toBe('hlt'); // fnstenv [0a000h]
    expect(u16(m, ENV + 6)).toBe(CODE + 2); //               FIP 15-0
    expect(u16(m, ENV + 8)).toBe(0x106); //                   FIP 19-16 (0), FOP D9 /0 ModRM 06
    expect(u16(m, ENV + 10)).toBe(0x2350); //                 FDP 15-0
    expect(u16(m, ENV + 12)).toBe(0x1000); //                 FDP 19-16 at 15-12
  });

  it('the 32-bit image holds them with bits 31-16 at 27-12', () => {
    const m = realWithData();
    expect(runTo(m, [...LOAD, 0x66, 0xd9, 0x36, 0x00, 0xa0])).toBe('hlt'); // fnstenv (32-bit operand size)
    expect(u32(m, ENV + 12) & 0xffff).toBe(CODE + 2);
    expect(u32(m, ENV + 16)).toBe(0x106);
    expect(u32(m, ENV + 20) & 0xffff).toBe(0x2350);
    expect(u32(m, ENV + 24)).toBe(0x1000);
  });

  it('FSAVE stores the same environment and FRSTOR loads it back; FXSAVE stores the offset and FDS', () => {
    const m = realWithData();
    expect(runTo(m, [
      ...LOAD,
      0x0f, 0xae, 0x06, 0x00, 0xb0, // fxsave [0b000h]
      0xdd, 0x36, 0x00, 0xa0, //       fnsave [0a000h] (then FNINIT)
      0xdd, 0x26, 0x00, 0xa0, //       frstor [0a000h]
      0xd9, 0x36, 0x00, 0xc0, //       fnstenv [0c000h]
    ])).toBe('hlt');
    const image = 0x12340 + 0xb000;
    expect(u32(m, image + 16)).toBe(0x0010); // FDP: the offset
    expect(u32(m, image + 20)).toBe(0x1234); // FDS
    expect(u32(m, image + 8)).toBe(CODE + 2); // FIP
    expect([u16(m, ENV + 10), u16(m, ENV + 12)]).toEqual([0x2350, 0x1000]);
    const again = 0x12340 + 0xc000;
    expect([u16(m, again + 10), u16(m, again + 12)]).toEqual([0x2350, 0x1000]);
  });
});
