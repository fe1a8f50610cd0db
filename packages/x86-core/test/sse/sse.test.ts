import { describe, expect, it } from 'vitest';
import { CS, type Cpu } from '../../src/cpu.js';
import { cpuid } from '../../src/cpuid.js';
import { decodeLength } from '../../src/decode.js';
import { cpuFpuImage, setCpuFpuImage } from '../../src/index.js';
import { writeControlRegister } from '../../src/system/index.js';
import { createMachine, type Machine } from '../pm/machine.js';
import { random } from '../support/random.js';
import { CODE, longMachine } from '../long/machine.js';

const OSFXSR = 1 << 9;
const OSXMMEXCPT = 1 << 10;
const DATA = 0x200000;
const HLT = 0xf4;

/** 64-bit mode with SSE enabled (CR4.OSFXSR and OSXMMEXCPT), RBX = DATA. */
function long64(code: number[]): Machine {
  const m = longMachine(code);
  m.cpu.cr4 |= OSFXSR | OSXMMEXCPT;
  m.cpu.reg32[3] = DATA;
  return m;
}

/** Flat 32-bit protected mode (paging off) on `model`, SSE enabled, EBX = DATA. */
function flat32(code: number[], model: 'x86-64' | 'i686' = 'x86-64'): Machine {
  const m = createMachine({ model, direct: true });
  const { cpu } = m;
  cpu.cr0 = 0x11;
  for (let s = 0; s < 6; s++) {
    cpu.segBase[s] = 0;
    cpu.segLimit[s] = -1;
    cpu.segAccess[s] = s === CS ? 0xc09b : 0xc093;
  }
  cpu.modeChanged();
  cpu.cr4 = OSFXSR | OSXMMEXCPT;
  cpu.intercepts.exceptions = -1;
  m.physical.writeBytes(CODE, Uint8Array.from(code));
  cpu.eip = CODE;
  cpu.reg32[4] = 0x80000;
  cpu.reg32[3] = DATA;
  return m;
}

function stop(m: Machine, budget = 100): string {
  const reason = m.cpu.run(budget);
  return reason === 'exception' ? `#${m.cpu.stop.vector}(${m.cpu.stop.errorCode})` : reason;
}

function single(cpu: Cpu, r: number, lane = 0): number {
  return cpu.sse.u32[r * 4 + lane] >>> 0;
}

function setSingles(cpu: Cpu, r: number, ...bits: number[]): void {
  bits.forEach((b, i) => (cpu.sse.u32[r * 4 + i] = b));
}

function double(cpu: Cpu, r: number, lane = 0): bigint {
  return (BigInt(cpu.sse.u32[r * 4 + 2 * lane + 1]) << 32n) | BigInt(cpu.sse.u32[r * 4 + 2 * lane]);
}

function setDouble(cpu: Cpu, r: number, lane: number, bits: bigint): void {
  cpu.sse.u32[r * 4 + 2 * lane] = Number(bits & 0xffffffffn);
  cpu.sse.u32[r * 4 + 2 * lane + 1] = Number(bits >> 32n);
}

const f32 = (v: number): number => new Uint32Array(Float32Array.of(v).buffer)[0];
const f64 = (v: number): bigint => new BigUint64Array(Float64Array.of(v).buffer)[0];

// Encodings (GNU as).
const DIVSS = [0xf3, 0x0f, 0x5e, 0xc1];
const DIVSD = [0xf2, 0x0f, 0x5e, 0xc1];
const ADDPS = [0x0f, 0x58, 0xc1];
const ADDSD = [0xf2, 0x0f, 0x58, 0xc1];
const MULSS = [0xf3, 0x0f, 0x59, 0xc1];
const MAXPS = [0x0f, 0x5f, 0xc1];
const SQRTSD = [0xf2, 0x0f, 0x51, 0xc1];
const MOVAPS_LOAD = [0x0f, 0x28, 0x03];
const MOVUPS_LOAD = [0x0f, 0x10, 0x03];
const MOVDQA_STORE = [0x66, 0x0f, 0x7f, 0x03];
const LDMXCSR = [0x0f, 0xae, 0x13];
const STMXCSR = [0x0f, 0xae, 0x1b];
const FXSAVE = [0x0f, 0xae, 0x03];
const FXSAVE64 = [0x48, 0x0f, 0xae, 0x03];
const FXRSTOR = [0x0f, 0xae, 0x0b];
const COMISS = [0x0f, 0x2f, 0xc1];

