import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ExitReason, Vcpu, Vm, VmExit, VmmStrategy } from '../src/index.js';

// vmm-api holds only types; these tests pin the contract's shape so a change to it is deliberate.
describe('vmm-api contract', () => {
  it('narrows exits by reason', () => {
    const describeExit = (exit: VmExit): string => {
      switch (exit.reason) {
        case 'hlt': return exit.interruptsEnabled ? 'idle' : 'dead';
        case 'shutdown': return exit.cause;
        case 'hypercall': return `call ${exit.nr}`;
        case 'exception': return `vector ${exit.vector}`;
        case 'internal-error': return exit.detail;
        case 'fail-entry': return `entry ${exit.code}`;
        case 'budget': case 'irq-window': return exit.reason;
      }
    };
    expect(describeExit({ reason: 'hlt', interruptsEnabled: false })).toBe('dead');
    expect(describeExit({ reason: 'shutdown', cause: 'triple-fault' })).toBe('triple-fault');
  });

  it('lists port I/O and MMIO among counted exit reasons', () => {
    expectTypeOf<'io'>().toMatchTypeOf<ExitReason>();
    expectTypeOf<'mmio'>().toMatchTypeOf<ExitReason>();
    expectTypeOf<Vcpu['run']>().returns.toEqualTypeOf<VmExit>();
    expectTypeOf<VmmStrategy['unavailableReason']>().returns.toEqualTypeOf<string | null>();
  });
});

describe('vmm-api optional capabilities', () => {
  it('lets a VM leave out the A20 gate', () => {
    expectTypeOf<Vm['setA20']>().toEqualTypeOf<((enabled: boolean) => void) | undefined>();
  });
});
