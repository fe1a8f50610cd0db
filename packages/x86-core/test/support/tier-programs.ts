import { CS, DS, ES, FS, GS, SS, type Cpu } from '../../src/cpu.js';
import type { CpuModel } from '../../src/model.js';
import { createMachine, type TestMachine } from './machine.js';

// Random programs for the three execution tiers (the plain interpreter, decoded records, compiled
// blocks with inline memory accesses), and the lockstep that compares them. The programs reach what
// the tiers must each get right on their own: protection (pages read-only or supervisor-only with
// CR0.WP on or off, data segments read-only, expand-down or with small limits, CPL 3, 16-bit code and
// stacks in protected mode, descriptors loaded by the program) and read-modify-write, string and
// segment-override instructions in loops hot enough to be compiled with inline accesses.

/** Makes a program from a stream of random numbers; the setup applies it to one machine. */
export type TierProgram = (next: () => number) => TierSetup;

export interface TierSetup {
  mode: 'real' | 'flat32';
  model?: CpuModel;
  apply(m: TestMachine): void;
  /** How many instructions each run() may retire. */
  budget(next: () => number): number;
}

function le32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

/** Opcodes over-represented in random bytes: what the records and blocks run, strings, prefixes, stack and segment moves. */
const BIASED = [
  0x01, 0x03, 0x29, 0x31, 0x39, 0x89, 0x8b, 0x8d, 0x83, 0x40, 0x50, 0x58, 0x74, 0x75, 0xc1, 0x66,
  0xf7, 0xf6, 0xff, 0xfe, 0x87, 0x86, 0x93, 0x98, 0x99, 0x0f, 0x0f, 0x0f, 0x69, 0x6b, 0xd3, 0xe8,
  0x11, 0x19, 0x21, 0x09, 0x3b, 0x85, 0xa9, 0xc7, 0xb8, 0x48, 0x7c, 0x72, 0xeb, 0xc3, 0x88, 0x8a,
  0xc9, 0x55, 0x5d, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xf3, 0xf2, 0x67,
  0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x80, 0x81, 0xd0, 0xd1, 0xd2, 0xc0, 0x8f, 0xc8, 0x60,
  0x61, 0x9c, 0x9d, 0xe2, 0xe3, 0x10, 0x18, 0x20, 0x28, 0x30, 0x00, 0x08, 0xfc, 0xfd, 0xc2, 0xca,
  0xcb, 0xe9, 0x68, 0x6a, 0x8c, 0x8e, 0x9e, 0x9f, 0xd7, 0x1f, 0x07,
];
/** Second bytes after 0F: bit tests, XADD, CMPXCHG, SHLD/SHRD, MOVZX/MOVSX, SETcc, CMOVcc, BSF/BSR, BSWAP, PUSH/POP FS/GS. */
const TWO_BYTE = [
  0xa3, 0xab, 0xb3, 0xbb, 0xba, 0xc0, 0xc1, 0xb0, 0xb1, 0xa4, 0xa5, 0xac, 0xad, 0xaf, 0xb6, 0xb7,
  0xbe, 0xbf, 0x90, 0x95, 0x45, 0x4c, 0xbc, 0xbd, 0xc8, 0xa0, 0xa1, 0xa8, 0xa9, 0x84, 0x85, 0x8c,
];

function randomBytes(next: () => number): Uint8Array {
  const code = new Uint8Array(0x10000);
  for (let i = 0; i < code.length; i++) {
    const r = next();
    if ((r & 3) === 0) code[i] = (r >>> 8) & 0xff;
    else if (i > 0 && code[i - 1] === 0x0f && (r & 4) !== 0) code[i] = TWO_BYTE[(r >>> 4) % TWO_BYTE.length];
    else code[i] = BIASED[(r >>> 4) % BIASED.length];
  }
  return code;
}

