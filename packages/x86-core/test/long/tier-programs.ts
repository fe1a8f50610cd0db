import { CS, FS, GS, SS, type Cpu } from '../../src/cpu.js';
import { createMachine, type Machine } from '../pm/machine.js';
import { LMA, LME, NXE, SCE } from './machine.js';

// Random 64-bit programs for the two tiers of 64-bit mode (the interpreter, step64, and compiled
// blocks, src/long/blocks.ts), and the lockstep that compares them. The machine: 4-level paging with
// the low 2 MiB in 4 KiB pages of random rights (present, R/W, U/S, NX), mapped at 0 and again at
// 0xffffffff80000000 and the last code page also just below the non-canonical hole (0x7ffffffff000),
// CPL 0 or 3, CR0.WP on or off, FS/GS bases, registers pointing into the data pages, anywhere, or at
// non-canonical addresses, every exception intercepted.

/** Where the code lies (16 pages), the data pages of random rights, and the stack's top. */
const CODE = 0x10000;
const CODE_PAGES = 16;
const DATA = 0x40000;
const DATA_PAGES = 4;
const STACK_TOP = 0x80000;
const PML4 = 0x70000;
const PDPT = 0x71000;
const PD = 0x72000;
const PT = 0x73000;
/** The tables mapping 0x7ffffffff000 to the last code page. */
const TOP_PDPT = 0x74000;
const TOP_PD = 0x75000;
const TOP_PT = 0x76000;
const TOP_PAGE_HI = 0x7fff;
const TOP_PAGE_LO = 0xfffff000 | 0;

export interface Program64 {
  apply(m: Machine): void;
  /** Instruction starts by offset in the code (1), where a resumed program continues. */
  starts: Uint8Array;
  /** Where a program that left its code starts again. */
  restart(next: () => number): [number, number];
  /** How many instructions each run() may retire. */
  budget(next: () => number): number;
}

function le32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

function pick<T>(next: () => number, a: readonly T[]): T {
  return a[next() % a.length];
}

/** A ModRM operand: a register (mod 3) or memory with SIB, disp8/disp32, RIP-relative; `reg` the reg field. */
function modrm(next: () => number, reg: number, memoryOnly = false): number[] {
  const r = next();
  const mod = memoryOnly ? r % 3 : [3, 3, 3, 0, 0, 1, 1, 2][r & 7];
  let rm = (r >>> 4) & 7;
  if (mod !== 3 && (r & 0x300) === 0) rm = 5; // RIP-relative with mod 0
  const out = [(mod << 6) | ((reg & 7) << 3) | rm];
  if (mod === 3) return out;
  if (rm === 4) out.push(next() & 0xff);
  const sibNoBase = rm === 4 && mod === 0 && (out[1] & 7) === 5;
  // RIP-relative and absolute displacements land near the code or data now and then.
  if ((mod === 0 && rm === 5) || sibNoBase) out.push(...le32((r & 0x400) !== 0 ? (next() & 0x3fff) - 0x2000 : DATA + (next() & 0x3fff)));
  else if (mod === 1) out.push(next() & 0xff);
  else if (mod === 2) out.push(...le32((r & 0x800) !== 0 ? next() & 0xfff : next()));
  return out;
}

const imm = (next: () => number, bytes: number): number[] => le32(next()).slice(0, bytes);

