import { describe, expect, it } from 'vitest';
import { EXIT_REASON, VMCS } from '../../src/index.js';
import { CODE, EPT_EXECUTE, EPT_READ, GUEST_OFFSET, VmxMachine } from './support.js';

const CPUID = [0x0f, 0xa2];

describe('EPT exits (SDM 28.2.1, Table 28-7)', () => {
  it('a write to a read-only page: exit 48, qualification bits, guest-physical and guest-linear address; the instruction re-runs after the VMM maps it', () => {
    const m = new VmxMachine();
    m.map(0x7000, 0x7000 + GUEST_OFFSET, EPT_READ | EPT_EXECUTE);
    m.start([0xa3, 0x10, 0x70, 0x00, 0x00, ...CPUID]); // mov [0x7010], eax
    m.vmx.cpu.reg32[0] = 0x55;
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EPT_VIOLATION);
    const v = m.vmx.vmcs;
    expect(m.qualification).toBe(0x2 | 0x8 | 0x20 | 0x80 | 0x100);
    expect(v.read(VMCS.GUEST_PHYSICAL_ADDRESS)).toBe(0x7010);
    expect(v.read(VMCS.GUEST_LINEAR_ADDRESS)).toBe(0x7010);
    expect(m.rip).toBe(CODE);
    expect(m.read32(0x7010)).toBe(0);
    m.map(0x7000, 0x7000 + GUEST_OFFSET, 7);
    m.vmx.invept();
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.read32(0x7010)).toBe(0x55);
    expect(m.vmx.paging.stats.violationsWrite).toBe(1);
  });

  it('fetching from a page without execute permission: bit 2', () => {
    const m = new VmxMachine();
    m.map(0x1000, 0x1000 + GUEST_OFFSET, EPT_READ);
    m.start(CPUID);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EPT_VIOLATION);
    expect(m.qualification).toBe(0x4 | 0x8 | 0x80 | 0x100);
  });

  it('a misconfigured entry: exit 49 with the guest-physical address', () => {
    const m = new VmxMachine();
    m.map(0x7000, 0x7000 + GUEST_OFFSET, 2); // write without read
    m.start([0xa1, 0x00, 0x70, 0x00, 0x00]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EPT_MISCONFIGURATION);
    expect(m.vmx.vmcs.read(VMCS.GUEST_PHYSICAL_ADDRESS)).toBe(0x7000);
  });

  it('a violation while delivering an event reports the event as IDT-vectoring information', () => {
    const m = new VmxMachine();
    m.map(0x8000, 0, 0); // the stack page (ESP 0x9000 pushes into 0x8ffc) is not mapped
    m.gate(13, 0x2000);
    m.start([0x90]);
    const v = m.vmx.vmcs;
    v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, 0x80000b0d);
    v.write(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, 0x18);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EPT_VIOLATION);
    expect(v.read(VMCS.IDT_VECTORING_INFO)).toBe(0x80000b0d);
    expect(v.read(VMCS.IDT_VECTORING_ERROR_CODE)).toBe(0x18);
    expect(m.qualification & 0x7).toBe(0x2);
    expect(m.rip).toBe(CODE);
    expect(v.read(VMCS.GUEST_RSP)).toBe(0x9000);
  });

  it('VPID-tagged translations survive exits; without VPID every entry starts with an empty TLB', () => {
    for (const vpid of [true, false]) {
      const m = new VmxMachine();
      const v = m.vmx.vmcs;
      if (!vpid) v.write(VMCS.SECONDARY_PROCESSOR_CONTROLS, v.read(VMCS.SECONDARY_PROCESSOR_CONTROLS) & ~(1 << 5));
      // mov eax, [0x7000]; cpuid; mov eax, [0x7000]; cpuid
      m.start([0xa1, 0x00, 0x70, 0x00, 0x00, ...CPUID, 0xa1, 0x00, 0x70, 0x00, 0x00, ...CPUID]);
      m.write32(0x7000, 1);
      expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
      // The VMM remaps the page without INVEPT: a tagged TLB still has the old frame.
      m.memory.write32(0x200000, 2);
      m.map(0x7000, 0x200000, 7);
      m.skip();
      expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
      expect(m.vmx.cpu.reg32[0]).toBe(vpid ? 1 : 2);
    }
  });
});
