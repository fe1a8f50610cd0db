// Differential test: random kernel-mode programs (virtual CPL 0, 32-bit protected mode, with and
// without paging) run on the bare emulated CPU (`none`) and under `full` must leave the same
// guest-visible state: registers, flags, segment registers, control registers, every byte of RAM,
// the port writes made, the instruction count and how the run ended. Faults go through the
// guest's own IDT to handlers that record the vector and stop.
import type { AccessSize, ExitReason, ExitStats, VmSpec, VmmStrategy } from '@ringvisor/vmm-api';
import { noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { fullStrategy } from '../src/index.js';
import { random } from './support/random.js';

const RAM = 4 * 1024 * 1024;
const GDT = 0x1000;
const IDT = 0x2000;
const HANDLERS = 0x3000;
const PAGE_DIR = 0x5000;
const PAGE_TABLE = 0x6000;
const STACK_TOP = 0x9000;
const TSS = 0x4000;
const CODE = 0x10000;
const DATA = 0x20000;


class Stats implements ExitStats {
  readonly byReason = new Map<ExitReason, number>();
  readonly byPort = new Map<number, number>();
  count(reason: ExitReason, port?: number): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (port !== undefined) this.byPort.set(port, (this.byPort.get(port) ?? 0) + 1);
  }
}

function spec(writes: number[], backing?: SharedArrayBuffer): VmSpec {
  return {
    ...(backing ? { ramBacking: () => backing } : {}),
    regions: [{ base: 0, size: RAM }],
    io: {
      read: (port: number, size: AccessSize) => (port * 0x01010101 + size) >>> 0,
      write: (port: number, size: AccessSize, value: number) => { writes.push(port, size, value >>> 0); },
    },
    mmio: { read: () => 0xffffffff, write: () => undefined },
    interrupts: { pending: () => false, acknowledge: () => 0 },
    stats: new Stats(),
  };
}

const descriptor = (base: number, limit: number, access: number): [number, number] => [
  ((base & 0xffff) << 16) | (limit & 0xffff),
  (base & 0xff000000) | ((base >>> 16) & 0xff) | (limit & 0xf0000) | (access << 8) | 0xc00000,
];

