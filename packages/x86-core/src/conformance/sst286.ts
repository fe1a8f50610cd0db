import type { AccessSize, IoBus } from '@ringvisor/vmm-api';
import { CS, Cpu, DS, ES, SS } from '../cpu.js';
import { AF, CF, OF, PF, SF, ZF } from '../flags.js';
import type { CpuMemory } from '../memory.js';
import type { CpuModel } from '../model.js';
import { differenceFor } from './sst286-differences.js';

/**
 * Runs SingleStepTests 80286 real-mode vectors (github.com/SingleStepTests/80286, v1) on this CPU.
 * Each case: 16-bit registers and RAM bytes before, the registers and bytes that changed after,
 * the instruction followed by HLT (and an exception handler ending in HLT when the instruction
 * faults). The machine has 16 MiB of RAM and port reads return all ones. A case passes only when the
 * CPU's result is the 286's exactly; the CPU model is '80286' unless the runner is given another.
 */
export interface SstRegisters {
  ax?: number; bx?: number; cx?: number; dx?: number;
  cs?: number; ss?: number; ds?: number; es?: number;
  sp?: number; bp?: number; si?: number; di?: number;
  ip?: number; flags?: number;
}

export interface SstCase {
  idx: number;
  name: string;
  bytes: number[];
  initial: { regs: SstRegisters; ram: [number, number][] };
  final: { regs: SstRegisters; ram: [number, number][] };
  exception?: { number: number; flag_address: number };
}

/**
 * 'pass': the CPU matched the 286 exactly. 'difference': it did not, and a documented difference that
 * remains on the CPU's model explains why. 'fail': it did not, unexplained (a bug).
 */
export type SstVerdict = 'pass' | 'fail' | 'difference';

export interface SstResult {
  verdict: SstVerdict;
  /** What differed (empty on a pass). */
  mismatches: string[];
  /** For 'difference': the id of the documented 286-versus-686 difference that explains the mismatch. */
  difference?: string;
}

export interface Sst286RunnerOptions {
  /** The CPU model to run the vectors on (default '80286'; 'i686' is the product's default CPU). */
  model?: CpuModel;
}

const RAM_SIZE = 16 * 1024 * 1024;
const REG16: [keyof SstRegisters, number][] = [
  ['ax', 0], ['cx', 1], ['dx', 2], ['bx', 3], ['sp', 4], ['bp', 5], ['si', 6], ['di', 7],
];
const SEGMENTS: [keyof SstRegisters, number][] = [['es', ES], ['cs', CS], ['ss', SS], ['ds', DS]];
/** The real-mode flags a 286 keeps; bits 12-15 are masked from the initial state (REFERENCES.md). */
const INITIAL_FLAGS_MASK = 0x0fff;

/**
 * 16 MiB of RAM and nothing else; addresses wrap at 24 bits like the 286's address bus. Pages holding
 * decoded code are kind 1 and report writes, as mmu's PhysicalMemory does, so the CPU's decode cache
 * is exercised by the vectors too.
 */
class SstMemory implements CpuMemory {
  readonly ram = new Uint8Array(RAM_SIZE);
  readonly kind = new Uint8Array(1 << 20).fill(4);
  onCodeWrite: ((page: number) => void) | null = null;
  constructor() {
    this.kind.fill(0, 0, RAM_SIZE >>> 12);
  }
  markCode(page: number): boolean {
    if (this.kind[page] > 1) return false;
    this.kind[page] = 1;
    return true;
  }
  read(address: number, size: AccessSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.ram[(address + i) & (RAM_SIZE - 1)] << (8 * i);
    return v >>> 0;
  }
  write(address: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.poke((address + i) & (RAM_SIZE - 1), value >>> (8 * i));
  }
  /** Stores a byte, reporting a write to a code page. */
  poke(address: number, value: number): void {
    this.ram[address] = value;
    const page = address >>> 12;
    if (this.kind[page] === 1) {
      this.kind[page] = 0;
      this.onCodeWrite?.(page);
    }
  }
}

/** Port reads float high on the test machine. */
const FLOATING_BUS: IoBus = {
  read: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff),
  write: () => undefined,
};

/**
 * Flags Intel documents as undefined after this instruction (SDM Vol. 2, each instruction's "Flags
 * Affected"): they are not compared. Shift and rotate masks depend on the count.
 */
export function undefinedFlags(c: SstCase): number {
  const bytes = c.bytes;
  let i = 0;
  while ([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3].includes(bytes[i])) i++;
  const op = bytes[i];
  const reg = (bytes[i + 1] >> 3) & 7;
  switch (op) {
    case 0x27: case 0x2f: return OF; // DAA DAS
    case 0x37: case 0x3f: return OF | SF | ZF | PF; // AAA AAS
    case 0xd4: case 0xd5: return OF | AF | CF; // AAM AAD
    case 0x69: case 0x6b: return SF | ZF | AF | PF; // IMUL
    case 0x84: case 0x85: case 0xa8: case 0xa9: return AF; // TEST
    case 0xf6: case 0xf7:
      if (reg <= 1) return AF; // TEST
      if (reg === 4 || reg === 5) return SF | ZF | AF | PF; // MUL IMUL
      if (reg >= 6) return CF | OF | SF | ZF | AF | PF; // DIV IDIV
      return 0;
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const cl = (c.initial.regs.cx ?? 0) & 0xff;
      const count = (op >= 0xd2 ? cl : op >= 0xd0 ? 1 : bytes[bytes.length - 2]) & 31;
      if (count === 0) return 0;
      const width = op & 1 ? 16 : 8;
      let mask = count === 1 ? 0 : OF;
      if (reg >= 4) mask |= AF; // shifts: AF undefined for a non-zero count
      if ((reg === 4 || reg === 5 || reg === 6) && count >= width) mask |= CF; // SHL/SHR: CF undefined
      return mask;
    }
    default:
      if (op <= 0x3f && [1, 4, 6].includes(op >> 3) && (op & 7) < 6) return AF; // OR AND XOR
      if ((op === 0x80 || op === 0x81 || op === 0x83) && [1, 4, 6].includes(reg)) return AF;
      return 0;
  }
}