/** xmm0 op= xmm1 on singles a, b in rounding mode `rc` (MXCSR 1F80H | rc << 13 | extra): result bits and flags. */
function scalar(op: number[], a: number, b: number, mxcsr = 0x1f80): [number, number] {
  const m = long64([...op, HLT]);
  setSingles(m.cpu, 0, a);
  setSingles(m.cpu, 1, b);
  m.cpu.sse.mxcsr = mxcsr;
  expect(stop(m)).toBe('hlt');
  return [single(m.cpu, 0), m.cpu.sse.mxcsr & 0x3f];
}

function scalarDouble(op: number[], a: bigint, b: bigint, mxcsr = 0x1f80): [bigint, number] {
  const m = long64([...op, HLT]);
  setDouble(m.cpu, 0, 0, a);
  setDouble(m.cpu, 1, 0, b);
  m.cpu.sse.mxcsr = mxcsr;
  expect(stop(m)).toBe('hlt');
  return [double(m.cpu, 0), m.cpu.sse.mxcsr & 0x3f];
}

const RN = 0x1f80;
const RD = 0x3f80;
const RU = 0x5f80;
const RZ = 0x7f80;
const IE = 1;
const DE = 2;
const ZE = 4;
const OE = 8;
const UE = 16;
const PE = 32;
const FTZ = 0x8000;
const DAZ = 0x40;

describe('SSE availability and CPUID', () => {
  it('advertises SSE, SSE2 and FXSR on the x86-64 model only', () => {
    const long = createMachine({ model: 'x86-64' }).cpu;
    long.reg32[0] = 1;
    cpuid(long);
    expect(long.reg32[2] & (7 << 24)).toBe(7 << 24);
    const i686 = createMachine().cpu;
    i686.reg32[0] = 1;
    cpuid(i686);
    expect(i686.reg32[2] & (7 << 24)).toBe(1 << 24);
    // CR4.OSXMMEXCPT needs SSE: #GP(0) on the i686, accepted on the x86-64 model.
    expect(() => writeControlRegister(i686, 4, OSXMMEXCPT)).toThrow();
    writeControlRegister(long, 4, OSFXSR | OSXMMEXCPT);
    expect(long.cr4).toBe(OSFXSR | OSXMMEXCPT);
  });

  it('raises #UD without CR4.OSFXSR or with CR0.EM, #NM with CR0.TS, and #UD on the i686', () => {
    let m = long64([...ADDPS, HLT]);
    m.cpu.cr4 &= ~OSFXSR;
    expect(stop(m)).toBe('#6(-1)');
    m = long64([...ADDPS, HLT]);
    m.cpu.cr0 |= 4;
    expect(stop(m)).toBe('#6(-1)');
    m = long64([...ADDPS, HLT]);
    m.cpu.cr0 |= 8;
    expect(stop(m)).toBe('#7(-1)');
    m = long64([...LDMXCSR, HLT]);
    m.cpu.cr0 |= 8;
    expect(stop(m)).toBe('#7(-1)');
    // FXSAVE needs no OSFXSR; CR0.TS still #NM.
    m = long64([...FXSAVE, HLT]);
    m.cpu.cr4 &= ~OSFXSR;
    expect(stop(m)).toBe('hlt');
    m = flat32([...ADDPS, HLT], 'i686');
    expect(stop(m)).toBe('#6(-1)');
    m = flat32([...ADDPS, HLT]);
    expect(stop(m)).toBe('hlt');
    // LOCK, the MMX forms (no 66) and SSE3 encodings are #UD.
    for (const code of [[0xf0, ...ADDPS], [0x0f, 0xfe, 0xc1], [0x0f, 0x6f, 0xc1], [0xf2, 0x0f, 0x12, 0xc1], [0x66, 0x0f, 0x7c, 0xc1]]) {
      expect(stop(long64([...code, HLT])), code.map((b) => b.toString(16)).join(' ')).toBe('#6(-1)');
    }
  });

  it('raises #GP(0) for a misaligned aligned form, not for the unaligned ones', () => {
    let m = long64([...MOVAPS_LOAD, HLT]);
    m.cpu.reg32[3] = DATA + 8;
    expect(stop(m)).toBe('#13(0)');
    m = long64([...MOVDQA_STORE, HLT]);
    m.cpu.reg32[3] = DATA + 4;
    expect(stop(m)).toBe('#13(0)');
    m = long64([0x0f, 0x58, 0x03, HLT]); // addps (%rbx), %xmm0
    m.cpu.reg32[3] = DATA + 1;
    expect(stop(m)).toBe('#13(0)');
    m = long64([...MOVUPS_LOAD, HLT]);
    m.cpu.reg32[3] = DATA + 1;
    m.physical.write32(DATA + 1, 0x3f800000);
    expect(stop(m)).toBe('hlt');
    expect(single(m.cpu, 0)).toBe(0x3f800000);
    m = flat32([...MOVAPS_LOAD, HLT]);
    m.cpu.reg32[3] = DATA + 8;
    expect(stop(m)).toBe('#13(0)');
  });

  it('LDMXCSR and FXRSTOR raise #GP(0) for reserved MXCSR bits and change nothing', () => {
    let m = long64([...LDMXCSR, HLT]);
    m.physical.write32(DATA, 0x10000);
    expect(stop(m)).toBe('#13(0)');
    expect(m.cpu.sse.mxcsr).toBe(0x1f80);
    m = long64([...LDMXCSR, ...STMXCSR.slice(0, 2), 0x5b, 0x10, HLT]); // stmxcsr 0x10(%rbx)
    m.physical.write32(DATA, 0xffff);
    expect(stop(m)).toBe('hlt');
    expect(m.physical.read32(DATA + 0x10)).toBe(0xffff);
    m = long64([...FXRSTOR, HLT]);
    m.physical.write32(DATA + 24, 0x80001f80);
    m.physical.write32(DATA + 160, 0x1234);
    expect(stop(m)).toBe('#13(0)');
    expect(m.cpu.sse.mxcsr).toBe(0x1f80);
    expect(single(m.cpu, 0)).toBe(0);
  });
});

