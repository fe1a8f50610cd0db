// The x87 escapes D8-DF in 64-bit mode (SDM Vol. 1 8.1.10, Vol. 2 "FPU instructions"): the i686
// core's fpu/ with a 64-bit memory operand (REX.B/X, RIP-relative, FS/GS bases). REX.W changes
// nothing here; 66 picks the 16-bit FSTENV/FSAVE layouts as in 32-bit code, whose FIP and FDP keep
// the low dwords of RIP and of the operand's effective address (FXSAVE64 keeps all 64 bits).
import type { Cpu } from '../cpu.js';
import { reportFpuError } from '../execute.js';
import { throwFault } from '../fault.js';
import { executeFpu, isFpuStore, memoryOperandBytes, needsPendingCheck } from '../fpu/execute.js';
import { FPU_OPSIZE32, FPU_PROTECTED } from '../fpu/host.js';
import { CpuFpuHost } from '../fpu-host.js';
import { d } from './decode-state.js';
import { checkCanonical, probeWrite, readLinear, writeLinear } from './memory.js';
import { ea, eaLinear, modrm } from './operands.js';

const DS = 3;
const SS = 2;

/**
 * Memory at `base + at` for the x87 (and the FXSAVE image): `base` is the operand's canonical linear
 * address less its effective address's low dword `at`, so FDP records that offset.
 */
export class LongFpuHost extends CpuFpuHost {
  base = 0;
  /** Faults through SS are #SS (an RSP/RBP base without a segment override). */
  stack = false;

  override read8(at: number): number { return readLinear(this.cpu, this.base + at, 1, false, this.stack); }
  override read16(at: number): number { return readLinear(this.cpu, this.base + at, 2, false, this.stack); }
  override read32(at: number): number { return readLinear(this.cpu, this.base + at, 4, false, this.stack); }
  override write8(at: number, v: number): void { writeLinear(this.cpu, this.base + at, 1, v, false, this.stack); }
  override write16(at: number, v: number): void { writeLinear(this.cpu, this.base + at, 2, v, false, this.stack); }
  override write32(at: number, v: number): void { writeLinear(this.cpu, this.base + at, 4, v, false, this.stack); }

  override dataSelector(): number {
    return this.cpu.seg[d.seg >= 0 ? d.seg : this.stack ? SS : DS];
  }

  override dataBase(): number {
    return 0;
  }
}

const hosts = new WeakMap<Cpu, LongFpuHost>();

/** The CPU's 64-bit x87 host (one per CPU, made on its first use). */
export function longFpuHost(cpu: Cpu): LongFpuHost {
  let host = hosts.get(cpu);
  if (host === undefined) {
    host = new LongFpuHost(cpu);
    hosts.set(cpu, host);
  }
  return host;
}

/**
 * D8-DF: #NM for CR0.EM/TS, then the whole memory operand checked (canonical, and the pages for a
 * store) before the x87 changes anything, then a pending unmasked exception (#MF), as in 32-bit code.
 */
export function escape64(cpu: Cpu, op: number): void {
  const m = modrm(cpu);
  if (cpu.cr0 & 0xc) throwFault(7);
  const esc = op & 7;
  const host = longFpuHost(cpu);
  const opSize32 = d.size !== 1;
  let at = 0;
  if (m < 0xc0) {
    const linear = eaLinear(cpu);
    const size = memoryOperandBytes(esc, m, opSize32);
    host.stack = ea.stack && d.seg < 0;
    at = ea.lo;
    host.base = linear - at;
    if (size > 0) {
      checkCanonical(linear + size - 1, host.stack);
      if (isFpuStore(esc, m)) {
        probeWrite(cpu, linear);
        probeWrite(cpu, linear + size - 1);
      }
    }
  }
  if (cpu.fpu.exceptionPending && needsPendingCheck(esc, m)) reportFpuError(cpu);
  const mode = (opSize32 ? FPU_OPSIZE32 : 0) | FPU_PROTECTED;
  if (executeFpu(cpu.fpu, host, esc, m, at, mode, d.start, cpu.seg[1]) !== 0) throwFault(6);
}
