import { describe, expect, it } from 'vitest';
import { CF, OF, ZF } from '../src/flags.js';
import { CODE, createMachine } from './support/machine.js';

// Instruction groups beyond what the 16-bit SST vectors cover: 32-bit operand sizes and the i486/
// P6 additions. Programs are hand-encoded (bytes with the assembly beside them) and end in HLT.

const EAX = 0, ECX = 1, EDX = 2, EBX = 3;

function run32(bytes: number[]) {
  const m = createMachine('flat32');
  m.load([...bytes, 0xf4]);
  const reason = m.cpu.run(1000);
  return { ...m, reason, r: m.cpu.reg32 };
}

describe('32-bit arithmetic', () => {
  it('ADD sets CF and ZF on a 32-bit wrap', () => {
    const { r, cpu, reason } = run32([
      0xb8, 0xff, 0xff, 0xff, 0xff, // mov eax, 0xffffffff
      0x83, 0xc0, 0x01, //             add eax, 1
    ]);
    expect(reason).toBe('hlt');
    expect(r[EAX]).toBe(0);
    expect(cpu.getEflags() & (CF | ZF | OF)).toBe(CF | ZF);
  });

  it('ADC carries in and overflows into the sign bit', () => {
    const { r, cpu } = run32([
      0xf9, //                         stc
      0xb8, 0xff, 0xff, 0xff, 0x7f, // mov eax, 0x7fffffff
      0x83, 0xd0, 0x00, //             adc eax, 0
    ]);
    expect(r[EAX] >>> 0).toBe(0x80000000);
    expect(cpu.getEflags() & (CF | OF)).toBe(OF);
  });

  it('SBB borrows through a zero operand', () => {
    const { r, cpu } = run32([
      0xf9, //                   stc
      0x31, 0xc0, //             xor eax, eax  (clears CF)
      0xf9, //                   stc
      0x83, 0xd8, 0x00, //       sbb eax, 0
    ]);
    expect(r[EAX] >>> 0).toBe(0xffffffff);
    expect(cpu.getEflags() & CF).toBe(CF);
  });

  it('MUL r/m32 leaves the 64-bit product in EDX:EAX', () => {
    const { r, cpu } = run32([
      0xb8, 0xff, 0xff, 0xff, 0xff, // mov eax, 0xffffffff
      0xb9, 0xff, 0xff, 0xff, 0xff, // mov ecx, 0xffffffff
      0xf7, 0xe1, //                   mul ecx
    ]);
    expect(r[EDX] >>> 0).toBe(0xfffffffe);
    expect(r[EAX]).toBe(1);
    expect(cpu.getEflags() & (CF | OF)).toBe(CF | OF);
  });

  it('IMUL r32, r/m32 truncates and flags the overflow', () => {
    const { r, cpu } = run32([
      0xb8, 0x00, 0x00, 0x01, 0x00, // mov eax, 0x10000
      0x0f, 0xaf, 0xc0, //             imul eax, eax
    ]);
    expect(r[EAX]).toBe(0);
    expect(cpu.getEflags() & (CF | OF)).toBe(CF | OF);
  });

  it('IMUL r32, r/m32 flags exactly the products outside the int32 range', () => {
    const flagsOf = (a: number, b: number) => {
      const { r, cpu } = run32([
        0xb8, a & 0xff, (a >> 8) & 0xff, (a >> 16) & 0xff, (a >>> 24) & 0xff, // mov eax, a
        0xb9, b & 0xff, (b >> 8) & 0xff, (b >> 16) & 0xff, (b >>> 24) & 0xff, // mov ecx, b
        0x0f, 0xaf, 0xc1, //                                                      imul eax, ecx
      ]);
      return [r[EAX] | 0, cpu.getEflags() & (CF | OF)];
    };
    expect(flagsOf(0x10000, 0x8000)).toEqual([-0x80000000, CF | OF]); // +2^31 does not fit
    expect(flagsOf(-0x10000, 0x8000)).toEqual([-0x80000000, 0]); // -2^31 does
    expect(flagsOf(0x7fffffff, 0x7fffffff)).toEqual([1, CF | OF]);
    expect(flagsOf(-1, -1)).toEqual([1, 0]);
  });

  it('IMUL r/m32 sign-extends a product that fits', () => {
    const { r, cpu } = run32([
      0xb8, 0xfd, 0xff, 0xff, 0xff, // mov eax, -3
      0xb9, 0x05, 0x00, 0x00, 0x00, // mov ecx, 5
      0xf7, 0xe9, //                   imul ecx
    ]);
    expect(r[EAX]).toBe(-15);
    expect(r[EDX]).toBe(-1);
    expect(cpu.getEflags() & (CF | OF)).toBe(0);
  });

  it('DIV r/m32 divides the 64-bit EDX:EAX', () => {
    const { r } = run32([
      0xba, 0x01, 0x00, 0x00, 0x00, // mov edx, 1
      0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1
      0xb9, 0x02, 0x00, 0x00, 0x00, // mov ecx, 2
      0xf7, 0xf1, //                   div ecx   (0x100000001 / 2)
    ]);
    expect(r[EAX] >>> 0).toBe(0x80000000);
    expect(r[EDX]).toBe(1);
  });

  it('IDIV r/m32 truncates toward zero', () => {
    const { r } = run32([
      0xb8, 0xf9, 0xff, 0xff, 0xff, // mov eax, -7
      0x99, //                         cdq
      0xb9, 0x02, 0x00, 0x00, 0x00, // mov ecx, 2
      0xf7, 0xf9, //                   idiv ecx
    ]);
    expect(r[EAX]).toBe(-3);
    expect(r[EDX]).toBe(-1);
  });

  it('DIV with a quotient too large raises #DE before changing EAX', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.exceptions = 1 << 0;
    m.load([
      0xba, 0x05, 0x00, 0x00, 0x00, // mov edx, 5
      0xb9, 0x02, 0x00, 0x00, 0x00, // mov ecx, 2
      0xf7, 0xf1, //                   div ecx
    ]);
    m.cpu.reg32[EAX] = 1234;
    expect(m.cpu.run(100)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(0);
    expect(m.cpu.eip).toBe(CODE + 10);
    expect(m.cpu.reg32[EAX]).toBe(1234);
  });

  it('SHLD and SHRD shift in bits from the second operand', () => {
    const { r } = run32([
      0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
      0xba, 0xf0, 0xde, 0xbc, 0x9a, // mov edx, 0x9abcdef0
      0x89, 0xc3, //                   mov ebx, eax
      0x0f, 0xa4, 0xd0, 0x08, //       shld eax, edx, 8
      0x0f, 0xac, 0xd3, 0x08, //       shrd ebx, edx, 8
    ]);
    expect(r[EAX] >>> 0).toBe(0x3456789a);
    expect(r[EBX] >>> 0).toBe(0xf0123456);
  });

  it('BSF and BSR find the lowest and highest set bit; a zero source sets ZF', () => {
    const { r, cpu } = run32([
      0xb8, 0xf0, 0x00, 0x00, 0x00, // mov eax, 0xf0
      0x0f, 0xbc, 0xc8, //             bsf ecx, eax
      0x0f, 0xbd, 0xd0, //             bsr edx, eax
      0x31, 0xdb, //                   xor ebx, ebx
      0x0f, 0xbc, 0xc3, //             bsf eax, ebx
    ]);
    expect(r[ECX]).toBe(4);
    expect(r[EDX]).toBe(7);
    expect(r[EAX]).toBe(0xf0);
    expect(cpu.getEflags() & ZF).toBe(ZF);
  });

  it('BT/BTS/BTR/BTC with a register offset address bits beyond the operand', () => {
    const m = createMachine('flat32');
    m.memory.write32(0x2004, 0);
    m.load([
      0xb8, 0x00, 0x20, 0x00, 0x00, // mov eax, 0x2000
      0xb9, 0x21, 0x00, 0x00, 0x00, // mov ecx, 33
      0x0f, 0xab, 0x08, //             bts [eax], ecx   (bit 1 of the dword at 0x2004)
      0x0f, 0xa3, 0x08, //             bt [eax], ecx
      0xf4,
    ]);
    m.cpu.run(100);
    expect(m.memory.read32(0x2004)).toBe(2);
    expect(m.cpu.getEflags() & CF).toBe(CF);
  });
});