describe('FXSAVE and FXRSTOR with XMM state', () => {
  it('saves MXCSR, MXCSR_MASK and XMM0-15 in 64-bit mode and restores them', () => {
    const m = long64([...FXSAVE64, 0x66, 0x0f, 0xef, 0xc0, ...FXRSTOR, HLT]); // fxsaveq; pxor xmm0,xmm0; fxrstor
    const { cpu } = m;
    cpu.sse.mxcsr = 0x7fa0;
    setSingles(cpu, 0, 0x11111111, 0x22222222, 0x33333333, 0x44444444);
    setSingles(cpu, 15, 0xdeadbeef, 0, 0, 0xcafef00d);
    expect(stop(m)).toBe('hlt');
    expect(m.physical.read32(DATA + 24)).toBe(0x7fa0);
    expect(m.physical.read32(DATA + 28)).toBe(0xffff);
    expect(m.physical.read32(DATA + 160)).toBe(0x11111111);
    expect(m.physical.read32(DATA + 160 + 12)).toBe(0x44444444);
    expect(m.physical.read32(DATA + 160 + 15 * 16)).toBe(0xdeadbeef);
    expect(single(cpu, 0, 3)).toBe(0x44444444);
    expect(cpu.sse.mxcsr).toBe(0x7fa0);
  });

  it('keeps XMM8-15 out of the 32-bit image and leaves the i686 image as it was', () => {
    const m = flat32([...FXSAVE, HLT]);
    m.physical.write32(DATA + 288, 0x5a5a5a5a);
    setSingles(m.cpu, 7, 0x77777777);
    m.cpu.sse.mxcsr = 0x1f81;
    expect(stop(m)).toBe('hlt');
    expect(m.physical.read32(DATA + 160 + 7 * 16)).toBe(0x77777777);
    expect(m.physical.read32(DATA + 288)).toBe(0x5a5a5a5a);
    expect(m.physical.read32(DATA + 24)).toBe(0x1f81);
    const old = flat32([...FXSAVE, HLT], 'i686');
    old.physical.write32(DATA + 160, 0x5a5a5a5a);
    expect(stop(old)).toBe('hlt');
    expect(old.physical.read32(DATA + 24)).toBe(0x1f80);
    expect(old.physical.read32(DATA + 28)).toBe(0);
    expect(old.physical.read32(DATA + 160)).toBe(0x5a5a5a5a);
  });
});