/** Data segment types: read/write, read-only, expand-down read/write and read-only, execute/read code. */
const DATA_TYPES = [0x3, 0x1, 0x7, 0x5, 0x3, 0x3, 0xb];

const PAGE_DIRECTORY = 0x20000;
const PAGE_TABLE = 0x21000;
const GDT = 0x30000;
/** Where loops find their data: 32-bit code at 0x40000, 16-bit code at 0x4000 (four pages of random rights). */
const DATA32 = 0x40000;
const DATA16 = 0x4000;

/** A GDT of 8192 random descriptors (mostly present data segments), so any selector loads something. */
function randomGdt(next: () => number): Uint8Array {
  const gdt = new Uint8Array(0x10000);
  for (let e = 1; e < 0x2000; e++) {
    const r = next();
    const type = (r & 7) === 0 ? 0x8 | ((r >>> 3) & 7) : DATA_TYPES[(r >>> 3) % DATA_TYPES.length];
    const access = ((r & 0x100) !== 0 ? 0 : 0x80) | ((r >>> 9) & 0x60) | 0x10 | type;
    const limit = [0xfffff, 0xffff, (r >>> 12) & 0xfffff, 0x1ff][(r >>> 16) & 3];
    const base = (r & 0x40000) !== 0 ? next() & 0xfff000 : 0;
    const granularityAndBig = ((r & 0x80000) !== 0 ? 0x80 : 0) | ((r & 0x100000) !== 0 ? 0x40 : 0);
    gdt.set([limit & 0xff, (limit >>> 8) & 0xff, base & 0xff, (base >>> 8) & 0xff, (base >>> 16) & 0xff, access,
      granularityAndBig | (limit >>> 16), base >>> 24], e * 8);
  }
  return gdt;
}

/**
 * Random bytes in 32-bit or 16-bit protected mode, at CPL 0 or 3: paging on in three programs of four
 * (page table entries of random R/W and U/S, some not present, CR0.WP on or off), ES/DS/FS/GS of random
 * type, base and limit, SS 16- or 32-bit, exceptions intercepted and skipped over.
 */
