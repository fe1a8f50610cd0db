import type { Registers, SpecialRegisters, Vcpu, VmExit } from '@ringvisor/vmm-api';
import { describe, expect, it } from 'vitest';
import { SamplingVcpu, type Sample } from '../src/profile/sampler.js';

/** A vCPU whose EIP is the number of instructions retired; runs may stop early (`short`). */
function fakeVcpu(short: number): Vcpu & { budgets: number[] } {
  let retired = 0;
  const budgets: number[] = [];
  const segment = { selector: 0x10, base: 0, limit: -1, access: 0 };
  return {
    index: 0,
    budgets,
    get retired() { return retired; },
    interruptible: true,
    run(budget: number): VmExit {
      budgets.push(budget);
      retired += Math.min(budget, short);
      return { reason: 'budget' } as VmExit;
    },
    requestInterruptWindow: () => {},
    injectInterrupt: () => {},
    getRegisters: () => ({ eip: 0xc0000000 + retired, ebp: 0xc1000000 } as Registers),
    setRegisters: () => {},
    getSpecialRegisters: () => ({ cr0: 0x80000001, cs: segment } as SpecialRegisters),
    setSpecialRegisters: () => {},
  };
}

describe('SamplingVcpu', () => {
  it('cuts budgets at every sample point and samples where the guest stopped', () => {
    const inner = fakeVcpu(Infinity);
    const samples: Sample[] = [];
    const vcpu = new SamplingVcpu(inner, 1000, (s) => samples.push(s));
    vcpu.run(2500);
    vcpu.run(2500);
    vcpu.run(300);
    expect(inner.budgets).toEqual([1000, 1000, 300]);
    expect(samples.map((s) => s.eip - 0xc0000000)).toEqual([1000, 2000]);
    expect(samples[0]).toMatchObject({ paging: true, user: false, ebp: 0xc1000000 });
  });

  it('keeps the period when runs end early (HLT, I/O) and counts their instructions', () => {
    const inner = fakeVcpu(400);
    const samples: Sample[] = [];
    const vcpu = new SamplingVcpu(inner, 1000, (s) => samples.push(s));
    for (let i = 0; i < 5; i++) vcpu.run(100_000);
    expect(inner.budgets).toEqual([1000, 600, 200, 1000, 600]);
    expect(samples.map((s) => s.eip - 0xc0000000)).toEqual([1000]); // the shortened budgets land on the sample point exactly
    expect(vcpu.retired).toBe(1800);
  });
});