describe('the vCPU state image', () => {
  it('carries MXCSR and XMM0-15 on the x86-64 model and refuses reserved MXCSR bits', () => {
    const from = createMachine({ model: 'x86-64' }).cpu;
    from.sse.mxcsr = 0x9fc0;
    setSingles(from, 15, 1, 2, 3, 4);
    const image = cpuFpuImage(from);
    const to = createMachine({ model: 'x86-64' }).cpu;
    setCpuFpuImage(to, image);
    expect(to.sse.mxcsr).toBe(0x9fc0);
    expect(single(to, 15, 3)).toBe(4);
    expect(cpuFpuImage(to)).toEqual(image);
    image[26] = 1; // MXCSR bit 16
    expect(() => setCpuFpuImage(to, image)).toThrow(RangeError);
  });
});

describe('SSE floating point', () => {
  it('rounds 1/3 by MXCSR.RC in single and double precision', () => {
    const one = f32(1);
    const three = f32(3);
    expect(scalar(DIVSS, one, three, RN)).toEqual([0x3eaaaaab, PE]);
    expect(scalar(DIVSS, one, three, RD)).toEqual([0x3eaaaaaa, PE]);
    expect(scalar(DIVSS, one, three, RU)).toEqual([0x3eaaaaab, PE]);
    expect(scalar(DIVSS, one, three, RZ)).toEqual([0x3eaaaaaa, PE]);
    expect(scalar(DIVSS, f32(-1), three, RD)).toEqual([0xbeaaaaab, PE]);
    expect(scalar(DIVSS, f32(-1), three, RU)).toEqual([0xbeaaaaaa, PE]);
    expect(scalarDouble(DIVSD, f64(1), f64(3), RN)).toEqual([0x3fd5555555555555n, PE]);
    expect(scalarDouble(DIVSD, f64(1), f64(3), RU)).toEqual([0x3fd5555555555556n, PE]);
    expect(scalarDouble(DIVSD, f64(2), f64(4), RU)).toEqual([f64(0.5), 0]);
    expect(scalarDouble(SQRTSD, 0n, f64(2), RD)).toEqual([0x3ff6a09e667f3bccn, PE]);
    expect(scalarDouble(SQRTSD, 0n, f64(2), RU)).toEqual([0x3ff6a09e667f3bcdn, PE]);
  });

  it('gives the masked overflow and underflow results of each mode, FTZ and DAZ', () => {
    const max = 0x7f7fffff;
    expect(scalar(MULSS, max, f32(2), RN)).toEqual([0x7f800000, OE | PE]);
    expect(scalar(MULSS, max, f32(2), RZ)).toEqual([max, OE | PE]);
    expect(scalar(MULSS, max, f32(2), RD)).toEqual([max, OE | PE]);
    expect(scalar(MULSS, max | 0x80000000, f32(2), RD)).toEqual([0xff800000, OE | PE]);
    // 2^-126 * 0.75: tiny and exact (denormal, no flags) ...
    expect(scalar(MULSS, 0x00800000, f32(0.75), RN)).toEqual([0x00600000, 0]);
    // ... 2^-149 * 0.5: tiny and inexact, rounding to 0 or the smallest denormal.
    expect(scalar(MULSS, 1, f32(0.5), RN)).toEqual([0, UE | PE | DE]);
    expect(scalar(MULSS, 1, f32(0.5), RU)).toEqual([1, UE | PE | DE]);
    expect(scalar(MULSS, 0x00800000, f32(0.75), RN | FTZ)).toEqual([0, UE | PE]);
    expect(scalar(MULSS, 1, f32(3), RN | DAZ)).toEqual([0, 0]);
    expect(scalar(MULSS, 0x80000001, f32(3), RN)).toEqual([0x80000003, DE]);
    expect(scalar(MULSS, 0x80000001, f32(3), RN | DAZ)).toEqual([0x80000000, 0]);
    // MAX + a quarter of its ulp: inexact; overflow only rounding up.
    expect(scalarDouble(ADDSD, 0x7fefffffffffffffn, 0x7c80000000000000n, RU)).toEqual([0x7ff0000000000000n, OE | PE]);
    expect(scalarDouble(ADDSD, 0x7fefffffffffffffn, 0x7c80000000000000n, RN)).toEqual([0x7fefffffffffffffn, PE]);
    expect(scalarDouble(ADDSD, 0x7ff0000000000000n, f64(-2), RN)).toEqual([0x7ff0000000000000n, 0]);
  });

  it('propagates NaNs by the SSE rules and returns the QNaN indefinite for invalid operations', () => {
    const snan = 0x7f800001;
    const qnan = 0x7fc00002;
    expect(scalar(DIVSS, snan, f32(1))).toEqual([0x7fc00001, IE]);
    expect(scalar(DIVSS, qnan, snan)).toEqual([qnan, IE]); // the first source wins, quieted
    expect(scalar(DIVSS, snan, qnan)).toEqual([0x7fc00001, IE]);
    expect(scalar(DIVSS, f32(1), qnan)).toEqual([qnan, 0]);
    expect(scalar(DIVSS, 0, 0)).toEqual([0xffc00000, IE]);
    expect(scalar(DIVSS, f32(-2), 0)).toEqual([0xff800000, ZE]);
    expect(scalar(MULSS, 0x7f800000, 0x80000000)).toEqual([0xffc00000, IE]);
    expect(scalarDouble(SQRTSD, 0n, f64(-1))).toEqual([0xfff8000000000000n, IE]);
    expect(scalarDouble(SQRTSD, 0n, 0x8000000000000000n)).toEqual([0x8000000000000000n, 0]);
    // MAXPS: any NaN is invalid and the second operand comes back as it is, SNaN included.
    const m = long64([...MAXPS, HLT]);
    setSingles(m.cpu, 0, qnan, f32(1), 0x80000000, f32(5));
    setSingles(m.cpu, 1, f32(2), snan, 0, f32(-5));
    expect(stop(m)).toBe('hlt');
    expect([0, 1, 2, 3].map((l) => single(m.cpu, 0, l))).toEqual([f32(2), snan, 0, f32(5)]);
    expect(m.cpu.sse.mxcsr & 0x3f).toBe(IE);
  });

  it('raises #XM for an unmasked exception (#UD without OSXMMEXCPT), the destination unchanged', () => {
    let m = long64([...DIVSS, HLT]);
    setSingles(m.cpu, 0, f32(1));
    setSingles(m.cpu, 1, 0);
    m.cpu.sse.mxcsr = 0x1f80 & ~0x200; // ZM clear
    expect(stop(m)).toBe('#19(-1)');
    expect(single(m.cpu, 0)).toBe(f32(1));
    expect(m.cpu.sse.mxcsr & 0x3f).toBe(ZE);
    m = long64([...DIVSS, HLT]);
    m.cpu.cr4 &= ~OSXMMEXCPT;
    setSingles(m.cpu, 1, 0);
    setSingles(m.cpu, 0, f32(1));
    m.cpu.sse.mxcsr = 0x1f80 & ~0x200;
    expect(stop(m)).toBe('#6(-1)');
    // An unmasked underflow raises #XM for a tiny result even when exact (UE alone), FTZ or not.
    for (const ftz of [0, FTZ]) {
      m = long64([...MULSS, HLT]);
      setSingles(m.cpu, 0, 0x00800000);
      setSingles(m.cpu, 1, f32(0.75));
      m.cpu.sse.mxcsr = (0x1f80 & ~0x800) | ftz; // UM clear
      expect(stop(m)).toBe('#19(-1)');
      expect(m.cpu.sse.mxcsr & 0x3f).toBe(UE);
      expect(single(m.cpu, 0)).toBe(0x00800000);
    }
    // Packed: an unmasked invalid in lane 0 reports only the pre-computation flags, not lane 1's overflow.
    m = long64([...ADDPS, HLT]);
    setSingles(m.cpu, 0, 0x7f800000, 0x7f7fffff, 0, 0);
    setSingles(m.cpu, 1, 0xff800000, 0x7f7fffff, 0, 0);
    m.cpu.sse.mxcsr = 0x1f80 & ~0x80; // IM clear
    expect(stop(m)).toBe('#19(-1)');
    expect(m.cpu.sse.mxcsr & 0x3f).toBe(IE);
    expect(single(m.cpu, 0, 1)).toBe(0x7f7fffff);
    // An unmasked post-computation exception (precision) sets every flag and still writes nothing.
    m = long64([...DIVSS, HLT]);
    setSingles(m.cpu, 0, f32(1));
    setSingles(m.cpu, 1, f32(3));
    m.cpu.sse.mxcsr = 0x1f80 & ~0x1000; // PM clear
    expect(stop(m)).toBe('#19(-1)');
    expect(m.cpu.sse.mxcsr & 0x3f).toBe(PE);
    expect(single(m.cpu, 0)).toBe(f32(1));
  });

  it('COMISS sets ZF, PF, CF and signals invalid on a QNaN; conversions give the integer indefinite', () => {
    const m = long64([...COMISS, HLT]);
    setSingles(m.cpu, 0, f32(1));
    setSingles(m.cpu, 1, 0x7fc00000);
    expect(stop(m)).toBe('hlt');
    expect(m.cpu.getEflags() & 0x8d5).toBe(0x45);
    expect(m.cpu.sse.mxcsr & IE).toBe(IE);
    const c = long64([0xf3, 0x0f, 0x2c, 0xc0, 0xf2, 0x48, 0x0f, 0x2c, 0xc8, HLT]); // cvttss2si eax; cvttsd2si rcx
    setSingles(c.cpu, 0, 0x7fc00000, 0xffffffff);
    expect(stop(c)).toBe('hlt');
    expect(c.cpu.reg32[0] >>> 0).toBe(0x80000000);
    expect([c.cpu.reg32[1], c.cpu.regHi[1] >>> 0]).toEqual([0, 0x80000000]);
    expect(c.cpu.sse.mxcsr & 0x3f).toBe(IE);
  });
});

