import { beforeEach, describe, expect, it } from 'vitest';
import { executeFpu, needsPendingCheck } from '../../src/fpu/execute.js';
import { Fpu, SW_C0, SW_C1, SW_C2, SW_C3, SW_ES, SW_IE, SW_SF, SW_ZE } from '../../src/fpu/fpu.js';
import { FPU_OPSIZE32, FPU_PROTECTED } from '../../src/fpu/host.js';
import { TestHost } from './host.js';

let fpu: Fpu;
let host: TestHost;
const PM32 = FPU_OPSIZE32 | FPU_PROTECTED;

/** Executes one instruction given as its two opcode bytes (escape byte, ModRM) and a memory operand address. */
function x(escape: number, modrm: number, at = 0x100): number {
  return executeFpu(fpu, host, escape - 0xd8, modrm, at, PM32, 0x1000, 0x08);
}
const cc = (): number => fpu.statusWord & (SW_C0 | SW_C1 | SW_C2 | SW_C3);

beforeEach(() => {
  fpu = new Fpu();
  host = new TestHost();
});

describe('x87 loads, stores and the register stack', () => {
  it('pushes constants and pops stores to memory (FLD1, FLDPI, FSTP m64)', () => {
    x(0xd9, 0xe8); // FLD1
    x(0xd9, 0xeb); // FLDPI
    expect(fpu.st(0)).toBe(Math.PI);
    expect(fpu.st(1)).toBe(1);
    expect((fpu.statusWord >> 11) & 7).toBe(6);
    x(0xdd, 0x1e); // FSTP qword [0x100]
    expect(host.view.getFloat64(0x100, true)).toBe(Math.PI);
    expect(fpu.st(0)).toBe(1);
  });

  it('loads and stores single, double, extended and integer operands', () => {
    host.view.setFloat32(0x100, 2.5, true);
    x(0xd9, 0x06); // FLD dword
    host.view.setInt16(0x110, -7, true);
    x(0xdf, 0x06, 0x110); // FILD word
    host.view.setInt32(0x120, 0x7fffffff, true);
    x(0xdb, 0x06, 0x120); // FILD dword
    expect([fpu.st(0), fpu.st(1), fpu.st(2)]).toEqual([2147483647, -7, 2.5]);
    x(0xdb, 0x3e, 0x200); // FSTP tword
    x(0xdb, 0x2e, 0x200); // FLD tword
    expect(fpu.st(0)).toBe(2147483647);
  });

  it('signals stack overflow and underflow as IE with SF, C1 telling which', () => {
    for (let i = 0; i < 8; i++) x(0xd9, 0xee); // FLDZ ×8 fills the stack
    x(0xd9, 0xe8); // a ninth push overflows
    expect(fpu.statusWord & (SW_IE | SW_SF | SW_C1)).toBe(SW_IE | SW_SF | SW_C1);
    expect(fpu.st(0)).toBeNaN(); // masked response: the indefinite
    x(0xdb, 0xe3); // FNINIT
    x(0xde, 0xc1); // FADDP on an empty stack underflows
    expect(fpu.statusWord & (SW_IE | SW_SF | SW_C1)).toBe(SW_IE | SW_SF);
  });
});

