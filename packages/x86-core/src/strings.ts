import type { AccessSize } from '@ringvisor/vmm-api';
import { alu } from './alu.js';
import { DS, ES, type Cpu } from './cpu.js';
import { CpuFault } from './fault.js';
import { DF } from './flags.js';
import { ioCheck, portRead, portWrite } from './io.js';
import { readSized, writeSized } from './operands.js';

// MOVS CMPS STOS LODS SCAS INS OUTS with REP/REPE/REPNE (SDM Vol. 2, "REP/REPE/REPZ/REPNE/REPNZ").
// A repeated instruction runs at most CHUNK iterations per step and then re-executes itself, as the
// hardware lets interrupts in between iterations: a huge count never stalls `run()`.

const CHUNK = 1024;

const MOVS = 0;
const CMPS = 1;
const STOS = 2;
const LODS = 3;
const SCAS = 4;
const INS = 5;
const OUTS = 6;

/**
 * Opcode A4-AF / 6C-6F to the string operation. `bulk` false keeps REP MOVS/STOS element by
 * element (the reference the block path is tested against).
 */
export function stringInstruction(cpu: Cpu, opcode: number, bulk = true): void {
  let kind: number;
  switch (opcode & 0xfe) {
    case 0xa4: kind = MOVS; break;
    case 0xa6: kind = CMPS; break;
    case 0xaa: kind = STOS; break;
    case 0xac: kind = LODS; break;
    case 0xae: kind = SCAS; break;
    case 0x6c: kind = INS; break;
    default: kind = OUTS; break;
  }
  const size = opcode & 1 ? (cpu.opSize32 ? 2 : 1) : 0;
  const bytes = 1 << size;
  if (kind === INS || kind === OUTS) ioCheck(cpu, cpu.reg16[4], bytes, kind === OUTS, true);
  const a32 = cpu.addrSize32;
  const delta = cpu.flags & DF ? -bytes : bytes;
  const src = cpu.segOverride >= 0 ? cpu.segOverride : DS;
  if (cpu.traits.stringStepsBeforeAccess) {
    steppingEach(cpu, kind, size, src, a32, delta);
    return;
  }
  const r32 = cpu.reg32;
  const r16 = cpu.reg16;
  if (cpu.rep === 0) {
    once(cpu, kind, size, src, a32, delta);
    return;
  }
  const repz = cpu.rep === 0xf3;
  const compares = kind === CMPS || kind === SCAS;
  const blocks = bulk && (kind === MOVS || kind === STOS);
  for (let n = 0; ;) {
    const count = a32 ? r32[1] >>> 0 : r16[2];
    if (count === 0) return;
    if (n >= CHUNK) {
      cpu.eip = cpu.startEip;
      return;
    }
    if (blocks) {
      const done = block(cpu, kind, size, src, a32, delta, Math.min(count, CHUNK - n));
      if (done > 0) {
        n += done;
        continue;
      }
    }
    once(cpu, kind, size, src, a32, delta);
    if (a32) r32[1] = count - 1;
    else r16[2] = count - 1;
    n++;
    if (compares && cpu.getZF() !== repz) return;
  }
}

// The block path: REP MOVS/STOS elements that stay inside one page on each side run as one
// copyWithin/fill on guest RAM. Each page is checked once the way the first element's access
// would check it (segment limit, then translation with its A/D updates and #PF), so a fault
// leaves ECX/ESI/EDI at the faulting element exactly as element by element. Anything else takes
// the per-element path for one element: MMIO/ROM/unmapped pages, pages holding decoded code (the
// element's write goes through the memory's code-write detection, which unmarks the page, so the
// next block proceeds), elements split across pages, expand-down or unusable segments, a destination
// segment that is not writable data, and MOVS whose source and destination overlap so that an
// element reads what an earlier one wrote.

const FOUR_GIB = 0x100000000;
const PLAIN_SEGMENT = (1 << 16) | 0xc; // unusable, expand-down data or code: the element-by-element checks

/** How many elements from offset `off` of segment `s` pass the limit check without the offset wrapping. */
function inSegment(cpu: Cpu, s: number, off: number, bytes: number, a32: boolean, down: boolean): number {
  if (cpu.segAccess[s] & PLAIN_SEGMENT) return 0;
  const limit = cpu.segLimit[s] >>> 0;
  if (off + bytes - 1 > limit) return 0;
  if (down) return Math.floor(off / bytes) + 1;
  return Math.floor((Math.min(limit + 1, a32 ? FOUR_GIB : 0x10000) - off) / bytes);
}

/** How many elements from linear address `lin` stay in its page. */
function inPage(lin: number, bytes: number, down: boolean): number {
  const at = lin & 0xfff;
  if (at + bytes > 0x1000) return 0;
  return down ? Math.floor(at / bytes) + 1 : Math.floor((0x1000 - at) / bytes);
}

