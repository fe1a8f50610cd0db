// Why KVM cannot be used must be said plainly; these run whether or not /dev/kvm exists.
import { expect, it } from 'vitest';
import { hwStrategy } from '../src/index.js';
import { KvmSystem } from '../src/kvm/system.js';

it('names the strategy', () => {
  expect(hwStrategy.name).toBe('hw');
  expect(hwStrategy.description).toMatch(/KVM/);
});

it('says a missing device does not exist', () => {
  expect(KvmSystem.open('/nonexistent/kvm')).toMatch(/^cannot open \/nonexistent\/kvm: it does not exist/);
});

it('says a device that is not KVM is not KVM', () => {
  expect(KvmSystem.open('/dev/null')).toMatch(/^\/dev\/null is not a KVM device/);
});

it('agrees with createVm: either a reason, or a VM', () => {
  const reason = hwStrategy.unavailableReason();
  const spec = {
    regions: [{ base: 0, size: 0x1000 }],
    io: { read: () => 0, write: () => {} }, mmio: { read: () => 0, write: () => {} },
    interrupts: { pending: () => false, acknowledge: () => 0 },
    stats: { byReason: new Map(), byPort: new Map(), count: () => {} },
  };
  if (reason === null) hwStrategy.createVm(spec).destroy();
  else expect(() => hwStrategy.createVm(spec)).toThrow(reason);
});