describe('x87 arithmetic', () => {
  it('distinguishes FSUB from FSUBR in the D8 and the swapped DC/DE register encodings', () => {
    host.view.setFloat64(0x100, 10, true);
    x(0xdd, 0x06); // FLD 10  → ST1
    x(0xd9, 0xe8); // FLD1    → ST0
    x(0xd8, 0xe1); // FSUB ST0, ST1   : 1 − 10
    expect(fpu.st(0)).toBe(-9);
    x(0xd8, 0xe9); // FSUBR ST0, ST1  : 10 − (−9)
    expect(fpu.st(0)).toBe(19);
    x(0xdc, 0xe9); // DC E8+i = FSUB ST1, ST0 : 10 − 19
    expect(fpu.st(1)).toBe(-9);
    x(0xdc, 0xe1); // DC E0+i = FSUBR ST1, ST0 : 19 − (−9)
    expect(fpu.st(1)).toBe(28);
    x(0xde, 0xf9); // DE F8+i = FDIVP ST1, ST0 : 28 / 19, pop
    expect(fpu.st(0)).toBeCloseTo(28 / 19, 15);
  });

  it('reports divide by zero (ZE) and invalid operations (IE) with masked default results', () => {
    x(0xd9, 0xee); // FLDZ
    x(0xd9, 0xe8); // FLD1
    x(0xd8, 0xf1); // FDIV ST0, ST1 : 1/0
    expect(fpu.st(0)).toBe(Infinity);
    expect(fpu.statusWord & SW_ZE).toBe(SW_ZE);
    x(0xd8, 0xe0); // FSUB ST0, ST0 : ∞ − ∞
    expect(fpu.st(0)).toBeNaN();
    expect(fpu.statusWord & SW_IE).toBe(SW_IE);
    expect(fpu.statusWord & SW_ES).toBe(0); // masked: nothing pending
  });

  it('holds an unmasked exception pending for the next waiting instruction only', () => {
    host.write16(0x100, 0x037b); // ZM cleared
    x(0xd9, 0x2e); // FLDCW
    x(0xd9, 0xee);
    x(0xd9, 0xe8);
    x(0xd8, 0xf1); // 1/0 with ZE unmasked
    expect(fpu.exceptionPending).toBe(true);
    expect(needsPendingCheck(0, 0xc1)).toBe(true); // FADD waits: the CPU raises #MF first
    expect(needsPendingCheck(7, 0xe0)).toBe(false); // FNSTSW AX does not
    expect(needsPendingCheck(3, 0xe2)).toBe(false); // FNCLEX does not
    x(0xdb, 0xe2); // FNCLEX
    expect(fpu.exceptionPending).toBe(false);
  });

  it('computes FPREM quotient bits and FPREM1 IEEE remainders', () => {
    host.view.setFloat64(0x100, 3, true);
    host.view.setFloat64(0x108, 23, true);
    x(0xdd, 0x06, 0x100); // ST1 = 3
    x(0xdd, 0x06, 0x108); // ST0 = 23
    x(0xd9, 0xf8); // FPREM: 23 = 7·3 + 2 → quotient 111b: C0=1 C3=1 C1=1
    expect(fpu.st(0)).toBe(2);
    expect(cc()).toBe(SW_C0 | SW_C3 | SW_C1);
    x(0xd9, 0xc0 + 0); // FLD ST0 (2), then make it 23 again via FSTP/FLD
    fpu.setSt(0, 23);
    x(0xd9, 0xf5); // FPREM1 of 23 by ST1=2: quotient 11.5 → 12 (even), remainder −1
    expect(fpu.st(0)).toBe(-1);
  });

  it('rounds FIST/FRNDINT by the control word and stores the integer indefinite out of range', () => {
    host.view.setFloat64(0x100, 2.5, true);
    x(0xdd, 0x06);
    x(0xdf, 0x16, 0x200); // FIST word: nearest-even → 2
    expect(host.view.getInt16(0x200, true)).toBe(2);
    host.write16(0x300, 0x077f); // RC = 01 (down)
    x(0xd9, 0x2e, 0x300);
    fpu.setSt(0, -2.5);
    x(0xdb, 0x16, 0x200); // FIST dword → −3
    expect(host.view.getInt32(0x200, true)).toBe(-3);
    fpu.setSt(0, 1e10);
    x(0xdf, 0x16, 0x200); // too big for 16 bits
    expect(host.view.getUint16(0x200, true)).toBe(0x8000);
    expect(fpu.statusWord & SW_IE).toBe(SW_IE);
    fpu.setSt(0, -1234567890123);
    x(0xdf, 0x3e, 0x208); // FISTP qword
    expect(host.view.getBigInt64(0x208, true)).toBe(-1234567890123n);
  });

  it('round-trips packed BCD (FBSTP/FBLD)', () => {
    host.view.setFloat64(0x100, -1234567890123456, true);
    x(0xdd, 0x06);
    x(0xdf, 0x36, 0x200); // FBSTP
    expect([...host.mem.subarray(0x200, 0x20a)]).toEqual([0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x00, 0x80]);
    x(0xdf, 0x26, 0x200); // FBLD
    expect(fpu.st(0)).toBe(-1234567890123456);
  });

  it('evaluates transcendental instructions and leaves huge trig operands for reduction (C2)', () => {
    x(0xd9, 0xeb); // FLDPI
    x(0xd9, 0xfb); // FSINCOS: ST0 = cos, ST1 = sin
    expect(fpu.st(0)).toBe(-1);
    expect(Math.abs(fpu.st(1))).toBeLessThan(1e-15);
    fpu.setSt(0, 2 ** 70);
    x(0xd9, 0xfe); // FSIN
    expect(fpu.st(0)).toBe(2 ** 70);
    expect(fpu.statusWord & SW_C2).toBe(SW_C2);
    x(0xdb, 0xe3);
    host.view.setFloat64(0x100, 8, true);
    x(0xd9, 0xe8); // ST1 = 1
    x(0xdd, 0x06); // ST0 = 8
    x(0xd9, 0xf1); // FYL2X: 1·log2(8)
    expect(fpu.st(0)).toBe(3);
    x(0xd9, 0xfd); // FSCALE needs ST1: empty → underflow, indefinite
    expect(fpu.st(0)).toBeNaN();
  });
});

