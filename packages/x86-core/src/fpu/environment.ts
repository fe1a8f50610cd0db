// FPU state images (SDM vol. 1, 8.1.10 and vol. 2 FXSAVE): FSTENV/FLDENV (14 or 28 bytes, real or
// protected layout), FSAVE/FRSTOR (environment + 8 registers of 10 bytes in stack order) and
// FXSAVE/FXRSTOR (512 bytes, the non-64-bit layout of SDM vol. 2 table "FXSAVE and FXRSTOR Memory
// Region"; what this SSE-less model keeps in it is said at `fxsave`).
import type { Fpu } from './fpu.js';
import { FPU_OPSIZE32, FPU_PROTECTED, type FpuHost } from './host.js';
import { readReal80, writeReal80 } from './operands.js';

/**
 * MXCSR as FXSAVE stores it. Without SSE there is no instruction that reads or changes MXCSR, so this
 * model holds none: FXSAVE stores the power-up value and FXRSTOR only checks the field.
 */
export const MXCSR_DEFAULT = 0x1f80;
/**
 * The MXCSR bits software may set when FXSAVE reports MXCSR_MASK 0 (SDM vol. 1, 11.6.6). FXRSTOR
 * raises #GP(0) for any other bit, so software that masks with what FXSAVE reported never faults.
 */
export const MXCSR_DEFAULT_MASK = 0xffbf;
/** Bytes of the FXSAVE image this model writes: the x87 part; XMM0-7 (160-287) and 288-511 are left alone. */
export const FXSAVE_X87_BYTES = 160;
/** Registers read before any state changes (a fault midway leaves the FPU as it was); reused. */
const incoming = new Float64Array(8);

export function environmentSize(mode: number): number {
  return mode & FPU_OPSIZE32 ? 28 : 14;
}

export function storeEnvironment(fpu: Fpu, host: FpuHost, at: number, mode: number): void {
  const wide = (mode & FPU_OPSIZE32) !== 0;
  const w = (slot: number, value: number): void => {
    if (wide) host.write32(at + slot * 4, value);
    else host.write16(at + slot * 2, value & 0xffff);
  };
  w(0, fpu.cw | (wide ? 0xffff0000 : 0));
  w(1, fpu.statusWord | (wide ? 0xffff0000 : 0));
  w(2, fpu.tagWord | (wide ? 0xffff0000 : 0));
  if (mode & FPU_PROTECTED) {
    w(3, fpu.fip);
    w(4, wide ? (fpu.fcs & 0xffff) | ((fpu.fop & 0x7ff) << 16) : fpu.fcs);
    w(5, fpu.fdp);
    w(6, fpu.fds | (wide ? 0xffff0000 : 0));
  } else {
    // Real-mode layout: 20/32-bit linear pointers split into a low word and high bits at 12+.
    const fip = fpu.fip >>> 0;
    const fdp = fpu.fdp >>> 0;
    w(3, (fip & 0xffff) | (wide ? 0xffff0000 : 0));
    w(4, (((fip >>> 16) << 12) | (fpu.fop & 0x7ff)) >>> 0);
    w(5, (fdp & 0xffff) | (wide ? 0xffff0000 : 0));
    w(6, ((fdp >>> 16) << 12) >>> 0);
  }
}

export function loadEnvironment(fpu: Fpu, host: FpuHost, at: number, mode: number): void {
  const wide = (mode & FPU_OPSIZE32) !== 0;
  const r = (slot: number): number => (wide ? host.read32(at + slot * 4) : host.read16(at + slot * 2));
  // Read everything before changing state, so a fault midway leaves the FPU untouched.
  const cw = r(0) & 0xffff;
  const sw = r(1) & 0xffff;
  const tw = r(2) & 0xffff;
  const p3 = r(3) >>> 0;
  const p4 = r(4) >>> 0;
  const p5 = r(5) >>> 0;
  const p6 = r(6) >>> 0;
  fpu.cw = cw;
  fpu.tagWord = tw;
  fpu.statusWord = sw;
  if (mode & FPU_PROTECTED) {
    fpu.fip = p3;
    fpu.fcs = p4 & 0xffff;
    fpu.fop = wide ? (p4 >>> 16) & 0x7ff : fpu.fop;
    fpu.fdp = p5;
    fpu.fds = p6 & 0xffff;
  } else {
    fpu.fip = ((p3 & 0xffff) | ((p4 >>> 12) << 16)) >>> 0;
    fpu.fop = p4 & 0x7ff;
    fpu.fdp = ((p5 & 0xffff) | ((p6 >>> 12) << 16)) >>> 0;
  }
}

export function fsave(fpu: Fpu, host: FpuHost, at: number, mode: number): void {
  storeEnvironment(fpu, host, at, mode);
  const base = at + environmentSize(mode);
  for (let i = 0; i < 8; i++) writeReal80(host, base + i * 10, fpu.regs[(fpu.top + i) & 7]);
  // FSAVE ends with an FNINIT.
  fpu.reset();
}

