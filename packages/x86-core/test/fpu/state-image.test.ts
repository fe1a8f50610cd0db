// The FPU part of vmm-api's VcpuState: an FXSAVE image taken from one CPU loads into another exactly.
import { PhysicalMemory } from '@ringvisor/mmu';
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../src/cpu.js';
import { cpuFpuImage, FXSAVE_IMAGE_BYTES, setCpuFpuImage } from '../../src/index.js';

function cpu(): Cpu {
  return new Cpu({ memory: new PhysicalMemory({ regions: [{ base: 0, size: 1 << 16 }] }), io: { read: () => 0xff, write: () => undefined } });
}

describe('FPU state image', () => {
  it('moves the whole x87 state between CPUs', () => {
    const from = cpu();
    const f = from.fpu;
    f.top = 5;
    f.cw = 0x0c7f;
    f.statusWord = 0x2a21;
    const values = [Math.PI, -0, 1e-310, Infinity, NaN, -123.5, 2 ** 70, 1 / 3];
    values.forEach((v, r) => { f.regs[r] = v; f.empty[r] = r === 2 || r === 6 ? 1 : 0; });
    f.fip = 0x12345678; f.fcs = 0x1b; f.fdp = 0x9abcdef0; f.fds = 0x23; f.fop = 0x5d9;
    const image = cpuFpuImage(from);
    expect(image.length).toBe(FXSAVE_IMAGE_BYTES);
    const to = cpu();
    setCpuFpuImage(to, image);
    const g = to.fpu;
    expect([g.top, g.cw, g.statusWord, g.fip, g.fcs, g.fdp, g.fds, g.fop]).toEqual([5, 0x0c7f, f.statusWord, 0x12345678, 0x1b, 0x9abcdef0, 0x23, 0x5d9]);
    expect(Array.from(g.empty)).toEqual(Array.from(f.empty));
    for (let r = 0; r < 8; r++) if (!f.empty[r]) expect(Object.is(g.regs[r], f.regs[r]) || (Number.isNaN(g.regs[r]) && Number.isNaN(f.regs[r])), `R${r}`).toBe(true);
    expect(cpuFpuImage(to)).toEqual(image);
  });

  it('refuses a short image and an MXCSR FXRSTOR would fault on, changing nothing', () => {
    const c = cpu();
    const before = cpuFpuImage(c);
    expect(() => setCpuFpuImage(c, new Uint8Array(100))).toThrow(/512 bytes/);
    const bad = before.slice();
    new DataView(bad.buffer).setUint32(24, 0xffffffff, true);
    expect(() => setCpuFpuImage(c, bad)).toThrow(/MXCSR/);
    expect(cpuFpuImage(c)).toEqual(before);
  });
});