/** The instruction templates a program is built from (bytes; `r()` gives random bits). */
function instruction(r: () => number): number[] {
  const safeReg = () => [0, 1, 2, 3, 6, 7][r() % 6];
  const imm32 = () => { const v = r(); return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]; };
  const disp8 = () => (r() & 0x7c);
  switch (r() % 36) {
    case 0: return [0x01 + ((r() % 8) << 3), 0xc0 | (safeReg() << 3) | safeReg()]; // ALU r/m32, r32
    case 1: return [0x81, 0xc0 | ((r() % 8) << 3) | safeReg(), ...imm32()]; // ALU r32, imm32
    case 2: return [0xb8 + safeReg(), ...imm32()]; // MOV r32, imm32
    case 3: return [0x89, 0x43 | (safeReg() << 3), disp8()]; // MOV [ebx+d8], r32
    case 4: return [0x8b, 0x43 | (safeReg() << 3), disp8()]; // MOV r32, [ebx+d8]
    case 5: return [0x50 + safeReg()]; // PUSH
    case 6: return [0x58 + safeReg()]; // POP
    case 7: return [0x9c]; // PUSHF
    case 8: return [0x9d]; // POPF
    case 9: return [r() & 1 ? 0xfa : 0xfb]; // CLI / STI
    case 10: return [0x70 + (r() & 15), 2 + (r() & 2), 0x90, 0x90, 0x90, 0x90]; // Jcc over NOPs
    case 11: return [0xe8, 0, 0, 0, 0, 0x58 + safeReg()]; // CALL next; POP (the return address)
    case 12: return [0xe8, 1, 0, 0, 0, 0x90, 0x83, 0xc4, 0x04]; // CALL over a NOP; ADD ESP, 4
    case 13: return [0xc1, 0xe0 | (r() % 8 << 3 & 0x38) | safeReg(), r() & 31]; // shifts/rotates
    case 14: return [0xf7, 0xf0 | safeReg()]; // DIV r32 (#DE sometimes)
    case 15: return [0x0f, 0xaf, 0xc0 | (safeReg() << 3) | safeReg()]; // IMUL
    case 16: return [0x0f, 0x40 + (r() & 15), 0xc0 | (safeReg() << 3) | safeReg()]; // CMOVcc
    case 17: return [0x0f, 0x90 + (r() & 15), 0xc0 | safeReg()]; // SETcc
    case 18: return [0x8c, 0xd8 | (r() & 1 ? 0 : 0x10) & 0xf8 | safeReg()]; // MOV r32, DS/SS
    case 19: return [0x1e, 0x1f]; // PUSH DS; POP DS
    case 20: return [0xe6, 0x80]; // OUT 0x80, AL
    case 21: return [0xe4, 0x71]; // IN AL, 0x71
    case 22: return [0xcc]; // INT3 (#BP through the IDT)
    case 23: return [0x0f, 0xa2]; // CPUID
    case 24: return [0x8d, 0x44 | (safeReg() << 3), 0x24 | 0, disp8()]; // LEA r32, [esp+d8]
    case 25: return [0xff, 0xc0 | ((r() & 1) << 3) | safeReg()]; // INC/DEC
    case 26: return [0x87, 0xc0 | (safeReg() << 3) | safeReg()]; // XCHG
    case 27: return [0x0f, 0x01, 0xe0 | safeReg()]; // SMSW r32
    case 28: return [0x0f, 0x20, 0xc0 | safeReg()]; // MOV r32, CR0
    // Indirect branches, three times round a loop (the first looks its target up in vain, the others find it):
    case 29: return [0xb9, 3, 0, 0, 0, 0xe8, 5, 0, 0, 0, 0x49, 0x75, 0xf8, 0xeb, 0x01, 0xc3]; // CALL; RET
    case 30: return [0xe8, 0, 0, 0, 0, 0x5a, 0x83, 0xc2, 16, 0xb9, 3, 0, 0, 0, 0xff, 0xd2, 0x49, 0x75, 0xfb, 0xeb, 0x01, 0xc3]; // CALL EDX
    case 31: return [0xe8, 0, 0, 0, 0, 0x58, 0x83, 0xc0, 11, 0xb9, 3, 0, 0, 0, 0xff, 0xe0, 0x49, 0x75, 0xfb]; // JMP EAX
    case 32: return [0xe8, 0, 0, 0, 0, 0x58, 0x83, 0xc0, 11, 0x50, 0xff, 0x14, 0x24, 0x58, 0xeb, 0x01, 0xc3]; // CALL [ESP]
    case 33: return [0x6a, r() & 0x7f, 0xe8, 2, 0, 0, 0, 0xeb, 0x03, 0xc2, 0x04, 0x00]; // RET 4
    case 34: return [0x0f, 0x31]; // RDTSC (the TSC counts the guest's instructions only)
    default: return [r() & 0xff, r() & 0xff, r() & 0xff]; // anything at all
  }
}

interface Outcome {
  readonly end: string;
  readonly regs: unknown;
  readonly sregs: unknown;
  readonly ram: Uint8Array;
  readonly writes: number[];
  readonly retired: number;
}

/**
 * Runs `program` to its end or 10,000 instructions, in slices of 200 or of the lengths `slices`
 * gives; after every slice (full only) its state is exported, and with `move` imported into the
 * other of two VMs over the same RAM and VMM frames.
 */
