// vCPU state export/import under hw:vmx, as the type-1 hypervisor uses it: one vCPU running in turn
// on two VMs over the same RAM (two pCPUs). The VM it comes back to must not run code it decoded
// or compiled before the other one changed it.
import { loadFlatBinary } from '@ringvisor/machine';
import type { ExitReason, ExitStats, VmSpec } from '@ringvisor/vmm-api';
import { describe, expect, it } from 'vitest';
import { EXIT_REASON, VMCS } from '@ringvisor/x86-core';
import { vmxStrategy, type VmxVcpu } from '../src/index.js';

const RAM = 0x200000;
const CODE = 0x100000;
const INC_EAX = 0x40;
const INC_EBX = 0x43;

function spec(ram: SharedArrayBuffer): VmSpec {
  const byReason = new Map<ExitReason, number>();
  return {
    regions: [{ base: 0, size: RAM }],
    io: { read: () => 0xff, write: () => undefined },
    mmio: { read: () => 0xffffffff, write: () => undefined },
    interrupts: { pending: () => false, acknowledge: () => 0x20 },
    stats: { byReason, byPort: new Map(), count: (r) => byReason.set(r, (byReason.get(r) ?? 0) + 1) } satisfies ExitStats,
    ramBacking: () => ram,
  };
}

