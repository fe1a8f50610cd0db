import type { FpuHost } from '../../src/fpu/host.js';

/** A flat 64 KiB memory and a register file standing in for the CPU around the FPU. */
export class TestHost implements FpuHost {
  readonly mem = new Uint8Array(0x10000);
  readonly view = new DataView(this.mem.buffer);
  eflags = 0x2;
  ax = 0;
  read8(a: number): number { return this.mem[a]; }
  read16(a: number): number { return this.view.getUint16(a, true); }
  read32(a: number): number { return this.view.getUint32(a, true); }
  write8(a: number, v: number): void { this.mem[a] = v; }
  write16(a: number, v: number): void { this.view.setUint16(a, v & 0xffff, true); }
  write32(a: number, v: number): void { this.view.setUint32(a, v >>> 0, true); }
  getEflags(): number { return this.eflags; }
  setCompareFlags(zf: boolean, pf: boolean, cf: boolean): void {
    this.eflags = (this.eflags & ~0x8d5) | (zf ? 0x40 : 0) | (pf ? 0x4 : 0) | (cf ? 0x1 : 0);
  }
  setAx(v: number): void { this.ax = v; }
  ds = 0;
  dataSelector(): number { return this.ds; }
  /** The data segment's base (real-address mode: DS × 16). */
  base = 0;
  dataBase(): number { return this.base; }
}
