// Operands of SSE instructions in either decoder: 32-bit code (legacy/compatibility mode, segmented
// `eaSeg:eaOff`, the Cpu's own fetch) and 64-bit mode (REX.R/X/B for XMM8-15, RIP-relative operands,
// canonical linear addresses). Memory operands move through the state's SRC slot as dwords; a store
// checks every page it touches before a byte lands. Module state, so nothing allocates per instruction.
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { modrm as modrm32 } from '../operands.js';
import { d, fetch8 as fetch8Long } from '../long/decode-state.js';
import { checkCanonical, probeWrite, readLinear, writeLinear } from '../long/memory.js';
import { eaLinear, getReg, hi, modrm as modrm64, regField, rmField, setReg } from '../long/operands.js';
import { SRC } from './state.js';

/** The instruction being decoded: mandatory prefix (0 none, 1 66, 2 F3, 3 F2), ModRM fields, REX.W. */
export const sx = { pfx: 0, modrm: 0, reg: 0, rm: 0, memory: false, wide: false, long: false };

/** Decodes ModRM (and its memory operand; `immBytes` follow it, for RIP-relative addresses). */
export function decodeModrm(cpu: Cpu, immBytes: number): void {
  if (sx.long) {
    const m = modrm64(cpu, immBytes);
    sx.modrm = m;
    sx.reg = regField(m);
    sx.rm = rmField(m);
    sx.memory = m < 0xc0;
  } else {
    const m = modrm32(cpu);
    sx.modrm = m;
    sx.reg = (m >> 3) & 7;
    sx.rm = m & 7;
    sx.memory = m < 0xc0;
  }
}

export function fetchByte(cpu: Cpu): number {
  return sx.long ? fetch8Long(cpu) : cpu.fetch8();
}

/** Linear address of the memory operand (canonical in 64-bit mode, #GP/#SS otherwise). */
function operandLinear(cpu: Cpu): number {
  return sx.long ? eaLinear(cpu) : (cpu.segBase[cpu.eaSeg] + cpu.eaOff) | 0;
}

/** #GP(0) unless the memory operand is 16-byte aligned (MOVAPS, MOVDQA, packed arithmetic...). */
function checkAligned(cpu: Cpu): void {
  if ((operandLinear(cpu) & 15) !== 0) throwFault(13, 0);
}

function offsetAt(cpu: Cpu, delta: number): number {
  const off = cpu.eaOff + delta;
  return cpu.addrSize32 ? off | 0 : off & 0xffff;
}

/** Reads `bytes` (2, 4, 8 or 16) of the memory operand into SRC's low bytes; `aligned`: 16-byte rule. */
export function loadMemory(cpu: Cpu, bytes: number, aligned: boolean): void {
  const i32 = cpu.sse.i32;
  const base = SRC * 4;
  if (aligned) checkAligned(cpu);
  if (sx.long) {
    const linear = eaLinear(cpu);
    checkCanonical(linear + bytes - 1, false);
    if (bytes === 2) {
      cpu.sse.u16[SRC * 8] = readLinear(cpu, linear, 2);
      return;
    }
    // SRC is scratch: a fault midway leaves only it half-read.
    for (let i = 0; i < bytes; i += 4) i32[base + (i >> 2)] = readLinear(cpu, linear + i, 4);
    return;
  }
  const seg = cpu.eaSeg;
  cpu.linear(seg, cpu.eaOff, bytes);
  if (bytes === 2) {
    cpu.sse.u16[SRC * 8] = cpu.read16(seg, cpu.eaOff);
    return;
  }
  for (let i = 0; i < bytes; i += 4) i32[base + (i >> 2)] = cpu.read32(seg, offsetAt(cpu, i));
}

/** Writes `bytes` of register slot `r` from byte `from` to the memory operand (checked first). */
export function storeMemory(cpu: Cpu, r: number, from: number, bytes: number, aligned: boolean): void {
  const i32 = cpu.sse.i32;
  const first = r * 4 + (from >> 2);
  if (aligned) checkAligned(cpu);
  if (sx.long) {
    const linear = eaLinear(cpu);
    checkCanonical(linear + bytes - 1, false);
    probeWrite(cpu, linear);
    probeWrite(cpu, linear + bytes - 1);
    for (let i = 0; i < bytes; i += 4) writeLinear(cpu, linear + i, 4, i32[first + (i >> 2)]);
    return;
  }
  const seg = cpu.eaSeg;
  cpu.probeWrite(seg, cpu.eaOff, bytes);
  for (let i = 0; i < bytes; i += 4) cpu.write32(seg, offsetAt(cpu, i), i32[first + (i >> 2)]);
}

/** A general register's low dword (and, for a 64-bit operand, its high dword in `gprHi`). */
export const gprHi = { v: 0 };

export function readGpr(cpu: Cpu, r: number, wide: boolean): number {
  if (!sx.long) {
    gprHi.v = 0;
    return cpu.reg32[r];
  }
  const lo = getReg(cpu, wide ? 3 : 2, r);
  gprHi.v = hi.v;
  return lo;
}

/** Writes a general register: a dword zero-extends in 64-bit mode. */
export function writeGpr(cpu: Cpu, r: number, lo: number, high: number, wide: boolean): void {
  if (sx.long) setReg(cpu, wide ? 3 : 2, r, lo, high);
  else cpu.reg32[r] = lo;
}

/** Reads a 32- or 64-bit r/m integer source (CVTSI2SS, MOVD, PINSRW's dword): low in return, high in `gprHi`. */
export function readIntegerSource(cpu: Cpu, wide: boolean): number {
  if (!sx.memory) return readGpr(cpu, sx.rm, wide);
  loadMemory(cpu, wide ? 8 : 4, false);
  gprHi.v = wide ? cpu.sse.i32[SRC * 4 + 1] : 0;
  return cpu.sse.i32[SRC * 4];
}

/** Writes a 32- or 64-bit integer to the r/m destination (MOVD/MOVQ r/m, xmm; MOVNTI). */
export function writeIntegerDestination(cpu: Cpu, lo: number, high: number, wide: boolean): void {
  if (!sx.memory) {
    writeGpr(cpu, sx.rm, lo, high, wide);
    return;
  }
  const i32 = cpu.sse.i32;
  i32[SRC * 4] = lo;
  i32[SRC * 4 + 1] = high;
  storeMemory(cpu, SRC, 0, wide ? 8 : 4, false);
}

/** REX.W in 64-bit mode (the 64-bit integer forms); never in 32-bit code. */
export function rexW(): boolean {
  return sx.long && (d.rex & 8) !== 0;
}