/** Physical address of `lin` for a read (write: 2) by the current privilege level, as the element access would translate it. */
function physical(cpu: Cpu, lin: number, write: number): number {
  return cpu.pagingOn ? cpu.translate(lin, write | cpu.userAccess()) : (lin & cpu.addressMask) >>> 0;
}

/** Runs up to `max` elements as one block; returns how many ran (0: none, take the per-element path). */
function block(cpu: Cpu, kind: number, size: number, src: number, a32: boolean, delta: number, max: number): number {
  const r32 = cpu.reg32;
  const r16 = cpu.reg16;
  const bytes = 1 << size;
  const down = delta < 0;
  const di = a32 ? r32[7] >>> 0 : r16[14];
  const dstLin = (cpu.segBase[ES] + di) | 0;
  // A destination segment that is not writable data takes the per-element path and its write check.
  if ((cpu.segAccess[ES] & 0xe) !== 2) return 0;
  let n = Math.min(max, inSegment(cpu, ES, di, bytes, a32, down), inPage(dstLin, bytes, down));
  let si = 0;
  let srcLin = 0;
  if (kind === MOVS) {
    si = a32 ? r32[6] >>> 0 : r16[12];
    srcLin = (cpu.segBase[src] + si) | 0;
    n = Math.min(n, inSegment(cpu, src, si, bytes, a32, down), inPage(srcLin, bytes, down));
  }
  if (n <= 0) return 0;
  const kinds = cpu.kind;
  const ram = cpu.ram;
  const span = n * bytes;
  const back = down ? span - bytes : 0;
  let from = 0;
  if (kind === MOVS) {
    const phys = physical(cpu, srcLin, 0);
    if (phys >= FOUR_GIB || kinds[phys >>> 12] > 1) return 0;
    from = phys - back;
  }
  const phys = physical(cpu, dstLin, 2);
  if (phys >= FOUR_GIB || kinds[phys >>> 12] !== 0) return 0;
  const to = phys - back;
  if (kind === MOVS) {
    // Element by element, a forward copy reads ahead of its writes only when the destination is below the source.
    const overlap = to < from + span && from < to + span;
    if (overlap && to !== from && (down ? to < from : to > from)) return 0;
    ram.copyWithin(to, from, from + span);
    advance(cpu, 6, a32, delta * n);
  } else {
    const value = size === 0 ? cpu.reg8[0] : size === 1 ? r16[0] : r32[0];
    for (let i = 0; i < bytes; i++) ram[to + i] = value >>> (8 * i);
    for (let filled = bytes; filled < span; filled *= 2) ram.copyWithin(to + filled, to, to + Math.min(filled, span - filled));
  }
  advance(cpu, 7, a32, delta * n);
  if (a32) r32[1] = r32[1] - n;
  else r16[2] = r16[2] - n;
  return n;
}

function once(cpu: Cpu, kind: number, size: number, src: number, a32: boolean, delta: number): void {
  const r32 = cpu.reg32;
  const r16 = cpu.reg16;
  const si = a32 ? r32[6] : r16[12];
  const di = a32 ? r32[7] : r16[14];
  let v: number;
  switch (kind) {
    case MOVS:
      v = readSized(cpu, size, src, si);
      writeSized(cpu, size, ES, di, v);
      advance(cpu, 6, a32, delta);
      advance(cpu, 7, a32, delta);
      return;
    case CMPS:
      v = readSized(cpu, size, src, si);
      alu(cpu, 7, v, readSized(cpu, size, ES, di), size);
      advance(cpu, 6, a32, delta);
      advance(cpu, 7, a32, delta);
      return;
    case STOS:
      writeSized(cpu, size, ES, di, size === 0 ? cpu.reg8[0] : size === 1 ? r16[0] : r32[0]);
      advance(cpu, 7, a32, delta);
      return;
    case LODS:
      v = readSized(cpu, size, src, si);
      if (size === 0) cpu.reg8[0] = v;
      else if (size === 1) r16[0] = v;
      else r32[0] = v;
      advance(cpu, 6, a32, delta);
      return;
    case SCAS:
      alu(cpu, 7, size === 0 ? cpu.reg8[0] : size === 1 ? r16[0] : r32[0], readSized(cpu, size, ES, di), size);
      advance(cpu, 7, a32, delta);
      return;
    case INS: {
      // The destination is checked for a write before the port is read (a fault must not lose
      // input), without touching it: a probe that read it would read an MMIO register.
      cpu.probeWrite(ES, di, 1 << size);
      v = portRead(cpu, r16[4], (1 << size) as AccessSize);
      writeSized(cpu, size, ES, di, v);
      advance(cpu, 7, a32, delta);
      return;
    }
    default:
      v = readSized(cpu, size, src, si);
      portWrite(cpu, r16[4], (1 << size) as AccessSize, v);
      advance(cpu, 6, a32, delta);
      return;
  }
}