describe('i486 and P6 additions', () => {
  it('CMOVcc moves only when the condition holds', () => {
    const { r } = run32([
      0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1
      0xb9, 0x02, 0x00, 0x00, 0x00, // mov ecx, 2
      0xba, 0x07, 0x00, 0x00, 0x00, // mov edx, 7
      0x39, 0xc8, //                   cmp eax, ecx
      0x0f, 0x4c, 0xc1, //             cmovl eax, ecx
      0x0f, 0x4f, 0xd1, //             cmovg edx, ecx
    ]);
    expect(r[EAX]).toBe(2);
    expect(r[EDX]).toBe(7);
  });

  it('SETcc writes 0 or 1', () => {
    const { r } = run32([
      0x31, 0xc0, //       xor eax, eax
      0x0f, 0x94, 0xc0, // setz al
      0x0f, 0x95, 0xc4, // setnz ah
    ]);
    expect(r[EAX]).toBe(1);
  });

  it('BSWAP reverses the bytes of a register', () => {
    const { r } = run32([
      0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
      0x0f, 0xc8, //                   bswap eax
    ]);
    expect(r[EAX] >>> 0).toBe(0x78563412);
  });

  it('XADD exchanges and adds', () => {
    const { r } = run32([
      0xb8, 0x05, 0x00, 0x00, 0x00, // mov eax, 5
      0xb9, 0x03, 0x00, 0x00, 0x00, // mov ecx, 3
      0x0f, 0xc1, 0xc8, //             xadd eax, ecx
    ]);
    expect(r[EAX]).toBe(8);
    expect(r[ECX]).toBe(5);
  });

  it('CMPXCHG stores on a match and loads the accumulator otherwise', () => {
    const m = createMachine('flat32');
    m.memory.write32(0x2000, 5);
    m.load([
      0xb8, 0x05, 0x00, 0x00, 0x00, //       mov eax, 5
      0xb9, 0x09, 0x00, 0x00, 0x00, //       mov ecx, 9
      0x0f, 0xb1, 0x0d, 0x00, 0x20, 0x00, 0x00, // cmpxchg [0x2000], ecx   (match: stores 9)
      0x0f, 0xb1, 0x0d, 0x00, 0x20, 0x00, 0x00, // cmpxchg [0x2000], ecx   (5 != 9: EAX = 9)
      0xf4,
    ]);
    m.cpu.run(100);
    expect(m.memory.read32(0x2000)).toBe(9);
    expect(m.cpu.reg32[EAX]).toBe(9);
    expect(m.cpu.getEflags() & ZF).toBe(0);
  });

  it('CMPXCHG8B compares EDX:EAX and stores ECX:EBX', () => {
    const m = createMachine('flat32');
    m.memory.write32(0x2000, 0x22222222);
    m.memory.write32(0x2004, 0x11111111);
    const cmpxchg8b = [0x0f, 0xc7, 0x0d, 0x00, 0x20, 0x00, 0x00]; // cmpxchg8b [0x2000]
    m.load([...cmpxchg8b, ...cmpxchg8b, 0xf4]);
    const r = m.cpu.reg32;
    r[EDX] = 0x11111111;
    r[EAX] = 0x22222222;
    r[ECX] = 0x33333333;
    r[EBX] = 0x44444444;
    m.cpu.run(1);
    expect(m.memory.read32(0x2000)).toBe(0x44444444);
    expect(m.memory.read32(0x2004)).toBe(0x33333333);
    expect(m.cpu.getEflags() & ZF).toBe(ZF);
    m.cpu.run(1);
    expect(r[EAX]).toBe(0x44444444);
    expect(r[EDX]).toBe(0x33333333);
    expect(m.cpu.getEflags() & ZF).toBe(0);
  });

  it('CMPXCHG8B with a register operand is #UD', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.exceptions = 1 << 6;
    m.load([0x0f, 0xc7, 0xc8]); // cmpxchg8b eax (invalid)
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(6);
  });

  it('CPUID reports the documented model: GenuineIntel family 6, FPU TSC MSR CX8 CMOV FXSR, no SSE', () => {
    const m = createMachine('flat32');
    m.load([0x0f, 0xa2, 0xf4]); // cpuid
    m.cpu.reg32[EAX] = 0;
    m.cpu.run(10);
    const r = m.cpu.reg32;
    const text = (v: number) => String.fromCharCode(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24);
    expect(text(r[EBX]) + text(r[EDX]) + text(r[ECX])).toBe('GenuineIntel');
    expect(r[EAX]).toBe(1);
    m.load([0x0f, 0xa2, 0xf4]);
    r[EAX] = 1;
    m.cpu.run(10);
    expect((r[EAX] >> 8) & 0xf).toBe(6);
    const features = r[EDX];
    expect(features & 1).toBe(1); // x87 FPU
    for (const bit of [4, 5, 8, 15, 24]) expect((features >>> bit) & 1).toBe(1); // TSC MSR CX8 CMOV FXSR
    for (const bit of [19, 23, 25, 26]) expect((features >>> bit) & 1).toBe(0); // no CLFSH MMX SSE SSE2
  });

  it('RDTSC counts retired instructions and WRMSR(IA32_TIME_STAMP_COUNTER) moves it', () => {
    const m = createMachine('flat32');
    m.load([
      0x0f, 0x31, //                   rdtsc
      0x89, 0xc3, //                   mov ebx, eax
      0x90, 0x90, 0x90, //             nop x3
      0x0f, 0x31, //                   rdtsc
      0x29, 0xd8, //                   sub eax, ebx
      0xf4,
    ]);
    m.cpu.run(100);
    expect(m.cpu.reg32[EAX]).toBe(5);
    m.load([
      0xb9, 0x10, 0x00, 0x00, 0x00, // mov ecx, 0x10
      0x31, 0xd2, //                   xor edx, edx
      0xb8, 0x00, 0x10, 0x00, 0x00, // mov eax, 0x1000
      0x0f, 0x30, //                   wrmsr
      0x0f, 0x32, //                   rdmsr
      0xf4,
    ]);
    m.cpu.run(100);
    expect(m.cpu.reg32[EAX]).toBe(0x1001);
    expect(m.cpu.reg32[EDX]).toBe(0);
  });

  it('IA32_BIOS_SIGN_ID takes the write of 0, and after CPUID reads the microcode revision 0', () => {
    // Linux's early_init_intel: wrmsr(0x8b, 0, 0); cpuid(1); rdmsr(0x8b). Unchecked on a P6.
    const m = createMachine('flat32');
    m.cpu.intercepts.exceptions = 1 << 13;
    m.load([
      0xb9, 0x8b, 0x00, 0x00, 0x00, // mov ecx, 0x8b
      0x31, 0xc0, //                   xor eax, eax
      0x31, 0xd2, //                   xor edx, edx
      0x0f, 0x30, //                   wrmsr
      0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1
      0x0f, 0xa2, //                   cpuid
      0xb9, 0x8b, 0x00, 0x00, 0x00, // mov ecx, 0x8b
      0xb8, 0xff, 0xff, 0xff, 0xff, // mov eax, -1
      0xba, 0xff, 0xff, 0xff, 0xff, // mov edx, -1
      0x0f, 0x32, //                   rdmsr
      0xf4,
    ]);
    expect(m.cpu.run(100)).toBe('hlt');
    expect(m.cpu.reg32[EAX]).toBe(0);
    expect(m.cpu.reg32[EDX]).toBe(0);
  });

  it('RDMSR of an MSR the core does not implement is #GP(0)', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.exceptions = 1 << 13;
    m.load([0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32]); // mov ecx, 0xc0000080; rdmsr
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(13);
    expect(m.cpu.stop.errorCode).toBe(0);
  });
});