/** One instruction of the kinds 64-bit code is made of (the compiled ones above all), or a few random bytes. */
function instruction(next: () => number): number[] {
  const r = next();
  const prefix: number[] = [];
  if ((r & 15) === 0) prefix.push(pick(next, [0x66, 0x67, 0x64, 0x65, 0x2e, 0x3e, 0xf0, 0xf3, 0xf2, 0x66]));
  let rex = (r & 0x30) !== 0 ? [0x40 | ((r >>> 6) & 15)] : [];
  if ((r & 0xc00) === 0) rex = [0x48];
  const any = (): number => next() & 7;
  const iz = (): number[] => imm(next, prefix.includes(0x66) && !(rex[0] & 8) ? 2 : 4);
  const templates: (() => number[])[] = [
    () => [((any()) << 3) | (next() & 3), ...modrm(next, any())],
    () => [((any()) << 3) | 4, next() & 0xff],
    () => [((any()) << 3) | 5, ...iz()],
    () => [0x80, ...modrm(next, any()), next() & 0xff],
    () => [0x81, ...modrm(next, any()), ...iz()],
    () => [0x83, ...modrm(next, any()), next() & 0xff],
    () => [pick(next, [0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8b, 0x89, 0x63]), ...modrm(next, any())],
    () => [0x8d, ...modrm(next, any(), true)],
    () => [0x50 + any()],
    () => [0x58 + any()],
    () => [pick(next, [0x68]), ...imm(next, 4)],
    () => [0x6a, next() & 0xff],
    () => [0x69, ...modrm(next, any()), ...iz()],
    () => [0x6b, ...modrm(next, any()), next() & 0xff],
    () => [0x70 + (next() & 15), (next() & 0x3f) - 0x20],
    () => [0x0f, 0x80 + (next() & 15), ...le32((next() & 0xff) - 0x80)],
    () => [pick(next, [0x90, 0x91, 0x93, 0x97, 0x98, 0x99, 0x90])],
    () => [pick(next, [0xa8]), next() & 0xff],
    () => [0xa9, ...iz()],
    () => [0xb0 + any(), next() & 0xff],
    () => [0xb8 + any(), ...iz(), ...(rex[0] & 8 ? imm(next, 4) : [])],
    () => [pick(next, [0xc0, 0xc1]), ...modrm(next, any()), next() & 0x7f],
    () => [pick(next, [0xd0, 0xd1, 0xd2, 0xd3]), ...modrm(next, any())],
    () => [0xc3],
    () => [0xc2, next() & 0xff, 0],
    () => [pick(next, [0xc6, 0xc7]), ...modrm(next, (next() & 7) === 0 ? 1 : 0)],
    () => [0xc9],
    () => [0xe8, ...le32((next() & 0xff) - 0x40)],
    () => [0xe9, ...le32((next() & 0xff) - 0x80)],
    () => [0xeb, (next() & 0x3f) - 0x10],
    () => [pick(next, [0xf6, 0xf7]), ...modrm(next, any()), ...imm(next, 4)],
    () => [pick(next, [0xfe, 0xff]), ...modrm(next, any())],
    () => [0x0f, 0x40 + (next() & 15), ...modrm(next, any())],
    () => [0x0f, 0x90 + (next() & 15), ...modrm(next, any())],
    () => [0x0f, pick(next, [0xaf, 0xb6, 0xb7, 0xbe, 0xbf, 0x1f]), ...modrm(next, any())],
    // What the compiled tier leaves to the interpreter: strings, flags, bit tests, CMPXCHG, SYSCALL...
    () => [pick(next, [0xa4, 0xa5, 0xaa, 0xab, 0xac, 0xad, 0x9c, 0x9d, 0xf8, 0xf9, 0xfc, 0xfd, 0xcc, 0xf4])],
    () => [0x0f, pick(next, [0xa3, 0xab, 0xb1, 0xc1, 0xbc, 0xbd, 0xc8, 0x05, 0xa2, 0x31]), ...modrm(next, any())],
    () => Array.from({ length: 1 + (next() & 3) }, () => next() & 0xff),
  ];
  return [...prefix, ...rex, ...pick(next, templates)()];
}

/** Pages of instructions, and where each starts (for resuming past one that faulted). */
function randomCode(next: () => number): { code: Uint8Array; starts: Uint8Array } {
  const code = new Uint8Array(CODE_PAGES * 4096);
  const starts = new Uint8Array(code.length);
  let at = 0;
  while (at < code.length) {
    const insn = instruction(next);
    code.set(insn.slice(0, code.length - at), at);
    starts[at] = 1;
    at += insn.length;
  }
  return { code, starts };
}

function pte(page: number, flags: number): number {
  return ((page << 12) | flags) >>> 0;
}

export interface Machine64Setup {
  /** Page table entry flags (bits 0-2, 63 as bit 31 of the high dword) for the 512 pages of the low 2 MiB. */
  flags: number[];
  nx: boolean[];
  cpl3: boolean;
  wp: boolean;
  fsBase: [number, number];
  gsBase: [number, number];
  regs: [number, number][];
  eflags: number;
}