function advance(cpu: Cpu, r: number, a32: boolean, delta: number): void {
  if (a32) cpu.reg32[r] = (cpu.reg32[r] + delta) | 0;
  else cpu.reg16[r << 1] = cpu.reg16[r << 1] + delta;
}

// The 80286 model (model.ts), as the SingleStepTests 80286 vectors show its string instructions when an
// access faults: each access steps its index register as it is made, so a faulting access leaves its
// SI or DI stepped and the accesses after it are not made; CMPS reads ES:[DI] before [SI]. Under REP an
// iteration counts itself in CX before its first access (MOVS LODS STOS INS OUTS SCAS; CMPS after
// comparing), and a faulting write has already counted the next iteration when there is one (so CX is
// 0 when the last element's destination faults, as Intel's "80286 REP MOVS and REP INS
// Restartability" note of 1984 describes). The vectors cover read faults, STOS/INS write faults and
// CMPS's first read; a faulting REPNE SCASW leaves CX counted, as 286 vectors outside the shared set
// show (issue 11); a REP MOVS destination fault follows that note, a CMPS source fault the same rule
// without vectors to confirm it. Not on the block path: the model is for conformance,
// not speed.

function steppingEach(cpu: Cpu, kind: number, size: number, src: number, a32: boolean, delta: number): void {
  if (cpu.rep === 0) {
    element286(cpu, kind, size, src, a32, delta, false);
    return;
  }
  const repz = cpu.rep === 0xf3;
  for (let n = 0; ; n++) {
    if ((a32 ? cpu.reg32[1] : cpu.reg16[2]) === 0) return;
    if (n >= CHUNK) {
      cpu.eip = cpu.startEip;
      return;
    }
    element286(cpu, kind, size, src, a32, delta, true);
    if ((kind === CMPS || kind === SCAS) && cpu.getZF() !== repz) return;
  }
}

function element286(cpu: Cpu, kind: number, size: number, src: number, a32: boolean, delta: number, rep: boolean): void {
  if (kind === SCAS) {
    // Like LODS, SCAS counts its iteration before its one access: a faulting REP SCAS has counted it.
    const di = stepIndex(cpu, 7, a32, delta);
    if (rep) countDown(cpu, a32);
    alu(cpu, 7, accumulator(cpu, size), readSized(cpu, size, ES, di), size);
    return;
  }
  if (kind === CMPS) {
    const b = readSized(cpu, size, ES, stepIndex(cpu, 7, a32, delta));
    const a = readSized(cpu, size, src, stepIndex(cpu, 6, a32, delta));
    alu(cpu, 7, a, b, size);
    if (rep) countDown(cpu, a32);
    return;
  }
  let v = 0;
  if (kind === MOVS || kind === LODS || kind === OUTS) {
    const si = stepIndex(cpu, 6, a32, delta);
    if (rep) countDown(cpu, a32);
    v = readSized(cpu, size, src, si);
    if (kind === LODS) setAccumulator(cpu, size, v);
    if (kind === OUTS) portWrite(cpu, cpu.reg16[4], (1 << size) as AccessSize, v);
    if (kind !== MOVS) return;
  }
  const di = stepIndex(cpu, 7, a32, delta);
  if (rep && kind !== MOVS) countDown(cpu, a32);
  try {
    if (kind === INS) {
      writeSized(cpu, size, ES, di, readSized(cpu, size, ES, di));
      v = portRead(cpu, cpu.reg16[4], (1 << size) as AccessSize);
    } else if (kind === STOS) v = accumulator(cpu, size);
    writeSized(cpu, size, ES, di, v);
  } catch (e) {
    // (A string instruction's only intercept, the I/O one, is taken in ioCheck before any step.)
    if (e instanceof CpuFault && rep && (a32 ? cpu.reg32[1] : cpu.reg16[2]) !== 0) countDown(cpu, a32);
    throw e;
  }
}

/** The index register's value for this access, after which it is stepped. */
function stepIndex(cpu: Cpu, r: number, a32: boolean, delta: number): number {
  const value = a32 ? cpu.reg32[r] : cpu.reg16[r << 1];
  advance(cpu, r, a32, delta);
  return value;
}

function countDown(cpu: Cpu, a32: boolean): void {
  if (a32) cpu.reg32[1] = cpu.reg32[1] - 1;
  else cpu.reg16[2] = cpu.reg16[2] - 1;
}

function accumulator(cpu: Cpu, size: number): number {
  return size === 0 ? cpu.reg8[0] : size === 1 ? cpu.reg16[0] : cpu.reg32[0];
}

function setAccumulator(cpu: Cpu, size: number, v: number): void {
  if (size === 0) cpu.reg8[0] = v;
  else if (size === 1) cpu.reg16[0] = v;
  else cpu.reg32[0] = v;
}
