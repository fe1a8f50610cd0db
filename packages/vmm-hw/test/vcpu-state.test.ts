// vCPU state export/import under hw:vmx, as the type-1 hypervisor uses it: one vCPU running in turn
// on two VMs over the same RAM (two pCPUs). The VM it comes back to must not run code it decoded
// or compiled before the other one changed it.
import { loadFlatBinary } from '@ringvisor/machine';
import type { ExitReason, ExitStats, VmSpec } from '@ringvisor/vmm-api';
import { describe, expect, it } from 'vitest';
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
    expect(() => b.importState({ ...state, msrs: [{ index: 0x174, value: 0n }] })).toThrow(/no MSR 0x174/);
    expect(() => b.importState({ ...state, fpu: new Uint8Array(3) })).toThrow(/512 bytes/);
  });
});