export function frstor(fpu: Fpu, host: FpuHost, at: number, mode: number): void {
  const base = at + environmentSize(mode);
  for (let i = 0; i < 8; i++) incoming[i] = readReal80(host, base + i * 10);
  loadEnvironment(fpu, host, at, mode);
  for (let i = 0; i < 8; i++) fpu.regs[(fpu.top + i) & 7] = incoming[i];
}

/**
 * FXSAVE's x87 part in legacy (non-64-bit) mode: bytes 0-159 (reserved bytes among them as 0), with
 * `mxcsr` and `mxcsrMask` at 24 and 28. Without SSE (the i686 model) MXCSR is its power-up value and
 * MXCSR_MASK 0 (the default mask), and bytes 160-511 keep what memory held, CR4.OSFXSR set or not;
 * an SSE CPU adds its XMM registers (src/sse/state-save.ts). FIP
 * and FDP are offsets (in real-address mode too), their high halves 0 with a 16-bit operand size;
 * FCS and FDS are the selectors.
 */
export function fxsave(fpu: Fpu, host: FpuHost, at: number, mode: number, mxcsr = MXCSR_DEFAULT, mxcsrMask = 0): void {
  const offsetMask = mode & FPU_OPSIZE32 ? 0xffffffff : 0xffff;
  host.write16(at, fpu.cw);
  host.write16(at + 2, fpu.statusWord);
  // Abridged tag word: one bit per physical register, 1 = not empty; byte 5 reserved.
  let abridged = 0;
  for (let r = 0; r < 8; r++) if (!fpu.empty[r]) abridged |= 1 << r;
  host.write16(at + 4, abridged);
  host.write16(at + 6, fpu.fop & 0x7ff);
  host.write32(at + 8, (instructionOffset(fpu, mode) & offsetMask) >>> 0);
  host.write32(at + 12, fpu.fcs & 0xffff);
  host.write32(at + 16, (dataOffset(fpu, mode) & offsetMask) >>> 0);
  host.write32(at + 20, fpu.fds & 0xffff);
  host.write32(at + 24, mxcsr);
  host.write32(at + 28, mxcsrMask);
  for (let i = 0; i < 8; i++) {
    const slot = at + 32 + i * 16;
    writeReal80(host, slot, fpu.regs[(fpu.top + i) & 7]);
    host.write16(slot + 10, 0);
    host.write32(slot + 12, 0);
  }
}

/**
 * FXRSTOR in legacy mode: false (and nothing loaded) when MXCSR has a bit outside `mxcsrMask`,
 * for which the CPU raises #GP(0). Everything is read before any state changes, so a fault midway
 * leaves the FPU as it was. The full tag word follows from the abridged one and the register values.
 */
export function fxrstor(fpu: Fpu, host: FpuHost, at: number, mode: number, mxcsrMask = MXCSR_DEFAULT_MASK): boolean {
  const offsetMask = mode & FPU_OPSIZE32 ? 0xffffffff : 0xffff;
  const cw = host.read16(at);
  const sw = host.read16(at + 2);
  const abridged = host.read8(at + 4);
  const fop = host.read16(at + 6) & 0x7ff;
  const fip = (host.read32(at + 8) & offsetMask) >>> 0;
  const fcs = host.read16(at + 12);
  const fdp = (host.read32(at + 16) & offsetMask) >>> 0;
  const fds = host.read16(at + 20);
  const mxcsr = host.read32(at + 24);
  for (let i = 0; i < 8; i++) incoming[i] = readReal80(host, at + 32 + i * 16);
  if ((mxcsr & ~mxcsrMask) !== 0) return false;
  fpu.cw = cw;
  fpu.statusWord = sw;
  for (let r = 0; r < 8; r++) fpu.empty[r] = abridged & (1 << r) ? 0 : 1;
  for (let i = 0; i < 8; i++) fpu.regs[(fpu.top + i) & 7] = incoming[i];
  fpu.fop = fop;
  fpu.fcs = fcs;
  // In real-address mode the model keeps the instruction's linear address (FSTENV's layout wants it).
  fpu.fip = mode & FPU_PROTECTED ? fip : (fip + (fcs << 4)) >>> 0;
  fpu.fdp = mode & FPU_PROTECTED ? fdp : (fdp + (fds << 4)) >>> 0;
  fpu.fds = fds;
  return true;
}

/**
 * FIP as an offset in CS. Real-address x87 instructions record their linear address, which is
 * CS * 16 + IP there.
 */
function instructionOffset(fpu: Fpu, mode: number): number {
  return mode & FPU_PROTECTED ? fpu.fip : (fpu.fip - ((fpu.fcs & 0xffff) << 4)) >>> 0;
}

/** FDP as an offset in the operand's segment (real-address FDP is linear, FDS * 16 + offset). */
function dataOffset(fpu: Fpu, mode: number): number {
  return mode & FPU_PROTECTED ? fpu.fdp : (fpu.fdp - ((fpu.fds & 0xffff) << 4)) >>> 0;
}