export const protectedBytes: TierProgram = (next) => {
  const code = randomBytes(next);
  const small = (next() & 1) === 0;
  const regs = Array.from({ length: 8 }, () => (small ? next() & 0x3ffff : next()));
  const eip = next() & 0xfff0;
  const user = (next() & 1) === 0;
  const code16 = (next() & 3) === 0;
  const stack16 = (next() & 3) === 0;
  const wp = (next() & 1) === 0;
  const paging = (next() & 3) !== 0;
  const ptes = Array.from({ length: 1024 }, (_, page) => {
    const r = next();
    let flags = 1 | (r & 6);
    // Code and stack pages stay present and user, mostly writable; others are sometimes not present.
    if (page < 0x10 || page === 0x7f || page === 0x80) flags |= (r & 0x10) !== 0 ? 4 : 6;
    else if ((r & 0x300) === 0) flags &= ~1;
    return ((page << 12) | flags) >>> 0;
  });
  // A few directory entries are read-only or supervisor-only, or not present.
  const pdes = Array.from({ length: 1024 }, (_, i) => {
    const r = next();
    return i === 0 || (r & 7) !== 0 ? PAGE_TABLE | 7 : PAGE_TABLE | (r & 0x30) >>> 3 | ((r & 0x40) !== 0 ? 1 : 0);
  });
  const segments = [ES, DS, FS, GS].map(() => {
    const r = next();
    return {
      type: DATA_TYPES[r % DATA_TYPES.length],
      limit: [0xffffffff, 0xffffffff, 0xffffffff, 0xffff, 0xfffff, next() & 0xfffff, next()][(r >>> 8) % 7],
      base: (r & 0x10000) !== 0 ? next() & 0xff000 : 0,
      big: (r & 0x20000) !== 0 ? 0x4000 : 0,
    };
  });
  const flags = (next() & 0xcd5) | ((next() & 1) !== 0 ? 0x400 : 0);
  const inlineRuns = 1 + (next() % 3);
  const gdt = randomGdt(next);
  return {
    mode: 'flat32',
    budget: (n) => 1 + (n() % 40),
    apply(m) {
      const cpu = m.cpu;
      m.memory.writeBytes(0, code);
      m.memory.writeBytes(GDT, gdt);
      regs.forEach((v, r) => (cpu.reg32[r] = v));
      cpu.reg32[4] = stack16 ? 0xfff0 : 0x80000;
      [cpu.gdtrBase, cpu.gdtrLimit, cpu.idtrBase, cpu.idtrLimit] = [GDT, 0xffff, GDT + 0x1000, 0x7ff];
      if (paging) {
        // Every 4 MiB maps through the same table, so random pointers often land on a present page.
        pdes.forEach((e, i) => m.memory.write32(PAGE_DIRECTORY + 4 * i, e));
        ptes.forEach((e, i) => m.memory.write32(PAGE_TABLE + 4 * i, e));
        cpu.cr3 = PAGE_DIRECTORY;
        cpu.cr0 |= 0x80000000 | (wp ? 0x10000 : 0);
      }
      const dpl = user ? 0x60 : 0;
      const rpl = user ? 3 : 0;
      [ES, DS, FS, GS].forEach((s, i) => {
        const d = segments[i];
        cpu.seg[s] = 0x10 | rpl;
        cpu.segBase[s] = d.base;
        cpu.segLimit[s] = d.limit | 0;
        cpu.segAccess[s] = 0x8090 | dpl | d.type | d.big;
      });
      cpu.seg[SS] = 0x10 | rpl;
      cpu.segAccess[SS] = 0x8093 | dpl | (stack16 ? 0 : 0x4000);
      cpu.segLimit[SS] = stack16 ? 0xffff : -1;
      cpu.seg[CS] = 0x08 | rpl;
      cpu.segAccess[CS] = 0x809b | dpl | (code16 ? 0 : 0x4000);
      cpu.cpl = rpl;
      cpu.setEflags(flags);
      cpu.modeChanged();
      cpu.eip = eip;
      cpu.intercepts.exceptions = -1;
      if (cpu.blockCache !== null) {
        cpu.blockCache.hotRuns = 1;
        cpu.blockCache.inlineRuns = inlineRuns;
      }
    },
  };
};

/** Random bytes in real mode with random DS/ES/SS. */
export const realBytes: TierProgram = (next) => {
  const code = randomBytes(next);
  const regs = Array.from({ length: 8 }, () => next());
  const eip = next() & 0xfff0;
  const selectors = [next() & 0xfff, next() & 0xfff, next() & 0xfff];
  const flags = next() & 0xcd5;
  const inlineRuns = 1 + (next() % 3);
  return {
    mode: 'real',
    budget: (n) => 1 + (n() % 40),
    apply(m) {
      const cpu = m.cpu;
      m.memory.writeBytes(0, code);
      regs.forEach((v, r) => (cpu.reg32[r] = v));
      cpu.reg32[4] = 0x8000;
      [DS, ES, SS].forEach((s, i) => cpu.loadRealSegment(s, selectors[i]));
      cpu.setEflags(flags);
      cpu.eip = eip;
      cpu.intercepts.exceptions = -1;
      if (cpu.blockCache !== null) {
        cpu.blockCache.hotRuns = 1;
        cpu.blockCache.inlineRuns = inlineRuns;
      }
    },
  };
};

/** `realBytes` on the 80286 model (its instruction length limit, LOCK, stack faults, string stepping). */
export const realBytes286: TierProgram = (next) => ({ ...realBytes(next), model: '80286' });

