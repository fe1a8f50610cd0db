// String instructions in 64-bit mode (SDM Vol. 2 "MOVS", "REP"...): RSI/RDI/RCX at the address
// size (64, or 32 with 67), the source through DS (or an FS/GS override), the destination through
// ES (base 0), elements of 1, 2, 4 or 8 bytes. A REP runs at most CHUNK iterations per step and
// then restarts itself, so the run loop keeps its budget and interrupts their latency; registers
// move per iteration, so a faulting iteration restarts where it stopped.
import type { AccessSize } from '@ringvisor/vmm-api';
import { alu } from '../alu.js';
import type { Cpu } from '../cpu.js';
import { DF } from '../flags.js';
import { ioCheck, portRead, portWrite } from '../io.js';
import { alu64 } from './alu64.js';
import { d } from './decode-state.js';
import { TWO_32 } from './memory.js';
import { getReg, hi, linearAt, readAt, setReg, writeAt } from './operands.js';

const CHUNK = 4096;
const RCX = 1;
const RSI = 6;
const RDI = 7;

/** Register `r` as an address at the current address size. */
function addressLinear(cpu: Cpu, r: number, source: boolean): number {
  const lo = cpu.reg32[r];
  const high = d.addr32 ? 0 : cpu.regHi[r];
  const seg = d.seg;
  if (!source) d.seg = -1;
  const linear = linearAt(cpu, lo, high, false);
  d.seg = seg;
  return linear;
}

/** r += delta at the address size. */
function advance(cpu: Cpu, r: number, delta: number): void {
  const sum = (cpu.reg32[r] >>> 0) + delta;
  cpu.reg32[r] = sum | 0;
  if (d.addr32) cpu.regHi[r] = 0;
  else if (sum >= TWO_32) cpu.regHi[r] = (cpu.regHi[r] + 1) | 0;
  else if (sum < 0) cpu.regHi[r] = (cpu.regHi[r] - 1) | 0;
}

function countZero(cpu: Cpu): boolean {
  return cpu.reg32[RCX] === 0 && (d.addr32 || cpu.regHi[RCX] === 0);
}

function decrementCount(cpu: Cpu): void {
  advance(cpu, RCX, -1);
}

export function stringInstruction64(cpu: Cpu, op: number): void {
  const size = op & 1 ? d.size : 0;
  const bytes = size === 0 ? 1 : size === 1 ? 2 : size === 2 ? 4 : 8;
  const step = (cpu.flags & DF) !== 0 ? -bytes : bytes;
  const rep = d.rep;
  const compares = op === 0xa6 || op === 0xa7 || op === 0xae || op === 0xaf;
  for (let i = 0; ; i++) {
    if (rep !== 0) {
      if (countZero(cpu)) return;
      if (i === CHUNK) {
        d.rip = d.start;
        return;
      }
    }
    switch (op) {
      case 0xa4: case 0xa5: {
        const v = readAt(cpu, addressLinear(cpu, RSI, true), size);
        writeAt(cpu, addressLinear(cpu, RDI, false), size, v, hi.v);
        advance(cpu, RSI, step);
        advance(cpu, RDI, step);
        break;
      }
      case 0xaa: case 0xab: {
        const v = getReg(cpu, size, 0);
        writeAt(cpu, addressLinear(cpu, RDI, false), size, v, hi.v);
        advance(cpu, RDI, step);
        break;
      }
      case 0xac: case 0xad: {
        const v = readAt(cpu, addressLinear(cpu, RSI, true), size);
        setReg(cpu, size, 0, v, hi.v);
        advance(cpu, RSI, step);
        break;
      }
      case 0xa6: case 0xa7: {
        const a = readAt(cpu, addressLinear(cpu, RSI, true), size);
        const aHi = hi.v;
        const b = readAt(cpu, addressLinear(cpu, RDI, false), size);
        if (size === 3) alu64(cpu, 7, a, aHi, b, hi.v);
        else alu(cpu, 7, a, b, size);
        advance(cpu, RSI, step);
        advance(cpu, RDI, step);
        break;
      }
      case 0xae: case 0xaf: {
        const a = getReg(cpu, size, 0);
        const aHi = hi.v;
        const b = readAt(cpu, addressLinear(cpu, RDI, false), size);
        if (size === 3) alu64(cpu, 7, a, aHi, b, hi.v);
        else alu(cpu, 7, a, b, size);
        advance(cpu, RDI, step);
        break;
      }
      case 0x6c: case 0x6d: {
        const n = (op === 0x6c ? 1 : size === 1 ? 2 : 4) as AccessSize;
        ioCheck(cpu, cpu.reg16[4], n, false, true);
        const linear = addressLinear(cpu, RDI, false);
        const v = portRead(cpu, cpu.reg16[4], n);
        writeAt(cpu, linear, n === 1 ? 0 : n === 2 ? 1 : 2, v);
        advance(cpu, RDI, (cpu.flags & DF) !== 0 ? -n : n);
        break;
      }
      default: {
        const n = (op === 0x6e ? 1 : size === 1 ? 2 : 4) as AccessSize;
        ioCheck(cpu, cpu.reg16[4], n, true, true);
        const v = readAt(cpu, addressLinear(cpu, RSI, true), n === 1 ? 0 : n === 2 ? 1 : 2);
        portWrite(cpu, cpu.reg16[4], n, v);
        advance(cpu, RSI, (cpu.flags & DF) !== 0 ? -n : n);
      }
    }
    if (rep === 0) return;
    decrementCount(cpu);
    if (compares && cpu.getZF() !== (rep === 0xf3)) return;
  }
}