describe('x87 comparisons and condition codes', () => {
  it('sets C3/C2/C0 for FCOM and EFLAGS for FCOMI, unordered on NaN', () => {
    x(0xd9, 0xe8); // 1
    x(0xd9, 0xee); // 0
    x(0xd8, 0xd1); // FCOM ST1: 0 < 1
    expect(cc()).toBe(SW_C0);
    x(0xdb, 0xf1); // FCOMI ST1
    expect(host.eflags & 0x45).toBe(0x01); // CF
    x(0xd9, 0xc9); // FXCH ST1
    x(0xdf, 0xe8 + 1); // FUCOMIP ST1: 1 vs 0 → greater, pops
    expect(host.eflags & 0x45).toBe(0);
    fpu.setSt(0, NaN);
    x(0xdd, 0xe1); // FUCOM ST1 with ST1 empty... underflow gives NaN: unordered
    expect(cc()).toBe(SW_C3 | SW_C2 | SW_C0);
  });

  it('classifies values with FXAM and stores the status word (FNSTSW AX)', () => {
    x(0xd9, 0xe5); // FXAM on empty ST0
    expect(cc()).toBe(SW_C3 | SW_C0);
    x(0xd9, 0xee);
    x(0xd9, 0xe0); // FCHS → −0
    x(0xd9, 0xe5);
    expect(cc()).toBe(SW_C3 | SW_C1);
    x(0xdf, 0xe0); // FNSTSW AX
    expect(host.ax).toBe(fpu.statusWord);
  });

  it('moves conditionally with FCMOVcc from EFLAGS', () => {
    x(0xd9, 0xe8); // 1 → becomes ST1
    x(0xd9, 0xee); // 0
    host.eflags = 0x41; // CF ZF
    x(0xda, 0xc1); // FCMOVB ST0, ST1 : CF=1 → move
    expect(fpu.st(0)).toBe(1);
    fpu.setSt(0, 0);
    x(0xdb, 0xc9); // FCMOVNE: ZF=1 → no move
    expect(fpu.st(0)).toBe(0);
  });
});

describe('x87 state images', () => {
  it('FNSAVE then FRSTOR restores registers, tags, TOP and control word, and FNSAVE reinitialises', () => {
    host.write16(0x100, 0x0c7f);
    x(0xd9, 0x2e, 0x100); // FLDCW: round toward zero
    x(0xd9, 0xeb);
    x(0xd9, 0xe8);
    const before = { sw: fpu.statusWord, tw: fpu.tagWord, st0: fpu.st(0), st1: fpu.st(1) };
    x(0xdd, 0x36, 0x400); // FNSAVE (protected, 32-bit: 108 bytes)
    expect(fpu.cw).toBe(0x037f);
    expect(fpu.tagWord).toBe(0xffff);
    expect(host.read16(0x400)).toBe(0x0c7f);
    expect(host.read16(0x408)).toBe(before.tw);
    x(0xdd, 0x26, 0x400); // FRSTOR
    expect({ sw: fpu.statusWord, tw: fpu.tagWord, st0: fpu.st(0), st1: fpu.st(1) }).toEqual(before);
    expect(fpu.cw).toBe(0x0c7f);
  });

  it('FNSTENV reports the last instruction pointer and masks all exceptions', () => {
    x(0xd9, 0xe8); // FLD1 at 0008:1000
    host.write16(0x100, 0x0360);
    x(0xd9, 0x2e, 0x100); // FLDCW unmasking everything (a control instruction: FIP unchanged)
    x(0xd9, 0x36, 0x500); // FNSTENV
    expect(host.read32(0x50c)).toBe(0x1000);
    expect(host.read32(0x510)).toBe(0x08 | (0x1e8 << 16)); // FCS | FOP (D9 E8 → 1 E8)
    expect(fpu.cw & 0x3f).toBe(0x3f);
  });

  it('uses the 16-bit real-mode environment layout for FSTENV without an operand-size prefix', () => {
    executeFpu(fpu, host, 1, 0xe8, 0, 0, 0x12345, 0); // FLD1 at linear 0x12345
    executeFpu(fpu, host, 1, 0x36, 0x600, 0, 0x12350, 0); // FNSTENV 14-byte real-mode image
    expect(host.read16(0x606)).toBe(0x2345);
    expect(host.read16(0x608)).toBe((0x1 << 12) | 0x1e8);
  });
});

describe('undefined x87 encodings', () => {
  it('answer #UD', () => {
    expect(x(0xd9, 0x0e)).toBe(6); // D9 /1 memory
    expect(x(0xdb, 0x0e)).toBe(6); // FISTTP (SSE3) is not implemented
    expect(x(0xd9, 0xd1)).toBe(6); // D9 D1
    expect(x(0xdf, 0xe1)).toBe(6); // DF E1
    expect(x(0xde, 0xd8)).toBe(6); // DE D8 (only DE D9 is FCOMPP)
  });
});

describe('hostile x87 operands', () => {
  it('FSCALE by astronomically large or infinite exponents returns at once with saturated results', () => {
    const cases: [number, number, number][] = [
      [1, 1e300, Infinity], [-1, 1e300, -Infinity], [1, -1e300, 0], [3, Infinity, Infinity],
      [0, 1e300, 0], [0, Infinity, NaN], [Infinity, -Infinity, NaN], [2, -Infinity, 0],
    ];
    for (const [value, exponent, expected] of cases) {
      fpu.reset();
      fpu.push(exponent);
      fpu.push(value);
      x(0xd9, 0xfd);
      if (Number.isNaN(expected)) expect(fpu.st(0)).toBeNaN();
      else expect(fpu.st(0)).toBe(expected);
    }
  });
});