/**
 * A loop body of random instructions over memory at [ESI+d8] ([SI+d8] in 16-bit code): ALU, MOV,
 * read-modify-writes (INC/DEC, NOT/NEG, shifts, BTS/BTR/BTC, XADD, CMPXCHG, SHLD/SHRD, XCHG), SETcc,
 * CMOVcc, string instructions, PUSH/POP r/m, ENTER/LEAVE, PUSHA/POPA, with segment overrides, LOCK and
 * operand-size prefixes; ESI and EDI are kept in the data window; ECX counts the laps.
 */
function loopCode(next: () => number, code32: boolean): number[] {
  const dst = [0, 2, 3, 5, 7];
  const any = [0, 1, 2, 3, 5, 6, 7];
  const pick = (a: number[]): number => a[next() % a.length];
  const mem = (reg: number): number[] => [0x40 | (reg << 3) | (code32 ? 6 : 4), next() & 0xfc];
  const e = (reg: number): number[] => ((next() & 3) !== 0 ? mem(reg) : [0xc0 | (reg << 3) | pick(dst)]);
  const iv = (): number[] => le32(next()).slice(0, code32 ? 4 : 2);
  const prefix = (): number[] => {
    const r = next() % 10;
    return r === 0 ? [0x66] : r === 1 ? [pick([0x26, 0x64, 0x65, 0x36, 0x2e])] : r === 2 ? [0xf0] : [];
  };
  const templates: (() => number[])[] = [
    () => [((next() & 7) << 3) | 1, ...e(pick(any))],
    () => [((next() & 7) << 3) | 0, ...mem(pick(any))],
    () => [((next() & 7) << 3) | 3, ...mem(pick(dst))],
    () => [0x83, ...e(next() & 7), next() & 0xff],
    () => [0x80, ...mem(next() & 7), next() & 0xff],
    () => [0x81, ...e(next() & 7), ...iv()],
    () => [0x89, ...mem(pick(any))],
    () => [0x8b, ...mem(pick(dst))],
    () => [0x88, ...mem(pick(any))],
    () => [0x8a, ...mem(pick(dst))],
    () => [0xc7, ...mem(0), ...iv()],
    () => [0xc6, ...mem(0), next() & 0xff],
    () => [0xff, ...mem(next() & 1)],
    () => [0xfe, ...mem(next() & 1)],
    () => [0xff, ...mem(6), 0x58 + pick(dst)],
    () => [0x8f, ...mem(0)],
    () => [0x85, ...mem(pick(any))],
    () => [0x87, ...mem(pick(dst))],
    () => [0x86, ...mem(pick(dst))],
    () => [0x0f, pick([0xb6, 0xb7, 0xbe, 0xbf]), ...mem(pick(dst))],
    () => [pick([0xc1, 0xc0]), ...mem(next() & 7), next() & 0x1f],
    () => [pick([0xd1, 0xd0, 0xd3, 0xd2]), ...mem(next() & 7)],
    () => [0x0f, 0xaf, ...mem(pick(dst))],
    () => [0x69, ...mem(pick(dst)), ...iv()],
    () => [0x6b, ...mem(pick(dst)), next() & 0xff],
    () => [0x0f, 0x90 + (next() & 15), ...mem(0)],
    () => [0x0f, 0x40 + (next() & 15), ...mem(pick(dst))],
    () => [pick([0xf6, 0xf7]), ...mem(2 + (next() % 6))], //          NOT NEG MUL IMUL DIV IDIV
    () => [0xf7, ...mem(0), ...iv()],
    () => [0x0f, 0xba, ...mem(4 + (next() & 3)), next() & 0xff],
    () => [0x0f, pick([0xc0, 0xc1, 0xb0, 0xb1]), ...mem(pick(dst))],
    () => [0x0f, pick([0xa4, 0xac]), ...mem(pick(dst)), next() & 0x1f],
    () => [0x0f, pick([0xa5, 0xad, 0xa3]), ...mem(pick([0, 2, 3]))],
    () => [pick([0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf])],
    () => [pick([0xfc, 0xfd, 0xf8, 0xf9, 0xf5, 0x9c, 0x9e, 0x9f])],
    () => [0x9c, 0x8f, ...mem(0)],
    () => [0x8d, ...mem(pick(dst))],
    () => [0x0f, 0xc8 + pick(dst)],
    () => [0x60, 0x61],
    () => [0xc8, 8, 0, next() & 1, 0xc9],
    () => [0x8c, ...mem(pick([0, 3, 4, 5]))],
  ];
  const code: number[] = [];
  const length = 4 + (next() % 24);
  for (let k = 0; k < length; k++) {
    const insn = [...prefix(), ...templates[next() % templates.length]()];
    // Now and then a conditional branch over the instruction.
    if (next() % 6 === 0) code.push(0x70 + (next() & 15), insn.length);
    code.push(...insn);
  }
  const window = code32 ? DATA32 : DATA16;
  const size = code32 ? 4 : 2;
  code.push(0x81, 0xe6, ...le32(0x1ffc).slice(0, size)); // and esi, 0x1ffc
  code.push(0x81, 0xce, ...le32(window).slice(0, size)); // or esi, window
  code.push(0x81, 0xe7, ...le32(0x1ffc).slice(0, size)); // and edi, 0x1ffc
  code.push(0x81, 0xcf, ...le32(window).slice(0, size)); // or edi, window
  code.push(0x49, 0x0f, 0x85); //                          dec ecx; jnz top
  code.push(...le32(-(code.length + size)).slice(0, size));
  code.push(0xf4);
  return code;
}