describe('invalid encodings', () => {
  const cases: [string, number[]][] = [
    ['UD2', [0x0f, 0x0b]],
    ['an unassigned two-byte opcode (0F 04)', [0x0f, 0x04]],
    ['LOCK NOP', [0xf0, 0x90]],
    ['LOCK ADD with a register destination', [0xf0, 0x01, 0xc0]],
    ['LOCK MOV (not a read-modify-write)', [0xf0, 0x89, 0x05, 0x00, 0x20, 0x00, 0x00]],
    ['LOCK CMP (no write)', [0xf0, 0x39, 0x05, 0x00, 0x20, 0x00, 0x00]],
    ['LEA with a register source', [0x8d, 0xc0]],
    ['MOV CS, r/m', [0x8e, 0xc8]],
    ['POP r/m with reg field 1', [0x8f, 0xc8]],
    ['FF /7', [0xff, 0xf8]],
    ['far JMP through a register', [0xff, 0xe8]],
    ['LES with a register source', [0xc4, 0xc0]],
  ];
  for (const [what, bytes] of cases) {
    it(`${what} raises #UD with EIP at the instruction`, () => {
      const m = createMachine('flat32');
      m.cpu.intercepts.exceptions = 1 << 6;
      m.load(bytes);
      expect(m.cpu.run(10)).toBe('exception');
      expect(m.cpu.stop.vector).toBe(6);
      expect(m.cpu.eip).toBe(CODE);
    });
  }

  it('LOCK ADD to memory is allowed', () => {
    const m = createMachine('flat32');
    m.memory.write32(0x2000, 40);
    m.load([0xb8, 0x02, 0x00, 0x00, 0x00, 0xf0, 0x01, 0x05, 0x00, 0x20, 0x00, 0x00, 0xf4]); // mov eax,2; lock add [0x2000],eax
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.memory.read32(0x2000)).toBe(42);
  });

  it('ARPL in real mode is #UD, before the #GP its memory operand at DS:FFFF would raise', () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = (1 << 6) | (1 << 13);
    m.cpu.reg16[3 << 1] = 0xffff; // bx
    m.load([0x63, 0x07]); // arpl [bx], ax
    expect(m.cpu.run(10)).toBe('exception');
    expect([m.cpu.stop.vector, m.cpu.eip]).toEqual([6, CODE]);
  });

  it('an instruction longer than 15 bytes is #GP(0)', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.exceptions = 1 << 13;
    m.load([...Array(15).fill(0x3e), 0x90]);
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(13);
  });
});

