// Single-stepping under hw:vmx against the bare emulated CPU (strategy none): a guest counts its
// #DB traps while TF is set across instructions the VMM completes for it after a VM exit (CPUID,
// IN, OUT, HLT), one it emulates (an MMIO read, after an EPT violation) and ones that run without
// exiting. As KVM does when it skips or emulates an instruction, the VMM must deliver the
// single-step trap the instruction would have taken.
import type { AccessSize, ExitReason, ExitStats, VmmStrategy } from '@ringvisor/vmm-api';
import { noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { vmxStrategy } from '../src/index.js';
import { flatProtectedMode } from './flat-protected.js';

const RAM = 0x200000;
const CODE = 0x10000;
const COUNTER = 0x20000;
const LOG = 0x20100;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

function stats(): ExitStats {
  const byReason = new Map<ExitReason, number>();
  return { byReason, byPort: new Map(), count: (r) => byReason.set(r, (byReason.get(r) ?? 0) + 1) };
}

// The #DB handler logs the EIP each trap returns to and counts them; then the program.
const handler = CODE + 2;
const program = [
  0xeb, 0x1a, //                                                   jmp over the handler
  0x53, 0x8b, 0x1d, ...le32(COUNTER), //                           push ebx; mov ebx, [counter]
  0xff, 0x74, 0x24, 0x04, 0x8f, 0x83, ...le32(LOG), //             push dword [esp+4]; pop dword [ebx+LOG]
  0x83, 0x05, ...le32(COUNTER), 0x04, 0x5b, 0xcf, //               add dword [counter], 4; pop ebx; iret
  0xc7, 0x05, ...le32(0x2008), ...le32((0x08 << 16) | (handler & 0xffff)),
  0xc7, 0x05, ...le32(0x200c), ...le32((handler & 0xffff0000) | 0x8e00),
  0x9c, 0x81, 0x0c, 0x24, ...le32(0x100), 0x9d, //                TF on
  0x31, 0xc0, 0x0f, 0xa2, //                                      xor eax, eax; cpuid
  0xe4, 0x71, 0xe6, 0x80, //                                      in al, 0x71; out 0x80, al
  0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, //                          mov eax, cr3; mov cr3, eax
  0x0f, 0x01, 0x3d, ...le32(0x30000), //                          invlpg [0x30000]
  0xa1, ...le32(0xd0000000), //                                   mov eax, [MMIO]
  0xf4, //                                                        hlt (the trap ends it)
  0x40, 0x40, //                                                  inc eax x2
  0x9c, 0x81, 0x24, 0x24, ...le32(~0x100), 0x9d, //               TF off
  0xf4, //                                                        hlt
];

function run(strategy: VmmStrategy): { log: string[]; traps: number[]; regs: unknown } {
  const log: string[] = [];
  const ramBuffer = new SharedArrayBuffer(RAM);
  const vm = strategy.createVm({
    regions: [{ base: 0, size: RAM }],
    io: {
      read: (port: number, size: AccessSize) => { log.push(`in ${port}/${size}`); return 0x5a; },
      write: (port: number, size: AccessSize, value: number) => { log.push(`out ${port}/${size}=${value}`); },
    },
    mmio: {
      read: (address: number, size: AccessSize) => { log.push(`r ${address}/${size}`); return 0x1234; },
      write: () => undefined,
    },
    interrupts: { pending: () => false, acknowledge: () => 0x20 },
    stats: stats(),
    ramBacking: () => ramBuffer,
  });
  const m = vm.memory;
  m.write32(0x1008, 0x0000ffff); m.write32(0x100c, 0x00cf9b00);
  m.write32(0x1010, 0x0000ffff); m.write32(0x1014, 0x00cf9300);
  program.forEach((b, i) => m.write8(CODE + i, b));
  const vcpu = vm.createVcpu(0);
  vcpu.setSpecialRegisters(flatProtectedMode(0x17, 0));
  vcpu.setRegisters({ eax: 0, ecx: 0, edx: 0, ebx: 0, esp: 0x9000, ebp: 0, esi: 0, edi: 0, eip: CODE, eflags: 2 });
  for (let i = 0; i < 20 && vcpu.run(50).reason === 'budget'; i++);
  const traps = Array.from({ length: m.read32(COUNTER) / 4 }, (_, i) => m.read32(LOG + 4 * i) - CODE);
  const result = { log, traps, regs: vcpu.getRegisters() };
  vm.destroy();
  return result;
}

describe('hw:vmx: single-step traps across VM exits', () => {
  it('one #DB after each instruction, exiting or not, as on the bare CPU', () => {
    const none = run(noneStrategy);
    const vmx = run(vmxStrategy);
    // xor, cpuid, in, out, mov from and to CR3, invlpg, the MMIO read, hlt, inc, inc, pushf, and, popf.
    expect(none.traps.length).toBe(14);
    expect(vmx.traps).toEqual(none.traps);
    expect(vmx.log).toEqual(none.log);
    expect(vmx.regs).toEqual(none.regs);
  });
});
