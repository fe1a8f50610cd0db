import { describe, expect, it } from 'vitest';
import type { MmioHandler } from '@ringvisor/vmm-api';
import type { Cpu } from '../src/cpu.js';
import { CODE, createMachine, type TestMachine } from './support/machine.js';

// A read-modify-write of memory (ADC [m],r; RCL [m],1; INC [m]; XADD; CMPXCHG...) reads its
// destination with write intent: a #PF for a read-only page (error code W=1) or a #GP for a read-only
// data segment comes before the instruction changes any register or flag, so the handler sees the
// flags the instruction found, and after it makes the page or segment writable the retried
// instruction — ADC/SBB/RCL/RCR consuming CF included — gives exactly the result a run without
// the fault gives. Each case runs interpreted, from decoded records, and in compiled blocks.

type Tier = 'interpreter' | 'decoded' | 'blocks';
const TIERS: Tier[] = ['interpreter', 'decoded', 'blocks'];

const GDT = 0x500;
const IDT = 0x600;
const PF_HANDLER = 0x2000;
const GP_HANDLER = 0x2100;
/** What the handlers record: error code, CR2, pushed EFLAGS, pushed EIP, the dword before CR2, [ESI], faults, then EAX..EDI. */
const RECORD = 0x3000;
const PAGE_DIRECTORY = 0x8000;
const PAGE_TABLE = 0x9000;
/** Data pages 0x10000-0x17fff; 0x14000 is the read-only one. */
const DATA = 0x10000;
const READ_ONLY_PAGE = 0x14000;
const READ_ONLY_DATA = 0x18;

function le32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

const SAVE_REGISTERS = [
  0xa3, ...le32(RECORD + 0x20), //               mov [rec+20h], eax
  0x89, 0x0d, ...le32(RECORD + 0x24), //         mov [rec+24h], ecx
  0x89, 0x15, ...le32(RECORD + 0x28), //         mov [rec+28h], edx
  0x89, 0x1d, ...le32(RECORD + 0x2c), //         mov [rec+2ch], ebx
  0x89, 0x35, ...le32(RECORD + 0x30), //         mov [rec+30h], esi
  0x89, 0x3d, ...le32(RECORD + 0x34), //         mov [rec+34h], edi
];

const SAVE_FRAME = [
  0x8b, 0x04, 0x24, 0xa3, ...le32(RECORD), //                 mov eax, [esp]; mov [rec], eax      (error code)
  0x8b, 0x44, 0x24, 0x0c, 0xa3, ...le32(RECORD + 8), //       mov eax, [esp+12]; mov [rec+8], eax (EFLAGS)
  0x8b, 0x44, 0x24, 0x04, 0xa3, ...le32(RECORD + 12), //      mov eax, [esp+4]; mov [rec+12], eax (EIP)
  0x8b, 0x06, 0xa3, ...le32(RECORD + 0x14), //                mov eax, [esi]; mov [rec+14h], eax
  0xff, 0x05, ...le32(RECORD + 0x18), //                      inc dword [rec+18h]
];

const RETURN = [
  0xa1, ...le32(RECORD + 0x20), // mov eax, [rec+20h]
  0x83, 0xc4, 0x04, //            add esp, 4 (the error code)
  0xcf, //                        iret
];

/** #PF: records, then makes the page writable (PTE |= R/W, INVLPG) and returns to retry. */
const PF_CODE = [
  ...SAVE_REGISTERS,
  ...SAVE_FRAME,
  0x0f, 0x20, 0xd0, 0xa3, ...le32(RECORD + 4), //             mov eax, cr2; mov [rec+4], eax
  0x8b, 0x40, 0xfc, 0xa3, ...le32(RECORD + 0x10), //          mov eax, [eax-4]; mov [rec+10h], eax
  0x0f, 0x20, 0xd0, 0xc1, 0xe8, 0x0c, //                      mov eax, cr2; shr eax, 12
  0x83, 0x0c, 0x85, ...le32(PAGE_TABLE), 0x02, //             or dword [PAGE_TABLE + eax*4], 2
  0x0f, 0x20, 0xd0, 0x0f, 0x01, 0x38, //                      mov eax, cr2; invlpg [eax]
  ...RETURN,
];