/** The random machine: page rights, CPL, CR0.WP, FS/GS bases, registers and flags. */
function randomSetup(next: () => number): Machine64Setup {
  const cpl3 = (next() & 1) === 0;
  const flags: number[] = [];
  const nx: boolean[] = [];
  for (let p = 0; p < 512; p++) {
    const r = next();
    let f = 1 | (r & 6);
    let noExec = (r & 0x18) === 0;
    if (p >= CODE >>> 12 && p < (CODE >>> 12) + CODE_PAGES) {
      // Code: executable, user at CPL 3, now and then read-only, supervisor or non-executable.
      f = 1 | ((r & 0x300) !== 0 ? 2 : 0) | (cpl3 && (r & 0x3c00) !== 0 ? 4 : cpl3 ? 0 : (r & 4));
      noExec = (r & 0x3f000) === 0;
    } else if (p >= PML4 >>> 12 && p <= TOP_PT >>> 12) f = 1; // the tables: supervisor, read-only
    else if (p >= (STACK_TOP >>> 12) - 2 && p < STACK_TOP >>> 12) f = (r & 0xf0000) === 0 ? 1 | (r & 4) : 7;
    else if (p < DATA >>> 12 || p >= (DATA >>> 12) + DATA_PAGES) f = (r & 0x700000) === 0 ? f & ~1 : f;
    else if ((r & 0x7000000) === 0) f &= ~1; // a data page: not present, or of random rights,
    else if ((r & 0x18000000) !== 0) f = 7; //        but mostly all of them
    flags.push(f);
    nx.push(noExec);
  }
  // Into the data pages or the stack at their low address or their high alias, or anywhere (the high
  // dword random: mostly not canonical).
  const address = (): [number, number] => {
    const r = next();
    const lo = (r & 1) === 0 ? DATA + (next() & 0x3fff) : (r & 2) === 0 ? STACK_TOP - (next() & 0x1ff8) : next();
    if ((r & 12) === 0) return [lo, next()];
    return (r & 16) === 0 ? [lo | 0x80000000, -1] : [lo, 0];
  };
  const regs = Array.from({ length: 16 }, () => ((next() & 3) === 0 ? [next(), next() & 1 ? 0 : next()] as [number, number] : address()));
  regs[4] = (next() & 1) === 0 ? [STACK_TOP, 0] : [STACK_TOP | 0x80000000, -1];
  const base = (): [number, number] => ((next() & 1) === 0 ? [0, 0] : [next() & 0x3000, (next() & 1) === 0 ? 0 : -1]);
  return {
    cpl3, flags, nx, wp: (next() & 1) === 0, fsBase: base(), gsBase: base(), regs,
    // TF now and then only: single-stepping keeps the blocks from running.
    eflags: next() & ((next() & 7) === 0 ? 0xcd5 : 0xcd5 & ~0x100),
  };
}

/** Builds `setup`'s machine state: paging, CPL, registers. */
function applySetup(m: Machine, s: Machine64Setup): void {
  const { cpu, physical } = m;
  const w64 = (at: number, lo: number, high: number): void => {
    physical.write32(at, lo >>> 0);
    physical.write32(at + 4, high >>> 0);
  };
  w64(PML4, PDPT | 7, 0);
  w64(PML4 + 8 * 511, PDPT | 7, 0);
  w64(PML4 + 8 * 255, TOP_PDPT | 7, 0);
  w64(PDPT, PD | 7, 0);
  w64(PDPT + 8 * 510, PD | 7, 0);
  w64(TOP_PDPT + 8 * 511, TOP_PD | 7, 0);
  w64(TOP_PD + 8 * 511, TOP_PT | 7, 0);
  const lastCode = (CODE >>> 12) + CODE_PAGES - 1;
  w64(TOP_PT + 8 * 511, pte(lastCode, s.flags[lastCode]), s.nx[lastCode] ? 0x80000000 | 0 : 0);
  w64(PD, PT | 7, 0);
  w64(PD + 8, 0x200087, 0);
  for (let p = 0; p < 512; p++) w64(PT + 8 * p, pte(p, s.flags[p]), s.nx[p] ? 0x80000000 | 0 : 0);
  cpu.cr3 = PML4;
  cpu.cr4 = 0x20;
  cpu.efer = SCE | LME | LMA | NXE;
  cpu.cr0 = (0x80000011 | (s.wp ? 0x10000 : 0)) | 0;
  cpu.cpl = s.cpl3 ? 3 : 0;
  cpu.segAccess[CS] = s.cpl3 ? 0xa0fb : 0xa09b;
  cpu.seg[CS] = s.cpl3 ? 0x2b : 0x08;
  cpu.segAccess[SS] = s.cpl3 ? 0xc0f3 : 0xc093;
  cpu.seg[SS] = s.cpl3 ? 0x23 : 0x10;
  cpu.segBase[FS] = s.fsBase[0];
  cpu.long.segBaseHi[FS] = s.fsBase[1];
  cpu.segBase[GS] = s.gsBase[0];
  cpu.long.segBaseHi[GS] = s.gsBase[1];
  s.regs.forEach(([lo, high], r) => {
    cpu.reg32[r] = lo;
    cpu.regHi[r] = high;
  });
  cpu.setEflags(s.eflags | 2);
  cpu.modeChanged();
  cpu.codeSizeChanged();
  cpu.intercepts.exceptions = -1;
}