describe('hw:vmx vCPU state', () => {
  it('a vCPU back on a VM it left runs the code another VM changed meanwhile', () => {
    const ram = new SharedArrayBuffer(RAM);
    const a = vmxStrategy.createVm(spec(ram));
    const b = vmxStrategy.createVm(spec(ram));
    // loop: inc eax; jmp loop
    const entry = loadFlatBinary(a.memory, Uint8Array.of(INC_EAX, 0xeb, 0xfd), { address: CODE, mode: 'protected' });
    const onA = a.createVcpu(0) as VmxVcpu;
    const onB = b.createVcpu(0) as VmxVcpu;
    onA.setSpecialRegisters(entry.sregs);
    onA.setRegisters(entry.regs);
    // Long enough on A for its code to be decoded and compiled.
    for (let i = 0; i < 20; i++) expect(onA.run(10_000).reason).toBe('budget');
    const eaxOnA = onA.getRegisters().eax;
    expect(eaxOnA).toBeGreaterThan(50_000);
    onB.importState(onA.exportState());
    b.memory.write8(CODE, INC_EBX);
    expect(onB.run(10_000).reason).toBe('budget');
    const there = onB.getRegisters();
    expect(there.eax).toBe(eaxOnA);
    expect(there.ebx).toBeGreaterThan(1000);
    onA.importState(onB.exportState());
    expect(onA.run(10_000).reason).toBe('budget');
    const back = onA.getRegisters();
    expect(back.eax).toBe(eaxOnA);
    expect(back.ebx).toBeGreaterThan(there.ebx + 1000);
  });

  it('carries the whole state: registers, FPU, TSC, debug registers, halt and interrupt shadow', () => {
    const ram = new SharedArrayBuffer(RAM);
    const a = vmxStrategy.createVm(spec(ram));
    // fld1; fldpi; sti; hlt
    const entry = loadFlatBinary(a.memory, Uint8Array.of(0xd9, 0xe8, 0xd9, 0xeb, 0xfb, 0xf4), { address: CODE, mode: 'protected' });
    const vcpu = a.createVcpu(0) as VmxVcpu;
    vcpu.setSpecialRegisters(entry.sregs);
    vcpu.setRegisters({ ...entry.regs, esi: 0x12345678 });
    expect(vcpu.run(100)).toMatchObject({ reason: 'hlt', interruptsEnabled: true });
    const state = vcpu.exportState();
    expect(state.halted).toBe(true);
    const b = vmxStrategy.createVm(spec(ram)).createVcpu(0) as VmxVcpu;
    b.importState({ ...state, debug: [1, 2, 3, 4, 0xffff0ff0, 0x400] });
    const moved = b.exportState();
    expect(moved.regs).toEqual(state.regs);
    expect(moved.sregs).toEqual(state.sregs);
    expect(moved.fpu).toEqual(state.fpu);
    expect(moved.debug).toEqual([1, 2, 3, 4, 0xffff0ff0, 0x400]);
    expect(moved.halted).toBe(true);
    expect(moved.msrs[0].value).toBeGreaterThanOrEqual(state.msrs[0].value);
    expect(b.run(100)).toMatchObject({ reason: 'hlt' });
    expect(() => b.importState({ ...state, pendingEvent: { vector: 0x80, kind: 'software', errorCode: null } })).toThrow(/software interrupt/);
    expect(() => b.importState({ ...state, msrs: [{ index: 0x1d9, value: 0n }] })).toThrow(/no MSR 0x1d9/);
    expect(() => b.importState({ ...state, msrs: [{ index: 0x176, value: 1n << 32n }] })).toThrow(/not a 32-bit value/);
    expect(() => b.importState({ ...state, fpu: new Uint8Array(3) })).toThrow(/512 bytes/);
  });

  it('SYSENTER round trips run without an exit; the SYSENTER MSRs travel in the state as the VMCS guest fields hold them', () => {
    const ram = new SharedArrayBuffer(RAM);
    const a = vmxStrategy.createVm(spec(ram));
    const le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
    const loop = CODE + 43;
    const kernelEntry = CODE + 52;
    const program = Uint8Array.of(
      0xb9, ...le(0x174), 0xb8, ...le(8), 0x31, 0xd2, 0x0f, 0x30, // SYSENTER_CS = 8
      0xb9, ...le(0x175), 0xb8, ...le(0x180000), 0x0f, 0x30, //       SYSENTER_ESP
      0xb9, ...le(0x176), 0xb8, ...le(kernelEntry), 0x0f, 0x30, //    SYSENTER_EIP
      0xbe, ...le(100), //                                            mov esi, 100
      0x89, 0xe1, 0xba, ...le(loop), 0x0f, 0x34, //             loop: mov ecx, esp; mov edx, loop; sysenter
      0x43, 0x4e, 0x74, 0x02, 0x0f, 0x35, //                   entry: inc ebx; dec esi; jz done; sysexit
      0xf4, //                                                  done: hlt
    );
    const entry = loadFlatBinary(a.memory, program, { address: CODE, mode: 'protected' });
    const vcpu = a.createVcpu(0) as VmxVcpu;
    vcpu.setSpecialRegisters(entry.sregs);
    vcpu.setRegisters(entry.regs);
    expect(vcpu.run(100_000)).toMatchObject({ reason: 'hlt' });
    expect(vcpu.getRegisters().ebx).toBe(100);
    const exits = vcpu.vmx.stats.exits;
    expect(exits.reduce((n, e) => n + e, 0)).toBe(exits[EXIT_REASON.HLT]);
    expect(vcpu.getSpecialRegisters().cs.selector).toBe(8);
    const v = vcpu.vmx.vmcs;
    expect([v.read(VMCS.GUEST_IA32_SYSENTER_CS), v.read(VMCS.GUEST_IA32_SYSENTER_ESP), v.read(VMCS.GUEST_IA32_SYSENTER_EIP)])
      .toEqual([8, 0x180000, kernelEntry]);
    const state = vcpu.exportState();
    expect(state.msrs.filter((m) => m.index !== 0x10)).toEqual([
      { index: 0x174, value: 8n }, { index: 0x175, value: 0x180000n }, { index: 0x176, value: BigInt(kernelEntry) },
    ]);
    const b = vmxStrategy.createVm(spec(ram)).createVcpu(0) as VmxVcpu;
    b.importState(state);
    expect(b.vmx.cpu.sysenterEip).toBe(kernelEntry);
    expect(b.exportState().msrs.filter((m) => m.index !== 0x10)).toEqual(state.msrs.filter((m) => m.index !== 0x10));
  });
});