/** #GP: loads DS with the writable flat data segment, records, and returns to retry. */
const GP_CODE = [
  0x50, 0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x58, //          push eax; mov ax, 10h; mov ds, ax; pop eax
  ...SAVE_REGISTERS,
  ...SAVE_FRAME,
  ...RETURN,
];

interface Operation {
  name: string;
  bytes: number[];
  /** Operand bytes (for the page-crossing case). */
  size: number;
}

// Every memory operand is [ESI]; EBX (BL, BX) is the register operand.
const OPERATIONS: Operation[] = [
  { name: 'ADC [esi], ebx', bytes: [0x11, 0x1e], size: 4 },
  { name: 'LOCK ADC [esi], ebx', bytes: [0xf0, 0x11, 0x1e], size: 4 },
  { name: 'SBB dword [esi], imm32', bytes: [0x81, 0x1e, ...le32(0x12345678)], size: 4 },
  { name: 'ADD word [esi], bx', bytes: [0x66, 0x01, 0x1e], size: 2 },
  { name: 'OR byte [esi], bl', bytes: [0x08, 0x1e], size: 1 },
  { name: 'RCL dword [esi], 1', bytes: [0xd1, 0x16], size: 4 },
  { name: 'RCR dword [esi], cl', bytes: [0xd3, 0x1e], size: 4 },
  { name: 'SHL word [esi], 3', bytes: [0x66, 0xc1, 0x26, 0x03], size: 2 },
  { name: 'INC dword [esi]', bytes: [0xff, 0x06], size: 4 },
  { name: 'DEC byte [esi]', bytes: [0xfe, 0x0e], size: 1 },
  { name: 'NEG dword [esi]', bytes: [0xf7, 0x1e], size: 4 },
  { name: 'NOT word [esi]', bytes: [0x66, 0xf7, 0x16], size: 2 },
  { name: 'XCHG [esi], ebx', bytes: [0x87, 0x1e], size: 4 },
  { name: 'XADD [esi], ebx', bytes: [0x0f, 0xc1, 0x1e], size: 4 },
  { name: 'CMPXCHG [esi], ebx', bytes: [0x0f, 0xb1, 0x1e], size: 4 },
  { name: 'CMPXCHG8B [esi]', bytes: [0x0f, 0xc7, 0x0e], size: 8 },
  { name: 'SHLD [esi], ebx, 5', bytes: [0x0f, 0xa4, 0x1e, 0x05], size: 4 },
  { name: 'BTS dword [esi], 7', bytes: [0x0f, 0xba, 0x2e, 0x07], size: 4 },
  { name: 'BTC word [esi], 13', bytes: [0x66, 0x0f, 0xba, 0x3e, 0x0d], size: 2 },
];

type Variant = 'read-only page' | 'page-crossing' | 'read-only segment';

/**
 * The loop: eight laps of an ADD that leaves CF/ZF/SF varying, the operation on [ESI], then SETC/SETZ
 * folded into EDX (so every lap's flags reach the final state), ESI moving up a page per lap. With a
 * read-only segment the fourth lap (ECX = 5) first loads DS with it.
 */
function program(op: Operation, variant: Variant): { code: number[]; at: number } {
  const prologue = [
    0xbb, ...le32(0x9e157e35), //  mov ebx, seed
    0xb9, ...le32(8), //            mov ecx, 8
    0xbe, ...le32(DATA + (variant === 'page-crossing' ? 0x1000 - op.size / 2 : 0x800)), // mov esi, start
    0x31, 0xd2, //                  xor edx, edx
  ];
  const top = prologue.length;
  const segment = variant === 'read-only segment'
    ? [0x83, 0xf9, 0x05, 0x75, 0x06, 0x66, 0xb8, READ_ONLY_DATA, 0x00, 0x8e, 0xd8] // cmp ecx, 5; jne +6; mov ax, 18h; mov ds, ax
    : [];
  const body = [
    ...segment,
    0x81, 0xc3, ...le32(0x9e3779b9), // add ebx, 9e3779b9h
  ];
  const at = CODE + top + body.length;
  body.push(
    ...op.bytes,
    0x0f, 0x92, 0xc0, //             setc al
    0x0f, 0x94, 0xc4, //             setz ah
    0xc1, 0xc2, 0x05, //             rol edx, 5
    0x01, 0xc2, //                   add edx, eax
    0x81, 0xc6, ...le32(0x1000), //  add esi, 1000h
    0x49, //                         dec ecx
  );
  body.push(0x75, (-(body.length + 2)) & 0xff); // jnz top
  return { code: [...prologue, ...body, 0xf4], at };
}