describe('strings, stack frames and mixed sizes', () => {
  it('REP MOVSD copies ECX dwords and REP STOSB fills', () => {
    const m = createMachine('flat32');
    for (let i = 0; i < 4; i++) m.memory.write32(0x3000 + 4 * i, 0x01010101 * (i + 1));
    m.load([
      0xbe, 0x00, 0x30, 0x00, 0x00, // mov esi, 0x3000
      0xbf, 0x00, 0x40, 0x00, 0x00, // mov edi, 0x4000
      0xb9, 0x04, 0x00, 0x00, 0x00, // mov ecx, 4
      0xfc, //                         cld
      0xf3, 0xa5, //                   rep movsd
      0xb0, 0xee, //                   mov al, 0xee
      0xb1, 0x03, //                   mov cl, 3
      0xf3, 0xaa, //                   rep stosb
      0xf4,
    ]);
    m.cpu.run(100);
    expect(m.memory.read32(0x400c)).toBe(0x04040404);
    expect(m.memory.read32(0x4010)).toBe(0x00eeeeee);
    expect(m.cpu.reg32[7]).toBe(0x4013);
  });

  it('REPNE SCASB stops at the match with ECX counting down', () => {
    const m = createMachine('flat32');
    m.memory.writeBytes(0x3000, Uint8Array.from([1, 2, 3, 4, 5]));
    m.load([
      0xbf, 0x00, 0x30, 0x00, 0x00, // mov edi, 0x3000
      0xb9, 0x10, 0x00, 0x00, 0x00, // mov ecx, 16
      0xb0, 0x04, //                   mov al, 4
      0xf2, 0xae, //                   repne scasb
      0xf4,
    ]);
    m.cpu.run(100);
    expect(m.cpu.reg32[7]).toBe(0x3004);
    expect(m.cpu.reg32[ECX]).toBe(12);
    expect(m.cpu.getEflags() & ZF).toBe(ZF);
  });

  it('a huge REP count still returns from run() within its budget', () => {
    const m = createMachine('flat32');
    m.load([
      0xb9, 0xff, 0xff, 0xff, 0xff, // mov ecx, 0xffffffff
      0xbf, 0x00, 0x00, 0x01, 0x00, // mov edi, 0x10000
      0xf3, 0xaa, //                   rep stosb
    ]);
    const reason = m.cpu.run(10);
    expect(reason).toBe('budget');
    expect(m.cpu.eip).toBe(CODE + 10);
    expect(m.cpu.reg32[ECX]).toBeLessThan(-1);
  });

  it('PUSHAD/POPAD, ENTER and LEAVE keep the stack balanced', () => {
    const { r } = run32([
      0xbd, 0x44, 0x33, 0x22, 0x11, // mov ebp, 0x11223344
      0x60, //                         pushad
      0x31, 0xed, //                   xor ebp, ebp
      0x61, //                         popad
      0xc8, 0x10, 0x00, 0x02, //       enter 16, 2
      0xc9, //                         leave
    ]);
    expect(r[5] >>> 0).toBe(0x11223344);
    expect(r[4]).toBe(0x80000);
  });

  it('operand-size and address-size prefixes in 16-bit code', () => {
    const m = createMachine('real');
    m.load([
      0x66, 0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
      0x67, 0x66, 0x89, 0x04, 0x8d, 0x00, 0x20, 0x00, 0x00, // mov [ecx*4+0x2000], eax
      0xf4,
    ]);
    m.cpu.reg32[ECX] = 1;
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.memory.read32(0x2004)).toBe(0x12345678);
  });

  it('self-modifying code runs the bytes it wrote', () => {
    const m = createMachine('flat32');
    m.load([
      0xc6, 0x05, 0x08, 0x10, 0x00, 0x00, 0x42, // mov byte [CODE+8], 0x42
      0xb0, 0x00, //                               mov al, 0   (its immediate is rewritten above)
      0xf4,
    ]);
    m.cpu.run(10);
    expect(m.cpu.reg8[0]).toBe(0x42);
  });

  it('a 16-bit near jump wraps IP at 64 KiB', () => {
    const m = createMachine('real');
    m.cpu.loadRealSegment(1, 0x100);
    m.cpu.codeSizeChanged();
    m.memory.writeBytes(0x1010, Uint8Array.from([0xf4]));
    m.load([0xe9, 0x0b, 0x10], 0x1000 + 0xf002); // at 0100:F002, jmp rel16 to 0100:0010
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.eip).toBe(0x11);
  });

  it('a LOOP whose target is past CS\'s limit raises #GP(0) with ECX (CX) as it was (SDM Vol. 3A 6.5: a fault restores the state)', () => {
    for (const [name, prefix, count] of [['ECX', [], 5], ['CX (67)', [0x67], 0x10005]] as const) {
      const m = createMachine('flat32');
      m.load([...prefix, 0xe2, 0x7f, 0xf4]); // loop +127: past a limit of CODE + 0x40
      m.cpu.segLimit[1] = CODE + 0x40;
      m.cpu.reg32[ECX] = count;
      m.cpu.intercepts.exceptions = -1;
      expect(m.cpu.run(10), name).toBe('exception');
      expect([m.cpu.stop.vector, m.cpu.eip, m.cpu.reg32[ECX]], name).toEqual([13, CODE, count]);
    }
  });
});

