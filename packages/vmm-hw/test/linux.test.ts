// Linux on KVM. A stock kernel only boots in reasonable time where KVM runs guest code at
// hardware speed, so a calibration loop decides first; the measured speed is the skip reason.
import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import type { AccessSize, IoBus } from '@ringvisor/vmm-api';
import { hwStrategy } from '../src/index.js';
import { describeKvm, FakePic, longMode64, machine, RecordingMmio, runToExit, Stats } from './kvm-guest.js';

const CALIBRATION_ITERATIONS = 200_000;
/** Well below any VT-x/AMD-V host (thousands), well above instruction emulation (a few). */
const HARDWARE_SPEED_MIPS = 200;

function guestMips(): { mips: number; ms: number } {
  const m = machine('spin');
  try {
    m.vcpu.setRegisters({ ...m.vcpu.getRegisters(), ecx: CALIBRATION_ITERATIONS });
    const start = performance.now();
    expect(runToExit(m.vcpu).reason).toBe('hlt');
    const ms = performance.now() - start;
    return { mips: (2 * CALIBRATION_ITERATIONS) / (ms * 1000), ms }; // DEC + JNZ per iteration
  } finally {
    m.vm.destroy();
  }
}

/** A 64-bit bzImage named by RINGVISOR_BZIMAGE64, or the one tools/ fetch into .cache/linux. */
function findBzImage64(): string | null {
  const candidates = [process.env.RINGVISOR_BZIMAGE64, new URL('../../../.cache/linux/bzImage-amd64', import.meta.url).pathname];
  return candidates.find((p): p is string => !!p && existsSync(p)) ?? null;
}

/** Just enough of a 16550 for early printk: THR collects text, LSR says "transmitter empty". */
class SerialText implements IoBus {
  text = '';
  read(port: number, _size: AccessSize): number { return port === 0x3fd ? 0x60 : 0; }
  write(port: number, _size: AccessSize, value: number): void { if (port === 0x3f8) this.text += String.fromCharCode(value & 0xff); }
}

// Linux boot protocol (Documentation/arch/x86/boot.rst) and the 64-bit entry as Firecracker does it.
const ZERO_PAGE = 0x7000, CMDLINE = 0x20000;
const KERNEL_LOAD = 0x100000, RAM_SIZE = 256 << 20;

function bootLinux64(image: Uint8Array): SerialText {
  const serial = new SerialText();
  const vm = hwStrategy.createVm({
    regions: [{ base: 0, size: RAM_SIZE }], io: serial, mmio: new RecordingMmio(), interrupts: new FakePic(), stats: new Stats(),
  });
  try {
    const mem = vm.memory;
    const hdr = new DataView(image.buffer, image.byteOffset);
    expect(hdr.getUint32(0x202, true)).toBe(0x53726448); // "HdrS"
    expect(hdr.getUint16(0x236, true) & 1).toBe(1); // XLF_KERNEL_64: has the 64-bit entry point
    const setupSects = image[0x1f1] || 4;
    const kernel = image.subarray((setupSects + 1) * 512);
    mem.writeBytes(KERNEL_LOAD, kernel);
    const headerEnd = 0x202 + image[0x201];
    mem.writeBytes(ZERO_PAGE + 0x1f1, image.subarray(0x1f1, headerEnd));
    mem.write8(ZERO_PAGE + 0x210, 0xff); // type_of_loader: undefined
    mem.write8(ZERO_PAGE + 0x211, mem.read8(ZERO_PAGE + 0x211) | 1); // LOADED_HIGH
    const cmdline = new TextEncoder().encode('console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 noapic nolapic\0');
    mem.writeBytes(CMDLINE, cmdline);
    mem.write32(ZERO_PAGE + 0x228, CMDLINE);
    const e820 = [[0, 0x9fc00, 1], [KERNEL_LOAD, RAM_SIZE - KERNEL_LOAD, 1]];
    e820.forEach(([addr, size, type], i) => {
      const at = ZERO_PAGE + 0x2d0 + 20 * i;
      mem.write32(at, addr); mem.write32(at + 4, 0); mem.write32(at + 8, size); mem.write32(at + 12, 0); mem.write32(at + 16, type);
    });
    mem.write8(ZERO_PAGE + 0x1e8, e820.length);
    const vcpu = vm.createVcpu(0);
    const sregs = longMode64(mem, vcpu.getSpecialRegisters());
    vcpu.setSpecialRegisters(sregs);
    vcpu.setRegisters({ ...vcpu.getRegisters(), eip: KERNEL_LOAD + 0x200, esi: ZERO_PAGE, esp: 0x8ff0, eflags: 2 });
    const end = performance.now() + 20_000;
    while (performance.now() < end && !serial.text.includes('Linux version')) {
      const exit = vcpu.run(10_000_000);
      if (exit.reason !== 'budget' && exit.reason !== 'hlt') break;
    }
    return serial;
  } finally {
    vm.destroy();
  }
}

describeKvm('Linux on KVM', () => {
  it('boots a 64-bit bzImage to its banner where KVM runs at hardware speed', (ctx) => {
    const { mips, ms } = guestMips();
    if (mips < HARDWARE_SPEED_MIPS) {
      console.log(`[vmm-hw] skipping Linux boot: KVM runs guest code at ${mips.toFixed(1)} M instructions/s `
        + `(${CALIBRATION_ITERATIONS} DEC/JNZ iterations in ${ms.toFixed(0)} ms), not hardware speed (>= ${HARDWARE_SPEED_MIPS})`);
      ctx.skip();
    }
    const image = findBzImage64();
    if (!image) {
      console.log('[vmm-hw] skipping Linux boot: no 64-bit bzImage (set RINGVISOR_BZIMAGE64 or put one at .cache/linux/bzImage-amd64)');
      ctx.skip();
    }
    const serial = bootLinux64(new Uint8Array(readFileSync(image!)));
    expect(serial.text).toContain('Linux version');
  }, 60_000);
});