/** Flat protected mode with a GDT, an IDT for #GP and #PF, and 4 KiB pages with CR0.WP. */
function machine(tier: Tier, op: Operation, variant: Variant, fault: boolean): TestMachine {
  const m = createMachine('flat32', undefined, tier !== 'interpreter', tier === 'blocks');
  if (tier === 'blocks') (m.cpu.blockCache as NonNullable<Cpu['blockCache']>).hotRuns = 2;
  const cpu = m.cpu;
  const gdt = [0, 0, 0xffff, 0x00cf9b00, 0xffff, 0x00cf9300, 0xffff, fault ? 0x00cf9100 : 0x00cf9300];
  m.memory.writeBytes(GDT, Uint8Array.from(gdt.flatMap(le32)));
  const gate = (handler: number): number[] => [...le32((8 << 16) | (handler & 0xffff)), ...le32((handler & 0xffff0000) | 0x8e00)];
  m.memory.writeBytes(IDT + 13 * 8, Uint8Array.from([...gate(GP_HANDLER), ...gate(PF_HANDLER)]));
  cpu.gdtrBase = GDT;
  cpu.gdtrLimit = gdt.length * 4 - 1;
  cpu.idtrBase = IDT;
  cpu.idtrLimit = 0x7ff;
  m.memory.writeBytes(PF_HANDLER, Uint8Array.from(PF_CODE));
  m.memory.writeBytes(GP_HANDLER, Uint8Array.from(GP_CODE));
  m.memory.writeBytes(PAGE_DIRECTORY, Uint8Array.from(le32(PAGE_TABLE | 3)));
  for (let p = 0; p < 256; p++) {
    const readOnly = fault && variant !== 'read-only segment' && p << 12 === READ_ONLY_PAGE;
    m.memory.writeBytes(PAGE_TABLE + p * 4, Uint8Array.from(le32((p << 12) | (readOnly ? 1 : 3))));
  }
  m.memory.writeBytes(DATA, Uint8Array.from({ length: 0x9000 }, (_, i) => (i * 167 + (i >> 8)) & 0xff));
  cpu.cr3 = PAGE_DIRECTORY;
  cpu.cr0 |= 0x80010000;
  cpu.modeChanged();
  m.load(program(op, variant).code);
  return m;
}

const GPRS_BUT_ESP = [0, 1, 2, 3, 6, 7];

interface Snapshot {
  regs: number[];
  eflags: number;
  operand: number;
  before: number;
}

/** Steps the fault-free machine to the `lap`-th execution of the operation: the state it finds. */
function stateAt(m: TestMachine, at: number, lap: number, cr2: number): Snapshot {
  let seen = 0;
  for (let i = 0; i < 10_000; i++) {
    if (m.cpu.eip === at && seen++ === lap) {
      return {
        regs: GPRS_BUT_ESP.map((r) => m.cpu.reg32[r]),
        eflags: m.cpu.getEflags(),
        operand: m.memory.read32(m.cpu.reg32[6] >>> 0) | 0,
        before: m.memory.read32(cr2 - 4) | 0,
      };
    }
    m.cpu.run(1);
  }
  throw new Error('the operation never ran');
}

function finalState(m: TestMachine): string {
  const cpu = m.cpu;
  return `regs=${Array.from(cpu.reg32).join(',')} eip=${cpu.eip} fl=${cpu.getEflags()} ` +
    `data=${Buffer.from(m.memory.ram.subarray(DATA, DATA + 0x9000)).toString('base64')}`;
}