function runProgram(
  strategy: VmmStrategy, program: number[], paging: boolean, seed: number, slices?: () => number, after: 'nothing' | 'export' | 'move' = 'move',
): Outcome {
  const writes: number[] = [];
  const backing = new SharedArrayBuffer(fullStrategy.hostRamSize!(RAM));
  const vm = strategy.createVm(spec(writes, backing));
  const mem = vm.memory;
  const gdt = [[0, 0], descriptor(0, 0xfffff, 0x9b), descriptor(0, 0xfffff, 0x93)];
  gdt.forEach(([lo, hi], i) => { mem.write32(GDT + 8 * i, lo); mem.write32(GDT + 8 * i + 4, hi); });
  for (let v = 0; v < 64; v++) {
    // Each vector's handler stores its number at DATA+0x800 and halts with interrupts off.
    const handler = HANDLERS + v * 16;
    mem.write32(IDT + 8 * v, (0x08 << 16) | (handler & 0xffff));
    mem.write32(IDT + 8 * v + 4, (handler & 0xffff0000) | 0x8e00);
    const code = [0xfa, 0xc7, 0x05, ...le32(DATA + 0x800), ...le32(v), 0xf4];
    code.forEach((b, i) => mem.write8(handler + i, b));
  }
  // A TSS with ESP0/SS0, for faults taken at CPL 3 (the SYSEXIT programs below).
  mem.write32(TSS + 4, STACK_TOP);
  mem.write32(TSS + 8, 0x10);
  const next = random(seed);
  for (let i = 0; i < 0x1000; i += 4) mem.write32(DATA + i, next());
  program.forEach((b, i) => mem.write8(CODE + i, b));
  [0xfa, 0xf4].forEach((b, i) => mem.write8(CODE + program.length + i, b));
  let cr0 = 0x11;
  if (paging) {
    // 4 KiB pages for the first 4 MiB; the tables themselves read-only with CR0.WP, so no random
    // store rewrites a live entry (a TLB may or may not hold the old one: not a difference to test).
    mem.write32(PAGE_DIR, PAGE_TABLE | 3);
    for (let p = 0; p < 1024; p++) mem.write32(PAGE_TABLE + 4 * p, (p << 12) | (p === 5 || p === 6 ? 1 : 3));
    cr0 |= 0x80010000;
  }
  const vcpu = vm.createVcpu(0);
  const flat = (selector: number, access: number) => ({ selector, base: 0, limit: 0xffffffff, access });
  vcpu.setSpecialRegisters({
    cs: flat(0x08, 0xc09b), ds: flat(0x10, 0xc093), es: flat(0x10, 0xc093), fs: flat(0x10, 0xc093),
    gs: flat(0x10, 0xc093), ss: flat(0x10, 0xc093),
    tr: { selector: 0, base: TSS, limit: 0x67, access: 0x8b }, ldt: { selector: 0, base: 0, limit: 0xffff, access: 0x82 },
    gdt: { base: GDT, limit: 8 * gdt.length - 1 }, idt: { base: IDT, limit: 64 * 8 - 1 },
    cr0, cr2: 0, cr3: PAGE_DIR, cr4: 0, efer: 0,
  });
  vcpu.setRegisters({
    eax: next(), ecx: next() & 0xff, edx: next() & 0xffff, ebx: DATA, esp: STACK_TOP, ebp: next(), esi: DATA, edi: DATA + 0x100,
    eip: CODE, eflags: 0x2 | (next() & 0x8d5),
  });
  let end = 'budget';
  const vcpus = [vcpu];
  let on = vcpu;
  let retired = 0;
  while (retired < 10_000) {
    const before = on.retired;
    const exit = on.run(slices ? Math.min(slices(), 10_000 - retired) : 200);
    retired += on.retired - before;
    if (exit.reason !== 'budget') {
      end = exit.reason === 'hlt' ? `hlt ${exit.interruptsEnabled}` : exit.reason === 'internal-error' ? `internal-error ${exit.detail}` : exit.reason;
      break;
    }
    if (slices && after !== 'nothing') {
      const state = on.exportState!();
      if (after === 'export') continue;
      if (vcpus.length < 2) vcpus.push(strategy.createVm(spec(writes, backing)).createVcpu(0));
      on = vcpus[on === vcpus[0] ? 1 : 0];
      on.importState!(state);
    }
  }
  const ram = new Uint8Array(0x30000);
  mem.readBytes(0, ram);
  return { end, regs: on.getRegisters(), sregs: on.getSpecialRegisters(), ram, writes, retired };
}