describe('decoding in 32-bit and 64-bit code', () => {
  it('runs SSE2 integer code in flat 32-bit protected mode', () => {
    // movdqu (%ebx),%xmm2; paddw %xmm2,%xmm3; movd %xmm3,%eax; pshufd $0x1b,%xmm3,%xmm4
    const m = flat32([0xf3, 0x0f, 0x6f, 0x13, 0x66, 0x0f, 0xfd, 0xda, 0x66, 0x0f, 0x7e, 0xd8, 0x66, 0x0f, 0x70, 0xe3, 0x1b, HLT]);
    for (let i = 0; i < 4; i++) m.physical.write32(DATA + 4 * i, 0x00010001 * (i + 1));
    setSingles(m.cpu, 3, 0xffff0001, 0, 0, 0x12345678);
    expect(stop(m)).toBe('hlt');
    expect(m.cpu.reg32[0] >>> 0).toBe(0x00000002);
    expect([0, 1, 2, 3].map((l) => single(m.cpu, 4, l))).toEqual([0x1238567c, 0x00030003, 0x00020002, 0x00000002]);
  });

  it('reaches XMM8-15 and R8-R15 through REX and zero-extends MOVD', () => {
    // movq %r9,%xmm8; paddq %xmm8,%xmm13; movq %xmm13,%r10
    const m = long64([0x66, 0x4d, 0x0f, 0x6e, 0xc1, 0x66, 0x45, 0x0f, 0xd4, 0xe8, 0x66, 0x4d, 0x0f, 0x7e, 0xea, HLT]);
    m.cpu.reg32[9] = -1;
    m.cpu.regHi[9] = 0x7fffffff;
    setSingles(m.cpu, 13, 1, 0, 7, 7);
    expect(stop(m)).toBe('hlt');
    expect([m.cpu.reg32[10], m.cpu.regHi[10]]).toEqual([0, -0x80000000]);
    expect(single(m.cpu, 13, 2)).toBe(7);
  });

  it('MASKMOVDQU stores the selected bytes at DS:rDI; MOVNTI, PEXTRW and PINSRW', () => {
    // maskmovdqu xmm1,xmm0; movnti rax,0x20(rbx); pextrw $5,xmm0,ecx; pinsrw $1,0x30(rbx),xmm2
    const m = long64([0x66, 0x0f, 0xf7, 0xc1, 0x48, 0x0f, 0xc3, 0x43, 0x20, 0x66, 0x0f, 0xc5, 0xc8, 0x05, 0x66, 0x0f, 0xc4, 0x53, 0x30, 0x01, HLT]);
    const { cpu, physical } = m;
    cpu.reg32[7] = DATA + 0x100;
    physical.write32(DATA + 0x100, 0x11111111);
    setSingles(cpu, 0, 0x44332211, 0x88776655, 0x12345678, 0xffeeddcc);
    setSingles(cpu, 1, 0x80008000, 0, 0, 0);
    cpu.reg32[0] = 0x01020304;
    cpu.regHi[0] = 0x05060708;
    physical.write32(DATA + 0x30, 0xbeef);
    expect(stop(m)).toBe('hlt');
    expect(physical.read32(DATA + 0x100) >>> 0).toBe(0x44112211);
    expect([physical.read32(DATA + 0x20), physical.read32(DATA + 0x24)]).toEqual([0x01020304, 0x05060708]);
    expect(cpu.reg32[1]).toBe(0x1234);
    expect(single(cpu, 2)).toBe(0xbeef0000);
    const p = flat32([0x66, 0x0f, 0xf7, 0xc1, 0x0f, 0xc3, 0x43, 0x20, HLT]);
    p.cpu.reg32[7] = DATA + 0x200;
    setSingles(p.cpu, 0, 0xaabbccdd);
    setSingles(p.cpu, 1, 0x00000080);
    p.cpu.reg32[0] = 0x12345678;
    expect(stop(p)).toBe('hlt');
    expect(p.physical.read32(DATA + 0x200)).toBe(0xdd);
    expect(p.physical.read32(DATA + 0x20)).toBe(0x12345678);
  });

  it('measures SSE instructions for the 15-byte limit and intercept lengths on the SSE model only', () => {
    const at = (bytes: number[]) => (i: number): number => bytes[i] ?? 0;
    const pshufd = [0x66, 0x0f, 0x70, 0x84, 0x24, 1, 2, 3, 4, 0x1b]; // pshufd $0x1b, 0x04030201(%esp), %xmm0
    expect(decodeLength(at(pshufd), true, true)).toBe(10);
    expect(decodeLength(at(pshufd), true, false)).toBe(-1);
    expect(decodeLength(at([0x0f, 0xae, 0x5b, 0x10]), true, true)).toBe(4); // stmxcsr 0x10(%ebx)
    const long = flat32([0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, ...pshufd, HLT]); // 16 bytes: #GP(0)
    expect(stop(long)).toBe('#13(0)');
    const fits = flat32([0x3e, 0x3e, 0x3e, 0x3e, 0x3e, ...pshufd.slice(0, 3), 0xc1, 0x1b, HLT]);
    expect(stop(fits)).toBe('hlt');
  });

  it('never lets random SSE-prefixed bytes escape run() in either mode', { timeout: 120_000 }, () => {
    const rng = random(0x55e);
    const prefixes = [0x66, 0xf2, 0xf3, 0x41, 0x44, 0x48, 0x4d, 0x67];
    for (let i = 0; i < 200; i++) {
      const code: number[] = [];
      for (let k = 0; k < 8; k++) {
        if (rng() & 1) code.push(prefixes[rng() & 7]);
        code.push(0x0f, 0x10 + (rng() % 0xf0), rng() & 0xff, rng() & 0xff, rng() & 0xff, rng() & 0xff);
      }
      const m = i & 1 ? long64(code) : flat32(code);
      m.cpu.sse.mxcsr = 0x1f80 & ~((rng() & 0x3f) << 7);
      for (let r = 0; r < 16; r++) setSingles(m.cpu, r, rng(), rng(), rng(), rng());
      expect(['hlt', 'budget', 'exception', 'shutdown']).toContain(m.cpu.run(50));
    }
  });
});
