import type { AccessSize } from '@ringvisor/vmm-api';
import { alu } from './alu.js';
import { DS, ES, type Cpu } from './cpu.js';
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

/** Opcode A4-AF / 6C-6F to the string operation. */
export function stringInstruction(cpu: Cpu, opcode: number): void {
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
  const r32 = cpu.reg32;
  const r16 = cpu.reg16;
  if (cpu.rep === 0) {
    once(cpu, kind, size, src, a32, delta);
    return;
  }
  const repz = cpu.rep === 0xf3;
  const compares = kind === CMPS || kind === SCAS;
  for (let n = 0; ; n++) {
    const count = a32 ? r32[1] : r16[2];
    if (count === 0) return;
    if (n === CHUNK) {
      cpu.eip = cpu.startEip;
      return;
    }
    once(cpu, kind, size, src, a32, delta);
    if (a32) r32[1] = count - 1;
    else r16[2] = count - 1;
    if (compares && cpu.getZF() !== repz) return;
  }
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
      // The destination is checked for writability before the port is read (a fault must not lose input).
      writeSized(cpu, size, ES, di, readSized(cpu, size, ES, di));
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
