// 0F AE (group 15) on an SSE CPU (SDM Vol. 2 "FXSAVE", "FXRSTOR", "LDMXCSR", "STMXCSR", "LFENCE",
// "MFENCE", "SFENCE"): the 512-byte image now holds MXCSR, MXCSR_MASK and the XMM registers (XMM0-7
// at 160, XMM8-15 at 288 in 64-bit mode; with CR4.OSFXSR, as QEMU and Intel parts do), FXSAVE64
// (REX.W) writes 64-bit FIP/FDP; an MXCSR image with a reserved bit set is #GP(0) before anything loads.
import type { Cpu } from '../cpu.js';
import { throwFault } from '../fault.js';
import { fxrstor, fxsave } from '../fpu/environment.js';
import { FPU_OPSIZE32, FPU_PROTECTED, type FpuHost } from '../fpu/host.js';
import { longFpuHost } from '../long/fpu.js';
import { checkCanonical, probeWrite } from '../long/memory.js';
import { eaLinear } from '../long/operands.js';
import { loadMemory, storeMemory, sx } from './access.js';
import { requireSse } from './execute.js';
import { MXCSR_MASK, SRC } from './state.js';

const CR0_EM = 4;
const CR0_TS = 8;
const CR4_OSFXSR = 1 << 9;
const IMAGE = 512;

/** XMM images read before any state changes (a fault midway leaves the registers as they were). */
const incoming = new Int32Array(64);

export function group15(cpu: Cpu): void {
  const g = (sx.modrm >> 3) & 7;
  if (!sx.memory) {
    // LFENCE, MFENCE, SFENCE: one CPU executing in order has nothing to order.
    if (sx.pfx === 0 && g >= 5) return;
    throwFault(6);
  }
  if (sx.pfx !== 0) throwFault(6);
  switch (g) {
    case 0: case 1: saveOrRestore(cpu, g === 0); return;
    case 2: {
      requireSse(cpu);
      loadMemory(cpu, 4, false);
      const v = cpu.sse.i32[SRC * 4];
      if (v & ~MXCSR_MASK) throwFault(13, 0);
      cpu.sse.mxcsr = v;
      return;
    }
    case 3:
      requireSse(cpu);
      cpu.sse.i32[SRC * 4] = cpu.sse.mxcsr;
      storeMemory(cpu, SRC, 0, 4, false);
      return;
    default:
      throwFault(6); // XSAVE, XRSTOR, XSAVEOPT, CLFLUSH: not reported by CPUID
  }
}

function saveOrRestore(cpu: Cpu, save: boolean): void {
  if (cpu.cr0 & CR0_EM) throwFault(6);
  if (cpu.cr0 & CR0_TS) throwFault(7);
  let host: FpuHost;
  let at: number;
  let mode: number;
  if (sx.long) {
    const linear = eaLinear(cpu);
    const long = longFpuHost(cpu);
    long.base = linear;
    long.stack = false;
    host = long;
    at = 0;
    if ((linear & 15) !== 0) throwFault(13, 0);
    checkCanonical(linear + IMAGE - 1, false);
    if (save) {
      probeWrite(cpu, linear);
      probeWrite(cpu, linear + IMAGE - 1);
    }
    mode = FPU_OPSIZE32 | FPU_PROTECTED;
  } else {
    const seg = cpu.eaSeg;
    const off = cpu.eaOff;
    if (((cpu.segBase[seg] + off) & 15) !== 0) throwFault(13, 0);
    if (save) cpu.probeWrite(seg, off, IMAGE);
    else cpu.linear(seg, off, IMAGE);
    host = cpu.fpuHost;
    at = off;
    mode = (cpu.opSize32 ? FPU_OPSIZE32 : 0) | (cpu.protectedMode && !cpu.v86Mode ? FPU_PROTECTED : 0);
  }
  const st = cpu.sse;
  const registers = sx.long ? 16 : 8;
  const withXmm = (cpu.cr4 & CR4_OSFXSR) !== 0;
  if (save) {
    fxsave(cpu.fpu, host, at, mode, st.mxcsr, MXCSR_MASK);
    if (sx.long && sx.wide) {
      // FXSAVE64: FIP and FDP are 64-bit (their high dwords where FCS and FDS were).
      host.write32(at + 12, 0);
      host.write32(at + 20, 0);
    }
    if (withXmm) for (let i = 0; i < registers * 4; i++) host.write32(at + 160 + 4 * i, st.i32[i]);
    return;
  }
  const mxcsr = host.read32(at + 24);
  if (mxcsr & ~MXCSR_MASK) throwFault(13, 0);
  if (withXmm) for (let i = 0; i < registers * 4; i++) incoming[i] = host.read32(at + 160 + 4 * i);
  if (!fxrstor(cpu.fpu, host, at, mode, MXCSR_MASK)) throwFault(13, 0);
  if (!withXmm) return;
  st.mxcsr = mxcsr;
  for (let i = 0; i < registers * 4; i++) st.i32[i] = incoming[i];
}