describe('interrupts', () => {
  it('STI blocks interrupts for one instruction, then the IVT handler runs', () => {
    let pending = true;
    let acks = 0;
    const m = createMachine('real', {
      pending: () => pending,
      acknowledge: () => {
        pending = false;
        acks++;
        return 0x20;
      },
    });
    m.memory.write16(0x20 * 4, 0x3000);
    m.memory.write16(0x20 * 4 + 2, 0);
    m.memory.writeBytes(0x3000, Uint8Array.from([0xb3, 0x99, 0xf4])); // handler: mov bl, 0x99; hlt
    m.load([
      0xfb, //       sti
      0xb0, 0x11, // mov al, 0x11   (runs inside the STI shadow)
      0xb4, 0x22, // mov ah, 0x22   (the interrupt is taken before this one)
      0xf4,
    ]);
    expect(m.cpu.run(100)).toBe('hlt');
    expect(acks).toBe(1);
    expect(m.cpu.reg8[0]).toBe(0x11);
    expect(m.cpu.reg8[1]).toBe(0);
    expect(m.cpu.reg8[12]).toBe(0x99);
    // The pushed return address is the instruction after the shadow.
    expect(m.memory.read16(m.cpu.reg16[8])).toBe(CODE + 3);
  });

  it('HLT with interrupts enabled wakes on an interrupt', () => {
    let pending = false;
    const m = createMachine('real', { pending: () => pending, acknowledge: () => ((pending = false), 0x21) });
    m.memory.write16(0x21 * 4, 0x3000);
    m.memory.writeBytes(0x3000, Uint8Array.from([0xb3, 0x77, 0xf4]));
    m.load([0xfb, 0xf4, 0xf4]); // sti; hlt; hlt
    expect(m.cpu.run(100)).toBe('hlt');
    expect(m.cpu.eip).toBe(CODE + 2);
    pending = true;
    expect(m.cpu.run(100)).toBe('hlt');
    expect(m.cpu.reg8[12]).toBe(0x77);
  });

  it('TF set by POPF traps (#DB, DR6.BS) after the instruction following POPF', () => {
    const m = createMachine('real');
    m.memory.write16(1 * 4, 0x3000);
    m.memory.writeBytes(0x3000, Uint8Array.from([0xf4]));
    m.load([
      0x9c, //             pushf
      0x58, //             pop ax
      0x0d, 0x00, 0x01, // or ax, 0x100
      0x50, //             push ax
      0x9d, //             popf
      0x90, //             nop    (the trap comes after it)
      0x90, //             nop
      0xf4,
    ]);
    expect(m.cpu.run(100)).toBe('hlt');
    expect(m.cpu.eip).toBe(0x3001);
    expect(m.memory.read16(m.cpu.reg16[8])).toBe(CODE + 8);
    expect(m.cpu.dr[6] & 0x4000).toBe(0x4000);
  });

  // TF set by POPF; the next instruction (DIV by zero) faults, its #DE handler fixes the divisor and
  // IRETs (restoring TF: no trap after the IRET itself); the retried DIV completes and traps.
  function tfAcrossFault(slice: number) {
    const m = createMachine('real');
    m.memory.write16(0 * 4, 0x3000); // #DE
    m.memory.write16(1 * 4, 0x3100); // #DB
    m.memory.writeBytes(0x3000, Uint8Array.from([
      0xb3, 0x04, // mov bl, 4   (the divisor the retried DIV uses)
      0x41, //       inc cx
      0xcf, //       iret
    ]));
    m.memory.writeBytes(0x3100, Uint8Array.from([0xf4]));
    m.load([
      0x9c, //             pushf
      0x58, //             pop ax
      0x0d, 0x00, 0x01, // or ax, 0x100
      0x50, //             push ax
      0xb8, 0x64, 0x00, // mov ax, 100
      0x31, 0xdb, //       xor bx, bx
      0x31, 0xc9, //       xor cx, cx
      0x9d, //             popf
      0xf6, 0xf3, //       div bl      (#DE first; after the handler, 100 / 4)
      0xf4,
    ]);
    let reason = 'budget';
    for (let i = 0; i < 100 && reason === 'budget'; i++) reason = m.cpu.run(slice);
    expect(reason).toBe('hlt');
    expect(m.cpu.eip).toBe(0x3101);
    expect(m.cpu.reg16[2]).toBe(1); // CX: #DE delivered once
    expect(m.cpu.reg8[0]).toBe(25);
    expect(m.memory.read16(m.cpu.reg16[8])).toBe(CODE + 0x10); // #DB after the completed DIV
    expect(m.cpu.dr[6] & 0x4000).toBe(0x4000);
  }

  it('TF: a faulting instruction takes no single-step trap; it traps once it completes after the handler\'s IRET', () => {
    tfAcrossFault(100);
  });

  it('TF: the single-step trap lands after the same instruction when run() is called one instruction at a time', () => {
    tfAcrossFault(1);
  });

  // A #DB handler (real mode, at 0x3100) that appends the interrupted IP to a list at 0x5002
  // (length in bytes at 0x5000) and returns.
  const RECORD_TRAP = [
    0x55, //                   push bp
    0x89, 0xe5, //             mov bp, sp
    0x53, //                   push bx
    0x50, //                   push ax
    0x8b, 0x1e, 0x00, 0x50, // mov bx, [0x5000]
    0x8b, 0x46, 0x02, //       mov ax, [bp+2]
    0x89, 0x87, 0x02, 0x50, // mov [bx+0x5002], ax
    0x83, 0x06, 0x00, 0x50, 0x02, // add word [0x5000], 2
    0x58, //                   pop ax
    0x5b, //                   pop bx
    0x5d, //                   pop bp
    0xcf, //                   iret
  ];
  const TF_ON = [0x9c, 0x58, 0x0d, 0x00, 0x01, 0x50, 0x9d]; //  pushf; pop ax; or ax, 100h; push ax; popf
  const TF_OFF = [0x9c, 0x58, 0x25, 0xff, 0xfe, 0x50, 0x9d]; // pushf; pop ax; and ax, 0FEFFh; push ax; popf

  /** Runs `code` (real mode at CODE) `slice` instructions per run() to its HLT; the #DB return IPs, from CODE. */
  function singleStep(code: number[], slice: number) {
    const m = createMachine('real');
    m.memory.write16(1 * 4, 0x3100);
    m.memory.writeBytes(0x3100, Uint8Array.from(RECORD_TRAP));
    m.load(code);
    let reason = 'budget';
    for (let i = 0; i < 1000 && reason === 'budget'; i++) reason = m.cpu.run(slice);
    expect(reason).toBe('hlt');
    const traps = Array.from({ length: m.memory.read16(0x5000) / 2 }, (_, i) => m.memory.read16(0x5002 + 2 * i));
    return { m, traps: traps.map((ip) => (ip - CODE).toString(16)) };
  }

  for (const slice of [1000, 1]) {
    it(`TF: MOV SS and POP SS hold their single-step trap until after the next instruction (run(${slice}))`, () => {
      const { m, traps } = singleStep([
        ...TF_ON, //         1000 (the trap comes after the next instruction)
        0x8c, 0xd0, //       1007 mov ax, ss   (trap: 1009)
        0x8e, 0xd0, //       1009 mov ss, ax   (no trap here...)
        0x43, //             100B inc bx       (...one after both: 100C)
        0x16, //             100C push ss      (100D)
        0x17, //             100D pop ss       (none)
        0x41, //             100E inc cx       (100F)
        0x90, //             100F nop          (1010)
        ...TF_OFF, //        1010 (traps after each, the POPF included)
        0xf4, //             1017 hlt
      ], slice);
      expect(m.cpu.eip).toBe(CODE + 0x18);
      expect(traps).toEqual(['9', 'c', 'd', 'f', '10', '11', '12', '15', '16', '17']);
      expect([m.cpu.reg16[6], m.cpu.reg16[2]]).toEqual([1, 1]);
    });
  }

  for (const slice of [1000, 1]) {
    it(`TF: a single-stepped HLT traps at once and the #DB wakes the CPU (run(${slice}))`, () => {
      const { m, traps } = singleStep([
        ...TF_ON, //         1000
        0x90, //             1007 nop   (trap: 1008)
        0xf4, //             1008 hlt   (trap: 1009, the handler runs and returns past the HLT)
        0x43, //             1009 inc bx (100A)
        ...TF_OFF, //        100A
        0xf4, //             1011 hlt
      ], slice);
      expect(m.cpu.eip).toBe(CODE + 0x12);
      expect(traps).toEqual(['8', '9', 'a', 'b', 'c', 'f', '10', '11']);
      expect(m.cpu.reg16[6]).toBe(1);
    });
  }

  for (const [name, shadowed, instructions] of [
    ['MOV SS', [0x8c, 0xd0, 0x8e, 0xd0], 2], //  mov ax, ss; mov ss, ax
    ['POP SS', [0x16, 0x90, 0x17], 3], //         push ss; nop; pop ss
    ['STI', [0xfa, 0xfb], 2], //                  cli; sti
  ] as const) {
    it(`${name} holds off an external interrupt for one instruction, also across run() calls`, () => {
      let pending = false;
      const m = createMachine('real', { pending: () => pending, acknowledge: () => ((pending = false), 0x20) });
      m.memory.write16(0x20 * 4, 0x3000);
      m.memory.writeBytes(0x3000, Uint8Array.from([0xb2, 0x99, 0xf4])); // mov dl, 0x99; hlt
      m.load([0xfb, 0x90, ...shadowed, 0x43, 0x41, 0xf4]); // sti; nop; ...; inc bx; inc cx; hlt
      // Stop right after the instruction that opens the shadow, then raise the interrupt.
      expect(m.cpu.run(2 + instructions)).toBe('budget');
      pending = true;
      expect(m.cpu.run(100)).toBe('hlt');
      expect(m.cpu.reg8[8]).toBe(0x99);
      expect([m.cpu.reg16[6], m.cpu.reg16[2]]).toEqual([1, 0]); // INC BX ran in the shadow, INC CX after the handler
      expect(m.memory.read16(m.cpu.reg16[8])).toBe(CODE + 2 + shadowed.length + 1);
    });
  }

  it('injectInterrupt delivers through the IVT before the next instruction', () => {
    const m = createMachine('real');
    m.memory.write16(0x30 * 4, 0x3000);
    m.memory.writeBytes(0x3000, Uint8Array.from([0xf4]));
    m.load([0x90, 0x90]);
    m.cpu.injectInterrupt(0x30);
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.eip).toBe(0x3001);
  });
});