/** `protectedBytes`' machine running a random loop at 0x1000 over four data pages of random rights. */
export const protectedLoop: TierProgram = (next) => {
  const machine = protectedBytes(next);
  const code16 = (next() & 3) === 0;
  const code = loopCode(next, !code16);
  const offset = next() & 0x1ffc;
  const pageBits = Array.from({ length: 4 }, () => next());
  const data = Uint8Array.from({ length: 0x3000 }, () => next() & 0xff);
  const flatData = (next() & 1) === 0;
  const hotRuns = 1 + (next() % 3);
  return {
    mode: 'flat32',
    budget: (n) => ((n() & 1) !== 0 ? 1 + (n() % 400) : 1 + (n() % 40)),
    apply(m) {
      machine.apply(m);
      const cpu = m.cpu;
      cpu.segAccess[CS] = (cpu.segAccess[CS] & ~0x4000) | (code16 ? 0 : 0x4000);
      m.memory.writeBytes(0x1000, Uint8Array.from(code));
      m.memory.writeBytes(DATA32, data);
      if (cpu.pagingOn) {
        pageBits.forEach((r, p) => {
          const flags = (r & 15) === 0 ? 0 : 1 | (r & 0x66) | ((r & 0x100) !== 0 ? 6 : 0);
          m.memory.write32(PAGE_TABLE + 4 * ((DATA32 >>> 12) + p), (((DATA32 >>> 12) + p) << 12 | flags) >>> 0);
        });
      }
      if (flatData) {
        for (const s of [ES, DS, FS, GS]) {
          cpu.segBase[s] = 0;
          cpu.segLimit[s] = -1;
        }
      }
      const window = code16 ? DATA16 : DATA32;
      cpu.reg32[1] = 200;
      cpu.reg32[6] = window + offset;
      cpu.reg32[7] = window + ((offset * 7) & 0x1ffc);
      if (code16) {
        cpu.reg32[4] = 0xfff0;
        cpu.segAccess[SS] &= ~0x4000;
        cpu.segLimit[SS] = 0xffff;
      }
      cpu.eip = 0x1000;
      cpu.modeChanged();
      if (cpu.blockCache !== null) cpu.blockCache.hotRuns = hotRuns;
    },
  };
};