/** A random RIP in the code: at its low address, its alias at 0xffffffff80000000, or near the hole. */
function randomRip(next: () => number): [number, number] {
  const r = next();
  if ((r & 7) === 0) return [(TOP_PAGE_LO + (next() & 0xfff)) | 0, TOP_PAGE_HI];
  const lo = CODE + (next() % (CODE_PAGES * 4096));
  return (r & 8) === 0 ? [lo, 0] : [(lo | 0x80000000) | 0, -1];
}

function setRip(cpu: Cpu, [lo, high]: [number, number]): void {
  cpu.eip = lo >>> 0;
  cpu.ripHi = high;
}

/** Random instructions over the random machine. */
export const longBytes = (next: () => number): Program64 => {
  const { code, starts } = randomCode(next);
  const setup = randomSetup(next);
  const rip = randomRip(next);
  return {
    starts,
    restart: randomRip,
    budget: (n) => 1 + (n() % 40),
    apply(m) {
      m.physical.writeBytes(CODE, code);
      applySetup(m, setup);
      setRip(m.cpu, rip);
    },
  };
};

/**
 * A loop of random instructions over [RSI+d8] and [RDI+d8] in the data pages (at their low address or
 * the high alias, so the high dwords matter), RIP-relative loads and stores (into the code itself now
 * and then), FS/GS overrides, CALL/RET pairs, conditional branches over instructions; RCX counts laps.
 */