describe('a read-modify-write that faults changes nothing, and its retry gives the fault-free result', () => {
  const variants: Variant[] = ['read-only page', 'page-crossing', 'read-only segment'];
  for (const variant of variants) {
    for (const op of OPERATIONS) {
      if (variant === 'page-crossing' && op.size === 1) continue;
      for (const tier of TIERS) {
        it(`${op.name}, ${variant}, ${tier}`, () => {
          const { at } = program(op, variant);
          const ref = machine('interpreter', op, variant, false);
          // The fourth lap (ECX = 5) meets the read-only segment, and the one whose operand reaches
          // 0x14000: the fifth, or the fourth when it crosses into that page from the one below.
          const lap = variant === 'read-only page' ? 4 : 3;
          const esi = DATA + (variant === 'page-crossing' ? 0x1000 - op.size / 2 : 0x800) + lap * 0x1000;
          const cr2 = variant === 'page-crossing' ? READ_ONLY_PAGE : esi;
          const expected = stateAt(ref, at, lap, cr2);
          expect(ref.cpu.run(10_000)).toBe('hlt');

          const m = machine(tier, op, variant, true);
          expect(m.cpu.run(10_000)).toBe('hlt');
          const rec = (offset: number): number => m.memory.read32(RECORD + offset) | 0;
          expect(rec(0x18), 'faults').toBe(1);
          if (variant === 'read-only segment') expect(rec(0), '#GP error code').toBe(0);
          else {
            expect(rec(0), '#PF error code: present, write, supervisor').toBe(3);
            expect(rec(4) >>> 0, 'CR2').toBe(cr2);
            expect(rec(0x10), 'the bytes below CR2 (a split operand\'s first page) as they were').toBe(expected.before);
          }
          expect(rec(12) >>> 0, 'pushed EIP').toBe(at);
          expect((rec(8) >>> 0).toString(16), 'pushed EFLAGS').toBe(expected.eflags.toString(16));
          expect(GPRS_BUT_ESP.map((r, i) => rec(0x20 + 4 * i)), 'registers at the fault').toEqual(expected.regs);
          expect(rec(0x14), 'the operand as it was').toBe(expected.operand);
          expect(finalState(m)).toBe(finalState(ref));
          if (tier === 'blocks') expect(m.cpu.blockCache?.compiled).toBeGreaterThan(0);
        });
      }
    }
  }
});