function state(cpu: Cpu): string {
  const s = cpu.stop;
  return `regs=${Array.from(cpu.reg32).join(',')} eip=${cpu.eip} fl=${cpu.getEflags()} seg=${Array.from(cpu.seg).join(',')} ` +
    `base=${Array.from(cpu.segBase).join(',')} limit=${Array.from(cpu.segLimit).join(',')} access=${Array.from(cpu.segAccess).join(',')} ` +
    `cr0=${cpu.cr0} cr3=${cpu.cr3} cpl=${cpu.cpl} retired=${cpu.retired} cr2=${cpu.cr2} halted=${cpu.halted} ` +
    `stop=${s.reason}/${s.vector}/${s.errorCode}/${s.address}/${s.length}`;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** What the programs did, so a test can tell that they ran and reached the blocks. */
export interface TierCounts {
  retired: number;
  compiled: number;
}

const TIER_NAMES = ['interpreter', 'decoded records', 'blocks'];

/**
 * Runs one program on the three tiers in lockstep (the same budgets; after an intercepted exception
 * each resumes past it, or somewhere else in the code) and returns '' when they agree after every run on the stop, the
 * registers, segments, control registers, counts and memory; else where and how they first differ.
 */
export function compareTiers(program: TierSetup, next: () => number, counts?: TierCounts, runs = 150): string {
  const tiers = [
    createMachine(program.mode, undefined, false, false, program.model),
    createMachine(program.mode, undefined, true, false, program.model),
    createMachine(program.mode, undefined, true, true, program.model),
  ];
  for (const t of tiers) program.apply(t);
  for (let run = 0; run < runs; run++) {
    if (tiers[0].cpu.stop.reason === 'exception') {
      // Past the faulting instruction (as a VMM that emulated it), or (when it ran off the random code)
      // back into the code somewhere.
      const restart = tiers[0].cpu.eip >= 0x10000 || (next() & 15) === 0 ? next() & 0xfff0 : -1;
      for (const t of tiers) {
        if (t.cpu.stop.reason !== 'exception') continue;
        // A single-step #DB is a trap: EIP is already past the instruction that raised it.
        if (restart >= 0) t.cpu.eip = restart;
        else if (t.cpu.stop.vector !== 1) t.cpu.skipInstruction(Math.max(1, t.cpu.stop.length));
      }
    }
    const at = (tiers[0].cpu.segBase[CS] + tiers[0].cpu.eip) >>> 0;
    const where = `run ${run} from EIP ${tiers[0].cpu.eip.toString(16)} (${hex(tiers[0].memory.ram.subarray(at, at + 16))})`;
    const budget = program.budget(next);
    const reasons = tiers.map((t) => t.cpu.run(budget));
    const states = tiers.map((t) => state(t.cpu));
    for (let k = 1; k < tiers.length; k++) {
      if (reasons[k] !== reasons[0] || states[k] !== states[0]) {
        return `${TIER_NAMES[k]}, ${where}, budget ${budget}: ${reasons[k]} ${states[k]}\n  the interpreter: ${reasons[0]} ${states[0]}`;
      }
      const a = tiers[0].memory.ram;
      const b = tiers[k].memory.ram;
      // Memory after every stop, and at the end.
      if ((reasons[0] !== 'budget' || run === runs - 1) && !Buffer.from(a).equals(Buffer.from(b))) {
        let i = 0;
        while (a[i] === b[i]) i++;
        return `${TIER_NAMES[k]}, ${where}, budget ${budget}: memory at ${i.toString(16)} is ${b[i]}, interpreted ${a[i]}`;
      }
    }
    if (reasons[0] !== 'budget' && reasons[0] !== 'exception') break;
  }
  for (let k = 1; k < tiers.length; k++) {
    if (!Buffer.from(tiers[0].memory.ram).equals(Buffer.from(tiers[k].memory.ram))) return `${TIER_NAMES[k]}: memory at the end`;
  }
  if (counts !== undefined) {
    counts.retired += tiers[0].cpu.retired;
    counts.compiled += tiers[2].cpu.blockCache?.compiled ?? 0;
  }
  return '';
}