/** Runs cases on one reusable machine. */
export class Sst286Runner {
  readonly model: CpuModel;
  private readonly memory = new SstMemory();
  private readonly cpu: Cpu;

  constructor(options: Sst286RunnerOptions = {}) {
    this.model = options.model ?? '80286';
    this.cpu = new Cpu({ memory: this.memory, io: FLOATING_BUS, model: this.model });
  }

  run(c: SstCase): SstResult {
    const result = this.execute(c, false);
    if (result.verdict === 'pass') return result;
    // Which exception (if any) this CPU raised first, for the difference list's rules.
    const observed = this.execute(c, true);
    const difference = differenceFor(c, result.mismatches, observed.vector, this.model);
    if (difference) return { verdict: 'difference', mismatches: result.mismatches, difference: difference.id };
    return { verdict: 'fail', mismatches: result.mismatches };
  }

  private execute(c: SstCase, stopAtException: boolean): { verdict: SstVerdict; mismatches: string[]; vector: number } {
    const { cpu, memory } = this;
    const ram = memory.ram;
    const init = c.initial.regs;
    cpu.reset();
    cpu.cr0 = 0x10;
    cpu.modeChanged();
    for (const [name, r] of REG16) cpu.reg16[r << 1] = init[name] ?? 0;
    for (const [name, s] of SEGMENTS) cpu.loadRealSegment(s, init[name] ?? 0);
    cpu.idtrBase = 0;
    cpu.idtrLimit = 0x3ff;
    cpu.eip = init.ip ?? 0;
    cpu.setEflags(((init.flags ?? 0) & INITIAL_FLAGS_MASK) | 2);
    cpu.codeSizeChanged();
    cpu.intercepts.exceptions = stopAtException ? -1 : 0;
    for (const [a, v] of c.initial.ram) memory.poke(a, v);

    const reason = cpu.run(64);
    if (stopAtException) {
      const vector = reason === 'exception' ? cpu.stop.vector : -1;
      this.clear(c);
      return { verdict: 'fail', mismatches: [], vector };
    }
    const mismatches: string[] = [];
    if (reason !== 'hlt') mismatches.push(`stopped for ${reason}${cpu.stop.detail ? ` (${cpu.stop.detail})` : ''}`);

    const undefinedMask = undefinedFlags(c);
    const want = { ...init, ...c.final.regs };
    const check = (name: string, got: number, expected: number, mask = 0xffff): void => {
      if ((got & mask) !== (expected & mask)) mismatches.push(`${name} ${hex(got)} != ${hex(expected)}`);
    };
    for (const [name, r] of REG16) check(name, cpu.reg16[r << 1], want[name] ?? 0);
    for (const [name, s] of SEGMENTS) check(name, cpu.seg[s], want[name] ?? 0);
    check('ip', cpu.eip, want.ip ?? 0);
    const flagsMask = 0xffff & ~undefinedMask;
    check('flags', cpu.getEflags(), c.final.regs.flags ?? ((init.flags ?? 0) & INITIAL_FLAGS_MASK) | 2, flagsMask);

    const expectedRam = new Map<number, number>(c.initial.ram);
    for (const [a, v] of c.final.ram) expectedRam.set(a, v);
    // The handler only halts, so the flags image the exception pushed sits at SS:SP+4 afterwards.
    let flagLow = -1;
    let flagHigh = -1;
    if (c.exception) {
      const ss = (want.ss ?? 0) << 4;
      flagLow = ss + (((want.sp ?? 0) + 4) & 0xffff);
      flagHigh = ss + (((want.sp ?? 0) + 5) & 0xffff);
    }
    for (const [a, v] of expectedRam) {
      let mask = 0xff;
      if (a === flagLow) mask &= ~undefinedMask & 0xff;
      if (a === flagHigh) mask &= (~undefinedMask >> 8) & 0xff;
      if ((ram[a] & mask) !== (v & mask)) mismatches.push(`[${hex(a)}] ${hex(ram[a])} != ${hex(v)}`);
    }
    this.clear(c);
    return { verdict: mismatches.length === 0 ? 'pass' : 'fail', mismatches, vector: -1 };
  }

  /** Zeroes the bytes a case set or expected, so the next case starts from a clean RAM. */
  private clear(c: SstCase): void {
    const memory = this.memory;
    for (const [a] of c.initial.ram) memory.poke(a, 0);
    for (const [a] of c.final.ram) memory.poke(a, 0);
  }
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}
