// The vmm-api register views of an emulated CPU, shared by the strategies that run guests on it:
// general registers, and the segment/descriptor-table/control-register state a loader or a VMM
// sets. What loading state means beyond the registers (CPL, a shutdown CPU) stays the caller's.
import type { Registers, SegmentState, SpecialRegisters } from '@ringvisor/vmm-api';
import { CS, DS, ES, FS, GS, LDTR, SS, TR, type Cpu } from '../cpu.js';
import { MXCSR_DEFAULT_MASK, fxrstor, fxsave } from '../fpu/environment.js';
import { FPU_OPSIZE32, FPU_PROTECTED, type FpuHost } from '../fpu/host.js';
import { MXCSR_MASK } from '../sse/state.js';

const SEGMENT_ORDER: [keyof SpecialRegisters, number][] = [
  ['es', ES], ['cs', CS], ['ss', SS], ['ds', DS], ['fs', FS], ['gs', GS], ['ldt', LDTR], ['tr', TR],
];

export function cpuRegisters(cpu: Cpu): Registers {
  const r = cpu.reg32;
  return {
    eax: r[0] >>> 0, ecx: r[1] >>> 0, edx: r[2] >>> 0, ebx: r[3] >>> 0,
    esp: r[4] >>> 0, ebp: r[5] >>> 0, esi: r[6] >>> 0, edi: r[7] >>> 0,
    eip: cpu.eip >>> 0, eflags: cpu.getEflags() >>> 0,
  };
}

export function setCpuRegisters(cpu: Cpu, regs: Registers): void {
  const r = cpu.reg32;
  r[0] = regs.eax; r[1] = regs.ecx; r[2] = regs.edx; r[3] = regs.ebx;
  r[4] = regs.esp; r[5] = regs.ebp; r[6] = regs.esi; r[7] = regs.edi;
  cpu.eip = regs.eip >>> 0;
  cpu.setEflags(regs.eflags);
}

export function cpuSpecialRegisters(cpu: Cpu): SpecialRegisters {
  const segment = (s: number): SegmentState => ({
    selector: cpu.seg[s], base: cpu.segBase[s] >>> 0, limit: cpu.segLimit[s] >>> 0, access: cpu.segAccess[s],
  });
  return {
    es: segment(ES), cs: segment(CS), ss: segment(SS), ds: segment(DS), fs: segment(FS), gs: segment(GS),
    ldt: segment(LDTR), tr: segment(TR),
    gdt: { base: cpu.gdtrBase >>> 0, limit: cpu.gdtrLimit },
    idt: { base: cpu.idtrBase >>> 0, limit: cpu.idtrLimit },
    cr0: cpu.cr0 >>> 0, cr2: cpu.cr2 >>> 0, cr3: cpu.cr3 >>> 0, cr4: cpu.cr4 >>> 0, efer: cpu.efer >>> 0,
  };
}

/** Loads segments, descriptor tables and control registers; the caller sets CPL and calls `modeChanged`. */
export function setCpuSpecialRegisters(cpu: Cpu, sregs: SpecialRegisters): void {
  for (const [name, s] of SEGMENT_ORDER) {
    const state = sregs[name] as SegmentState;
    cpu.seg[s] = state.selector;
    cpu.segBase[s] = state.base | 0;
    cpu.segLimit[s] = state.limit | 0;
    cpu.segAccess[s] = state.access;
  }
  cpu.gdtrBase = sregs.gdt.base >>> 0;
  cpu.gdtrLimit = sregs.gdt.limit;
  cpu.idtrBase = sregs.idt.base >>> 0;
  cpu.idtrLimit = sregs.idt.limit;
  cpu.cr0 = sregs.cr0 | 0;
  cpu.cr2 = sregs.cr2 >>> 0;
  cpu.cr3 = sregs.cr3 >>> 0;
  cpu.cr4 = sregs.cr4 >>> 0;
  cpu.efer = sregs.efer >>> 0;
}

/** Bytes of an FXSAVE image. */
export const FXSAVE_IMAGE_BYTES = 512;
/** Offsets kept as the model holds them (protected, 32-bit layout), so an image round-trips exactly. */
const IMAGE_MODE = FPU_OPSIZE32 | FPU_PROTECTED;

/** A byte array as FXSAVE/FXRSTOR's memory operand (only the memory side of FpuHost is reached). */
class ImageHost implements FpuHost {
  private readonly view: DataView;
  constructor(image: Uint8Array) {
    this.view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  }
  read8(offset: number): number { return this.view.getUint8(offset); }
  read16(offset: number): number { return this.view.getUint16(offset, true); }
  read32(offset: number): number { return this.view.getUint32(offset, true); }
  write8(offset: number, value: number): void { this.view.setUint8(offset, value); }
  write16(offset: number, value: number): void { this.view.setUint16(offset, value, true); }
  write32(offset: number, value: number): void { this.view.setUint32(offset, value >>> 0, true); }
  getEflags(): number { throw new Error('an FPU state image has no EFLAGS'); }
  setCompareFlags(): void { throw new Error('an FPU state image has no EFLAGS'); }
  setAx(): void { throw new Error('an FPU state image has no AX'); }
  dataSelector(): number { return 0; }
  dataBase(): number { return 0; }
}

/** Where XMM0-15 lie in the image (all sixteen, as KVM's kvm_fpu and 64-bit FXSAVE have them). */
const XMM_IMAGE = 160;

/** The CPU's x87 state as an FXSAVE image (vmm-api's VcpuState.fpu), with MXCSR and XMM0-15 on an SSE model. */
export function cpuFpuImage(cpu: Cpu): Uint8Array {
  const image = new Uint8Array(FXSAVE_IMAGE_BYTES);
  const host = new ImageHost(image);
  if (!cpu.traits.sse) {
    fxsave(cpu.fpu, host, 0, IMAGE_MODE);
    return image;
  }
  fxsave(cpu.fpu, host, 0, IMAGE_MODE, cpu.sse.mxcsr, MXCSR_MASK);
  for (let i = 0; i < 64; i++) host.write32(XMM_IMAGE + 4 * i, cpu.sse.i32[i]);
  return image;
}

/** Loads an FXSAVE image; RangeError for a short image or an MXCSR FXRSTOR would refuse. */
export function setCpuFpuImage(cpu: Cpu, image: Uint8Array): void {
  if (image.length !== FXSAVE_IMAGE_BYTES) throw new RangeError(`an FXSAVE image is ${FXSAVE_IMAGE_BYTES} bytes, not ${image.length}`);
  const host = new ImageHost(image);
  const mask = cpu.traits.sse ? MXCSR_MASK : MXCSR_DEFAULT_MASK;
  if (!fxrstor(cpu.fpu, host, 0, IMAGE_MODE, mask)) throw new RangeError('the FXSAVE image has MXCSR bits this CPU does not support');
  if (!cpu.traits.sse) return;
  cpu.sse.mxcsr = host.read32(24);
  for (let i = 0; i < 64; i++) cpu.sse.i32[i] = host.read32(XMM_IMAGE + 4 * i);
}