describe('read-modify-write accesses', () => {
  for (const tier of TIERS) {
    it(`MMIO sees one read then one write of the operand's size (${tier})`, () => {
      const m = createMachine('flat32', undefined, tier !== 'interpreter', tier === 'blocks');
      const log: string[] = [];
      let value = 0x11223344;
      const device: MmioHandler = {
        mmioRead: (offset, size) => {
          log.push(`r${size}@${offset.toString(16)}`);
          return value & (size === 4 ? -1 : (1 << (8 * size)) - 1);
        },
        mmioWrite: (offset, size, v) => {
          log.push(`w${size}@${offset.toString(16)}=${v.toString(16)}`);
          value = v;
        },
      };
      m.memory.addMmio(0xc0000, 0x1000, device);
      m.load([
        0xbe, ...le32(0xc0010), // mov esi, 0C0010h
        0xbb, ...le32(0x1000), //  mov ebx, 1000h
        0xf9, //                   stc
        0x11, 0x1e, //             adc [esi], ebx
        0xfe, 0x06, //             inc byte [esi]
        0x87, 0x1e, //             xchg [esi], ebx
        0x0f, 0xc1, 0x1e, //       xadd [esi], ebx
        0xf4,
      ]);
      expect(m.cpu.run(100)).toBe('hlt');
      expect(log).toEqual([
        'r4@10', 'w4@10=11224345', 'r1@10', 'w1@10=46', 'r4@10', 'w4@10=1000', 'r4@10', 'w4@10=1046',
      ]);
    });
  }

  it('INS checks its destination for a write before the port read, without reading it (MMIO sees one write)', () => {
    const m = createMachine('flat32', undefined, false, false);
    const log: string[] = [];
    m.memory.addMmio(0xc0000, 0x1000, {
      mmioRead: (offset, size) => (log.push(`r${size}@${offset.toString(16)}`), 0),
      mmioWrite: (offset, size, v) => void log.push(`w${size}@${offset.toString(16)}=${v.toString(16)}`),
    });
    m.portValue = 0x5a;
    m.load([0xbf, ...le32(0xc0020), 0xba, 0x60, 0x00, 0x00, 0x00, 0x6c, 0xf4]); // mov edi, 0C0020h; mov edx, 60h; insb; hlt
    expect(m.cpu.run(10)).toBe('hlt');
    expect(log).toEqual(['w1@20=5a']);
    expect(m.ports).toHaveLength(1);

    // A read-only destination page: #PF with W=1 before the port is read.
    const p = createMachine('flat32', undefined, false, false);
    p.memory.writeBytes(PAGE_DIRECTORY, Uint8Array.from(le32(PAGE_TABLE | 3)));
    for (let page = 0; page < 256; page++) p.memory.writeBytes(PAGE_TABLE + page * 4, Uint8Array.from(le32((page << 12) | (page === 0x20 ? 1 : 3))));
    p.cpu.cr3 = PAGE_DIRECTORY;
    p.cpu.cr0 |= 0x80010000;
    p.cpu.modeChanged();
    p.cpu.intercepts.exceptions = 1 << 14;
    p.load([0xbf, ...le32(0x20010), 0xba, 0x60, 0x00, 0x00, 0x00, 0x6c, 0xf4]);
    expect(p.cpu.run(10)).toBe('exception');
    expect([p.cpu.stop.errorCode, p.cpu.cr2 >>> 0, p.ports.length]).toEqual([3, 0x20010, 0]);
  });

  it('sets the dirty bit even when CMPXCHG finds a different value (it writes the old one back)', () => {
    const m = createMachine('flat32', undefined, false, false);
    m.memory.writeBytes(PAGE_DIRECTORY, Uint8Array.from(le32(PAGE_TABLE | 3)));
    for (let p = 0; p < 256; p++) m.memory.writeBytes(PAGE_TABLE + p * 4, Uint8Array.from(le32((p << 12) | 3)));
    m.cpu.cr3 = PAGE_DIRECTORY;
    m.cpu.cr0 |= 0x80010000;
    m.cpu.modeChanged();
    m.memory.writeBytes(0x20000, Uint8Array.from(le32(5)));
    m.load([
      0xb8, ...le32(7), //            mov eax, 7
      0x83, 0x3d, ...le32(0x21000), 0, // cmp dword [21000h], 0 (a read: accessed, not dirty)
      0x0f, 0xb1, 0x1d, ...le32(0x20000), // cmpxchg [20000h], ebx
      0xf4,
    ]);
    expect(m.cpu.run(100)).toBe('hlt');
    expect(m.cpu.reg32[0]).toBe(5);
    expect(m.memory.read32(PAGE_TABLE + 0x20 * 4) & 0x60).toBe(0x60);
    expect(m.memory.read32(PAGE_TABLE + 0x21 * 4) & 0x60).toBe(0x20);
  });

  it('a write through a read-only data segment is #GP(0), in real mode only the limit counts', () => {
    const m = createMachine('flat32', undefined, false, false);
    m.cpu.segAccess[3] = 0xc091; // DS: read-only data
    m.cpu.intercepts.exceptions = 1 << 13;
    m.load([0x89, 0x1d, ...le32(0x20000), 0xf4]); // mov [20000h], ebx
    expect(m.cpu.run(10)).toBe('exception');
    expect([m.cpu.stop.vector, m.cpu.stop.errorCode, m.cpu.eip]).toEqual([13, 0, CODE]);
    const real = createMachine('real', undefined, false, false);
    real.cpu.segAccess[1] = 0x9b;
    real.load([0x2e, 0x89, 0x1e, 0x00, 0x30, 0xf4]); // mov cs:[3000h], bx
    real.cpu.reg32[3] = 0x1234;
    expect(real.cpu.run(10)).toBe('hlt');
    expect(real.memory.read16(0x3000)).toBe(0x1234);
  });
});