function loopCode(next: () => number, high: boolean, starts: number[]): number[] {
  const dst = [0, 2, 3, 5, 8, 9, 11];
  const w = (): number => (next() & 1 ? 0x48 : 0x40);
  const regRex = (reg: number): number => (reg >= 8 ? 4 : 0);
  // [RSI+d8] or [RDI+d8] with the reg field `reg` (0-15): the REX bits it needs, and the ModRM bytes.
  const mem = (reg: number): [number, number[]] => [regRex(reg), [0x40 | ((reg & 7) << 3) | pick(next, [6, 7]), next() & 0xf8]];
  const ripRel = (reg: number): [number, number[]] => [regRex(reg), [0x05 | ((reg & 7) << 3), ...le32((next() & 0x7f) - 0x40)]];
  const e = (reg: number): [number, number[]] => {
    const r = next() & 7;
    if (r === 0) return ripRel(reg);
    if (r < 5) return mem(reg);
    const rm = pick(next, dst);
    return [regRex(reg) | (rm >= 8 ? 1 : 0), [0xc0 | ((reg & 7) << 3) | (rm & 7)]];
  };
  const withE = (ops: number[], reg: number, tail: number[] = [], rexW = true): number[] => {
    const [rexBits, operand] = e(reg);
    const seg = (next() & 7) === 0 ? [pick(next, [0x64, 0x65])] : [];
    const rex = (rexW ? w() : 0x40) | rexBits;
    return [...seg, ...(rex === 0x40 && (next() & 1) ? [] : [rex]), ...ops, ...operand, ...tail];
  };
  const templates: (() => number[])[] = [
    () => withE([((next() & 7) << 3) | (next() & 3)], pick(next, dst)),
    () => withE([0x83], next() & 7, [next() & 0xff]),
    () => withE([0x81], next() & 7, le32(next())),
    () => withE([pick(next, [0x89, 0x8b, 0x88, 0x8a, 0x85, 0x87, 0x63])], pick(next, dst)),
    () => withE([0xc7], 0, le32(next())),
    () => withE([0xff], next() & 1),
    () => withE([pick(next, [0xc1, 0xc0])], next() & 7, [next() & 0x3f]),
    () => withE([pick(next, [0xd1, 0xd3])], next() & 7),
    () => withE([0xf7], 2 + (next() % 4)),
    () => withE([0x0f, pick(next, [0xaf, 0xb6, 0xb7, 0xbe, 0xbf])], pick(next, dst)),
    () => withE([0x0f, 0x40 + (next() & 15)], pick(next, dst)),
    () => withE([0x0f, 0x90 + (next() & 15)], 0, [], false),
    () => withE([0x6b], pick(next, dst), [next() & 0xff]),
    () => [0x48, 0x8d, 0x44 | (pick(next, [0, 2, 3, 5]) << 3), (next() & 0xc0) | ((next() & 7) << 3) | 6, next() & 0xff], // LEA r, [RSI+r*s+d8]
    () => [0x50 + (next() & 7), 0x58 + pick(next, [0, 2, 3])],
    () => [0xe8, 0, 0, 0, 0, 0x48, 0x83, 0xc4, 8], //                                     call $+5; add rsp, 8
    () => [0xe8, 2, 0, 0, 0, 0xeb, 1, 0xc3], //                                            call over a ret into it
    () => [pick(next, [0x48, 0x40]), 0x99],
    () => [0x48, 0x98],
    () => [0x49, 0xb8 + (next() & 3), ...le32(next()), ...le32(next())], //                mov r8-r11, imm64
    () => [pick(next, [0xa5, 0xab, 0x9c, 0x9d, 0xfc])], //                                 left to the interpreter
  ];
  const code: number[] = [];
  const length = 4 + (next() % 24);
  for (let k = 0; k < length; k++) {
    const insn = pick(next, templates)();
    if (next() % 6 === 0) code.push(0x70 + (next() & 15), insn.length);
    starts.push(code.length);
    code.push(...insn);
  }
  // Keep RSI and RDI (plus d8) in the data pages: and r, 0x3ef8; or r, DATA (sign-extended: the high alias).
  const window = high ? (DATA | 0x80000000) | 0 : DATA;
  starts.push(code.length);
  for (const r of [6, 7]) {
    code.push(0x48, 0x81, 0xe0 | r, ...le32(0x3ef8));
    code.push(0x48, 0x81, 0xc8 | r, ...le32(window));
  }
  code.push(0x48, 0xff, 0xc9); //                                                           dec rcx
  code.push(0x0f, 0x85, ...le32(-(code.length + 6))); //                                    jnz top
  code.push(0xf4);
  return code;
}

/** `longBytes`' machine running a random loop at the start of the code. */
export const longLoop = (next: () => number): Program64 => {
  const setup = randomSetup(next);
  const high = (next() & 1) === 0;
  const at: number[] = [];
  const code = loopCode(next, high, at);
  const data = Uint8Array.from({ length: DATA_PAGES * 4096 }, () => next() & 0xff);
  const offset = next() & 0x3ef8;
  const starts = new Uint8Array(CODE_PAGES * 4096);
  for (const k of at) starts[k] = 1;
  const entry: [number, number] = high ? [(CODE | 0x80000000) | 0, -1] : [CODE, 0];
  return {
    starts,
    restart: () => entry,
    budget: (n) => ((n() & 1) !== 0 ? 1 + (n() % 400) : 1 + (n() % 40)),
    apply(m) {
      m.physical.writeBytes(CODE, Uint8Array.from(code));
      m.physical.writeBytes(DATA, data);
      applySetup(m, setup);
      const cpu = m.cpu;
      const window = high ? (DATA | 0x80000000) | 0 : DATA;
      cpu.reg32[1] = 200;
      cpu.regHi[1] = 0;
      for (const [r, at] of [[6, offset], [7, (offset * 7) & 0x3ef8]]) {
        cpu.reg32[r] = window + at;
        cpu.regHi[r] = high ? -1 : 0;
      }
      setRip(cpu, entry);
    },
  };
};

/** Bytes from RIP to the next instruction start of the code (1 when none is near), -1 when RIP is not in the code. */
function skipLength(starts: Uint8Array, cpu: Cpu): number {
  const lo = cpu.eip >>> 0;
  let offset = -1;
  if (cpu.ripHi === TOP_PAGE_HI && lo >= (TOP_PAGE_LO >>> 0)) offset = (CODE_PAGES - 1) * 4096 + (lo & 0xfff);
  else if (cpu.ripHi === 0 || (cpu.ripHi === -1 && lo >= 0x80000000)) offset = (lo & 0x7fffffff) - CODE;
  if (!(offset >= 0 && offset < starts.length)) return -1;
  for (let k = 1; k <= 15 && offset + k < starts.length; k++) if (starts[offset + k] === 1) return k;
  return 1;
}

