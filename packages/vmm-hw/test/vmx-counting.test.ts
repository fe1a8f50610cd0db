// Guest time under hw:vmx counts exactly what strategy none counts: an instruction the VMM
// completes after an exit is retired once. The case that once counted twice (random seed 153 of
// vmx-differential): an x87 instruction with an error pending while the guest's CR0.NE is 0 — #MF
// exits (the VMM keeps NE = 1), and the VMM emulates the instruction under the guest's CR0.
import type { Vcpu, VmmStrategy } from '@ringvisor/vmm-api';
import { EXIT_REASON, noneStrategy } from '@ringvisor/x86-core';
import { describe, expect, it } from 'vitest';
import { VmxVcpu, vmxStrategy } from '../src/index.js';
import { flat32, Stats } from './kvm-guest.js';

const CODE = 0x1000;
/** The x87 control word with ZE unmasked (bit 2 clear). */
const CW_ZE = 0x037b;

/** A flat 32-bit guest with CR0 = PE | ET (NE clear) running `code`; returns its vCPU after `run(budget)`. */
function runGuest(strategy: VmmStrategy, code: number[], budget: number): { vcpu: Vcpu; reason: string } {
  const vm = strategy.createVm({
    regions: [{ base: 0, size: 0x100000 }],
    io: { read: () => 0, write: () => undefined },
    mmio: { read: () => 0, write: () => undefined },
    interrupts: { pending: () => false, acknowledge: () => 0 },
    stats: new Stats(),
  });
  vm.memory.write16(0x500, CW_ZE);
  vm.memory.writeBytes(CODE, Uint8Array.from(code));
  const vcpu = vm.createVcpu(0);
  vcpu.setSpecialRegisters(flat32(vcpu.getSpecialRegisters(), 0x11));
  vcpu.setRegisters({ eax: 0, ecx: 0, edx: 0, ebx: 0, esp: 0x9000, ebp: 0, esi: 0, edi: 0, eip: CODE, eflags: 2 });
  return { vcpu, reason: vcpu.run(budget).reason };
}

// fninit; fldcw [0x500]; fldz; fld1; fdiv st0, st1 (1/0: ZE unmasked, an x87 error pending);
// fld1 (the bare CPU with NE = 0 goes on; hw:vmx takes the #MF exit); rdtsc; hlt.
const X87_ERROR = [
  0xdb, 0xe3, 0xd9, 0x2d, 0x00, 0x05, 0x00, 0x00, 0xd9, 0xee, 0xd9, 0xe8, 0xd8, 0xf1, 0xd9, 0xe8, 0x0f, 0x31, 0xf4,
];

describe('hw:vmx counts guest instructions as none does', () => {
  it('an x87 instruction emulated after a #MF exit (guest CR0.NE = 0) retires once: same count, same TSC', () => {
    const none = runGuest(noneStrategy, X87_ERROR, 1000);
    const vmx = runGuest(vmxStrategy, X87_ERROR, 1000);
    expect(none.reason).toBe('hlt');
    expect(vmx.reason).toBe('hlt');
    expect((vmx.vcpu as VmxVcpu).vmx.stats.exits[EXIT_REASON.EXCEPTION_OR_NMI]).toBe(1);
    expect(vmx.vcpu.retired).toBe(none.vcpu.retired);
    // RDTSC is the 7th instruction: the TSC read counts the six before it.
    expect(none.vcpu.getRegisters().eax).toBe(6);
    expect(vmx.vcpu.getRegisters()).toEqual(none.vcpu.getRegisters());
  });

  it('a budget that ends right after the emulated instruction stops both at the same place', () => {
    for (let budget = 1; budget <= 8; budget++) {
      const none = runGuest(noneStrategy, X87_ERROR, budget);
      const vmx = runGuest(vmxStrategy, X87_ERROR, budget);
      expect(vmx.reason, `budget ${budget}`).toBe(none.reason);
      expect(vmx.vcpu.getRegisters().eip, `budget ${budget}`).toBe(none.vcpu.getRegisters().eip);
      expect(vmx.vcpu.retired, `budget ${budget}`).toBe(none.vcpu.retired);
    }
  });

  it('RDMSR of the TSC, which the VMM\'s MSR bitmap lets run in the guest, retires as under none', () => {
    // mov ecx, 0x10; rdmsr; rdmsr; rdtsc; hlt
    const code = [0xb9, 0x10, 0, 0, 0, 0x0f, 0x32, 0x0f, 0x32, 0x0f, 0x31, 0xf4];
    const none = runGuest(noneStrategy, code, 1000);
    const vmx = runGuest(vmxStrategy, code, 1000);
    expect(none.vcpu.getRegisters().eax).toBe(3);
    expect(vmx.vcpu.getRegisters()).toEqual(none.vcpu.getRegisters());
    expect(vmx.vcpu.retired).toBe(none.vcpu.retired);
  });
});
