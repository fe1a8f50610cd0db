// The 'hw' VMM strategy: real hardware-assisted virtualization through Linux KVM.
import type { Vm, VmmStrategy, VmSpec } from '@ringvisor/vmm-api';
import { KvmSystem } from './kvm/system.js';
import { HwVm } from './vm.js';

/** Why KVM cannot be used here, or null. Never falls back to something else silently. */
function unavailableReason(): string | null {
  const kvm = KvmSystem.open();
  if (typeof kvm === 'string') return kvm;
  kvm.close();
  return null;
}

export const hwStrategy: VmmStrategy = {
  name: 'hw',
  description: 'hardware-assisted virtualization: the guest runs in VMX non-root mode through Linux KVM (/dev/kvm)',
  unavailableReason,
  createVm(spec: VmSpec): Vm {
    const kvm = KvmSystem.open();
    if (typeof kvm === 'string') throw new Error(`strategy hw is unavailable: ${kvm}`);
    try {
      return new HwVm(kvm, spec);
    } catch (err) {
      kvm.close();
      throw err;
    }
  },
};