function state(cpu: Cpu): string {
  const s = cpu.stop;
  return `regs=${Array.from(cpu.reg32).join(',')} hi=${Array.from(cpu.regHi).join(',')} rip=${cpu.ripHi}:${cpu.eip} ` +
    `fl=${cpu.getEflags()} seg=${Array.from(cpu.seg).join(',')} base=${Array.from(cpu.segBase).join(',')} ` +
    `baseHi=${Array.from(cpu.long.segBaseHi).join(',')} access=${Array.from(cpu.segAccess).join(',')} ` +
    `cr0=${cpu.cr0} cr2=${cpu.cr2Hi}:${cpu.cr2} cr3=${cpu.cr3} cr4=${cpu.cr4} efer=${cpu.efer} cpl=${cpu.cpl} ` +
    `retired=${cpu.retired} halted=${cpu.halted} mode64=${cpu.mode64} stop=${s.reason}/${s.vector}/${s.errorCode}/${s.address}`;
}

/** What the programs did, so a test can tell that they ran and that compiled code ran. */
export interface Counts64 {
  retired: number;
  /** Instructions retired inside compiled blocks. */
  compiled: number;
  /** Blocks compiled again with their memory operands inline. */
  inlined: number;
}

/**
 * Runs one program under the interpreter alone and with compiled blocks (hot at once, or after a
 * few runs) in lockstep, with the same budgets; after an intercepted exception both resume past it
 * or somewhere else in the code. Returns '' when they agree after every run on the stop, the
 * registers, RIP, RFLAGS, segments, control registers, retired count and memory.
 */
export function compareTiers64(program: Program64, next: () => number, counts?: Counts64, runs = 150): string {
  const hotRuns = 1 + (next() % 3);
  const tiers = [createMachine({ direct: true, model: 'x86-64', compileBlocks: false }), createMachine({ direct: true, model: 'x86-64', hotRuns })];
  for (const t of tiers) program.apply(t);
  const [interpreter, compiled] = tiers.map((t) => t.cpu);
  for (let run = 0; run < runs; run++) {
    if (interpreter.stop.reason === 'exception') {
      const r = next();
      const restart = program.restart(next);
      const skip = skipLength(program.starts, interpreter);
      for (const { cpu } of tiers) {
        // Past the faulting instruction (to the next start the program knows, else its next byte,
        // where it decodes as something else), or (now and then, and always outside the code) elsewhere.
        if ((r & 7) === 0 || !cpu.mode64 || skip < 0) setRip(cpu, restart);
        else if (cpu.stop.vector !== 1) setRip(cpu, [(cpu.eip + skip) | 0, cpu.ripHi]);
      }
    }
    const where = `run ${run} from RIP ${interpreter.ripHi.toString(16)}:${(interpreter.eip >>> 0).toString(16)}`;
    const budget = program.budget(next);
    const reasons = tiers.map((t) => t.cpu.run(budget));
    const states = tiers.map((t) => state(t.cpu));
    if (reasons[1] !== reasons[0] || states[1] !== states[0]) {
      return `blocks, ${where}, budget ${budget}: ${reasons[1]} ${states[1]}\n  the interpreter: ${reasons[0]} ${states[0]}`;
    }
    const a = tiers[0].physical.ram;
    const b = tiers[1].physical.ram;
    if ((reasons[0] !== 'budget' || run === runs - 1) && !Buffer.from(a).equals(Buffer.from(b))) {
      let i = 0;
      while (a[i] === b[i]) i++;
      return `blocks, ${where}, budget ${budget}: memory at ${i.toString(16)} is ${b[i]}, interpreted ${a[i]}`;
    }
    if (reasons[0] !== 'budget' && reasons[0] !== 'exception') break;
  }
  if (!Buffer.from(tiers[0].physical.ram).equals(Buffer.from(tiers[1].physical.ram))) return 'blocks: memory at the end';
  if (counts !== undefined) {
    counts.retired += interpreter.retired;
    counts.compiled += compiled.longBlocks?.retired ?? 0;
    counts.inlined += compiled.longBlocks?.inlined ?? 0;
  }
  return '';
}