/** Runs `program` under none and full, expects every guest-visible result equal, returns none's. */
function sameUnderBoth(program: number[], paging: boolean, seed: number, n: number): Outcome {
  const none = runProgram(noneStrategy, program, paging, seed);
  const full = runProgram(fullStrategy, program, paging, seed);
  const where = `program ${n}: ${program.map((b) => b.toString(16).padStart(2, '0')).join(' ')}`;
  expect(full.end, where).toBe(none.end);
  expect(full.regs, where).toEqual(none.regs);
  expect(full.sregs, where).toEqual(none.sregs);
  expect(full.retired, where).toBe(none.retired);
  expect(full.writes, where).toEqual(none.writes);
  const differs = full.ram.findIndex((byte, i) => byte !== none.ram[i]);
  expect(differs < 0 ? 'same RAM' : `RAM differs at 0x${differs.toString(16)}: ${none.ram[differs]} vs ${full.ram[differs]}`, where).toBe('same RAM');
  return none;
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

describe('random kernel-mode code: none and full leave the same guest-visible state', () => {
  for (const paging of [false, true]) {
    it(`200 programs, paging ${paging ? 'on' : 'off'}`, () => {
      const r = random(paging ? 0x5eed : 0xc0de);
      const ends = new Map<string, number>();
      for (let n = 0; n < 200; n++) {
        const program: number[] = [];
        const length = 4 + (r() % 40);
        for (let i = 0; i < length; i++) program.push(...instruction(r));
        const seed = r();
        const none = sameUnderBoth(program, paging, seed, n);
        ends.set(none.end.split(' ')[0], (ends.get(none.end.split(' ')[0]) ?? 0) + 1);
      }
      // The programs do end in both ways: reaching their final HLT, and in a fault's handler.
      expect(ends.get('hlt')).toBeGreaterThan(100);
    }, 300_000);
  }
});

/**
 * Runs `program` under full in slices of 1 to 40 instructions three times: staying on one VM,
 * staying but exported after every slice, and moving between two VMs over the same RAM and VMM
 * frames after every slice; expects the same outcome.
 */
function sameWhenMoved(program: number[], paging: boolean, seed: number, r: () => number): number {
  const lengths: number[] = [];
  const moved = runProgram(fullStrategy, program, paging, seed, () => {
    const length = 1 + (r() % 40);
    lengths.push(length);
    return length;
  });
  const replay = (after: 'nothing' | 'export') => {
    let at = 0;
    return runProgram(fullStrategy, program, paging, seed, () => lengths[at++], after);
  };
  const stayed = replay('nothing');
  for (const other of [moved, replay('export')]) {
    expect(other.end).toBe(stayed.end);
    expect(other.regs).toEqual(stayed.regs);
    expect(other.sregs).toEqual(stayed.sregs);
    expect(other.retired).toBe(stayed.retired);
    expect(other.writes).toEqual(stayed.writes);
    const differs = other.ram.findIndex((byte, i) => byte !== stayed.ram[i]);
    expect(differs < 0 ? 'same RAM' : `RAM differs at 0x${differs.toString(16)}`).toBe('same RAM');
  }
  return lengths.length;
}

describe('random kernel-mode code under full: exporting the state or moving the vCPU between two VMs changes nothing', () => {
  for (const paging of [false, true]) {
    it(`150 programs, paging ${paging ? 'on' : 'off'}, exported and moved after every slice of 1 to 40 instructions`, () => {
      const r = random(paging ? 0x5eee : 0xc0df);
      let moves = 0;
      for (let n = 0; n < 150; n++) {
        const program: number[] = [];
        const length = 4 + (r() % 40);
        for (let i = 0; i < length; i++) program.push(...instruction(r));
        moves += sameWhenMoved(program, paging, r(), r);
      }
      expect(moves).toBeGreaterThan(500);
    }, 300_000);
  }

  it('150 programs with random SYSENTER MSRs (ring 3 and back), exported and moved after every slice', () => {
    const r = random(0x5ea);
    for (let n = 0; n < 150; n++) sameWhenMoved(sysenterProgram(r), false, r(), r);
  }, 300_000);
});

/**
 * A kernel that sets the SYSENTER MSRs (random, often sane) and drops to ring 3 with SYSEXIT; the
 * user code counts and comes back with SYSENTER (or tries SYSEXIT or HLT, both #GP(0) at CPL 3),
 * the entry counts and returns until its limit. Under full the user SYSENTER traps on the
 * hardware's zero SYSENTER_CS and SYSEXIT is a call-out; both must end as on the bare CPU.
 */
function sysenterProgram(r: () => number): number[] {
  const user = CODE + 55;
  const entry = CODE + 59;
  const choice = <T>(xs: readonly T[]): T => xs[r() % xs.length];
  const cs = choice([0, 1, 3, 8, 8, 8, 0x0b, 0x10, 0xfff8, r() & 0xffff, r()]);
  const eip = r() % 8 === 0 ? choice([user, CODE, r()]) : entry;
  const userEnd = choice([[0x0f, 0x34, 0x90], [0x0f, 0x34, 0x90], [0x0f, 0x35, 0x90], [0xf4, 0x90, 0x90], [r() & 0xff, r() & 0xff, r() & 0xff]]);
  const stack = STACK_TOP - 0x200;
  return [
    0xb9, ...le32(0x174), 0xb8, ...le32(cs), 0x31, 0xd2, 0x0f, 0x30,
    0xb9, ...le32(0x175), 0xb8, ...le32(STACK_TOP - 0x100), 0x0f, 0x30,
    0xb9, ...le32(0x176), 0xb8, ...le32(eip), 0x0f, 0x30,
    0xbf, ...le32(0), //                                       mov edi, 0
    0xb9, ...le32(stack), 0xba, ...le32(user), 0x0f, 0x35, //  sysexit to user
    0x46, ...userEnd, //                                 user: inc esi; sysenter (or a fault)
    0x47, 0x83, 0xff, 1 + (r() % 20), 0x73, 0x0c, //    entry: inc edi; cmp edi, n; jae done
    0xb9, ...le32(stack), 0xba, ...le32(user), 0x0f, 0x35, //  sysexit again
  ];
}

describe('SYSENTER/SYSEXIT round trips: none and full leave the same guest-visible state', () => {
  it('150 programs with random SYSENTER MSRs, paging off', () => {
    const r = random(0x5e9);
    const ends = new Map<string, number>();
    for (let n = 0; n < 150; n++) {
      const program = sysenterProgram(r);
      const seed = r();
      const none = sameUnderBoth(program, false, seed, n);
      const key = `${none.end.split(' ')[0]} ${(none.regs as { edi: number }).edi >= 1 ? 'entered' : 'never entered'}`;
      ends.set(key, (ends.get(key) ?? 0) + 1);
    }
    // Many programs enter the kernel by SYSENTER and reach the final HLT; the others fault somewhere.
    expect(ends.get('hlt entered')).toBeGreaterThan(40);
  }, 300_000);
});

describe('self-modifying kernel code: none and full leave the same guest-visible state', () => {
  // PUSHF is a call-out under full (the emulator writes the stack); here the stack is the code a few
  // bytes ahead in the same fragment, so the CPU must run the flags' bytes, not the INCs translated
  // before the write (SDM Vol. 3, 11.6: a write to the code stream takes effect for later instructions).
  const program = [
    0xb8, ...le32(DATA), //        mov eax, DATA (the flags' bytes include ADD [EAX], AL)
    0xbc, ...le32(CODE + 24), //   mov esp, CODE+24
    0x9c, //                       pushf: writes CODE+20..23
    0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
    0x40, 0x40, 0x40, 0x40, //     inc eax x4, replaced by the flags
  ];
  for (const paging of [false, true]) {
    it(`a call-out that rewrites the rest of its own fragment, paging ${paging ? 'on' : 'off'}`, () => {
      const none = sameUnderBoth(program, paging, 7, 0);
      expect(none.ram.subarray(CODE + 20, CODE + 24)).not.toEqual(new Uint8Array([0x40, 0x40, 0x40, 0x40]));
    });
    it(`a translated store that rewrites the rest of its own fragment, paging ${paging ? 'on' : 'off'}`, () => {
      const store = [
        0xc7, 0x05, ...le32(CODE + 16), 0x48, 0x48, 0x48, 0x48, // mov dword [CODE+16], dec eax x4
        0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0x40, 0x40, 0x40, 0x40, //                                   inc eax x4, replaced
      ];
      const none = sameUnderBoth(store, paging, 7, 0);
      expect(none.ram.subarray(CODE + 16, CODE + 20)).toEqual(new Uint8Array([0x48, 0x48, 0x48, 0x48]));
    });
  }
});

describe('kernel code remapped at the same linear address: none and full run the new code after the TLB flush', () => {
  // Two routines in RAM (MOV EAX, n; RET) and a linear page, 0x13000, whose PTE the program points
  // at one then the other. The TC keys fragments by linear address; a flush that the architecture
  // says must expose the new mapping (INVLPG, a CR3 load, a PGE toggle) must expose it to the TC too.
  const L = 0x13000;
  const PTE_L = PAGE_TABLE + (L >>> 12) * 4;
  const PD2 = 0x28000;
  const PT2 = 0x29000;
  const store = (address: number, value: number) => [0xc7, 0x05, ...le32(address), ...le32(value)];
  const routines = [
    0x0f, 0x20, 0xc0, 0x25, ...le32(0xfffeffff), 0x0f, 0x22, 0xc0, // clear CR0.WP: the tables are read-only
    ...store(0x11000, 0x000001b8), ...store(0x11004, 0x0000c300), //  0x11000: mov eax, 1; ret
    ...store(0x12000, 0x000002b8), ...store(0x12004, 0x0000c300), //  0x12000: mov eax, 2; ret
  ];
  const invlpg = [0x0f, 0x01, 0x3d, ...le32(L)];
  const callL = (at: number) => [0xe8, ...le32(L - (CODE + at + 5)), 0x50]; // call L; push eax
  const movCr3 = (pd: number) => [0xb8, ...le32(pd), 0x0f, 0x22, 0xd8];
  const build = (parts: ((at: number) => number[])[]) => {
    const out: number[] = [];
    for (const part of parts) out.push(...part(out.length));
    return out;
  };
  const pushed = (outcome: Outcome, count: number) =>
    Array.from({ length: count }, (_, i) => new DataView(outcome.ram.buffer).getUint32(STACK_TOP - 4 * (i + 1), true));

  // The translator follows a direct CALL into its target, so the routine's code is part of the
  // caller's fragment: three times round one loop that flips the mapping, the third pass reuses the
  // fragment translated in the second, whose inlined routine is the wrong one after the flush.
  const flip = [0x81, 0x35, ...le32(PTE_L), ...le32(0x3000)]; // xor dword [PTE_L], 0x3000: 0x11xxx <-> 0x12xxx
  const loop = (head: number[], flush: number[]) => {
    const start = [...head, 0xb9, ...le32(3)]; // mov ecx, 3
    return build([() => start, callL, () => flip, () => flush, () => [0x49], (at) => [0x75, (start.length - (at + 2)) & 0xff]]);
  };

  it('INVLPG', () => {
    const program = loop([...routines, ...store(PTE_L, 0x11003), ...invlpg], invlpg);
    expect(pushed(sameUnderBoth(program, true, 1, 0), 3)).toEqual([1, 2, 1]);
  });

  it('a CR3 load switches between address spaces that map different code there', () => {
    const program = build([
      () => routines, () => store(PTE_L, 0x12003), () => invlpg,
      () => [0xbe, ...le32(PAGE_TABLE), 0xbf, ...le32(PT2), 0xb9, ...le32(1024), 0xf3, 0xa5], // copy the page table
      () => store(PT2 + (L >>> 12) * 4, 0x11003), () => store(PD2, PT2 | 3),
      () => movCr3(PD2), callL, () => movCr3(PAGE_DIR), callL, () => movCr3(PD2), callL,
    ]);
    expect(pushed(sameUnderBoth(program, true, 2, 0), 3)).toEqual([1, 2, 1]);
  });

  it('a PGE toggle drops a global mapping', () => {
    const cr4 = [0x0f, 0x20, 0xe0]; // mov eax, cr4
    const pgeOn = [0x0d, ...le32(0x80), 0x0f, 0x22, 0xe0];
    const pgeOff = [0x25, ...le32(~0x80), 0x0f, 0x22, 0xe0];
    const program = loop([...routines, ...cr4, ...pgeOn, ...store(PTE_L, 0x11103), ...invlpg], [...cr4, ...pgeOff, ...pgeOn]);
    expect(pushed(sameUnderBoth(program, true, 3, 0), 3)).toEqual([1, 2, 1]);
  });
});

describe('single-stepping kernel code: none and full take the same #DB traps', () => {
  // The program points vector 1 at a handler that counts traps and IRETs, then twice (the second
  // time through translated, chained code) sets TF by POPF and runs a CALL to a routine, a loop
  // with a taken branch, LOOP, a jump and a port read, and clears it. Each guest instruction traps
  // once; the TC's own instructions (a CALL's push and jump, links, call-outs) must not show.
  const handler = CODE + 2;
  const counter = DATA + 0x900;
  const routine = CODE + 0x200;
  const head = [
    0xeb, 0x07, //                                      jmp over the handler
    0xff, 0x05, ...le32(counter), 0xcf, //             handler: inc dword [counter]; iret
    0xc7, 0x05, ...le32(counter), ...le32(0),
    0xc7, 0x05, ...le32(IDT + 8), ...le32((0x08 << 16) | (handler & 0xffff)),
    0xc7, 0x05, ...le32(IDT + 12), ...le32((handler & 0xffff0000) | 0x8e00),
    0xc7, 0x05, ...le32(routine), ...le32(0xc3909040), // routine: inc eax; nop; nop; ret
    0xbe, ...le32(2), //                               mov esi, 2
  ];
  const pass = (at: number) => [
    0x9c, 0x81, 0x0c, 0x24, ...le32(0x100), 0x9d, //   TF on
    0x40, //                                           inc eax
    0xe8, ...le32(routine - (CODE + at + 15)), //      call routine
    0xb9, ...le32(3), 0x49, 0x75, 0xfd, //             mov ecx, 3; dec ecx; jnz
    0xb1, 2, 0xe2, 0xfe, //                            mov cl, 2; loop
    0xeb, 0x01, 0x90, //                               jmp over a NOP
    0xe4, 0x71, //                                     in al, 0x71
    0x9c, 0x81, 0x24, 0x24, ...le32(~0x100), 0x9d, //  TF off
    0x4e, //                                           dec esi
  ];
  const body = pass(head.length);
  const program = [...head, ...body, 0x75, (-(body.length + 2)) & 0xff]; // jnz: the pass again
  for (const paging of [false, true]) {
    it(`counts one trap per guest instruction, paging ${paging ? 'on' : 'off'}`, () => {
      const none = sameUnderBoth(program, paging, 4, 0);
      // Per pass: inc, call, 4 in the routine, mov, 3 x (dec, jnz), mov, 2 x loop, jmp, in, pushf,
      // and, and the POPF that clears TF (it began with TF set; the one that set it did not).
      expect(new DataView(none.ram.buffer).getUint32(counter, true)).toBe(2 * 21);
    });
  }
});
