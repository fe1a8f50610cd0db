// The 'hw' VMM strategy with its two backends: Linux KVM (`hw`, `hw:kvm`) and VT-x emulated by
// x86-core and mmu (`hw:vmx`), where a KVM-like VMM written in TypeScript drives VMX.
import type { Vm, VmmStrategy, VmSpec } from '@ringvisor/vmm-api';
import { kvmPagingUnsupportedReason } from './kvm/paging-probe.js';
import { KvmSystem } from './kvm/system.js';
import { HwVm } from './vm.js';
import { VmxVm, type VmxBackendOptions } from './vmx/vmx-vm.js';

/** Why KVM cannot be used here, or null. Never falls back to something else silently. */
function kvmUnavailableReason(): string | null {
  const kvm = KvmSystem.open();
  if (typeof kvm === 'string') return kvm;
  kvm.close();
  return null;
}

function createKvmVm(spec: VmSpec, hint = ''): Vm {
  const kvm = KvmSystem.open();
  if (typeof kvm === 'string') throw new Error(`strategy hw is unavailable: ${kvm}${hint}`);
  try {
    return new HwVm(kvm, spec);
  } catch (err) {
    kvm.close();
    throw err;
  }
}

const VMX_HINT = '; --vmm hw:vmx runs the same technique on VT-x emulated by x86-core';

/** A KVM that opens but refuses 32-bit paging (kvm_pvm) still runs real-mode, flat and long-mode guests. */
function kvmLimitations(): string | null {
  if (kvmUnavailableReason() !== null) return null;
  const reason = kvmPagingUnsupportedReason();
  return reason === null ? null : `${reason}: a 32-bit guest that enables paging takes #GP${VMX_HINT}`;
}
const KVM_DESCRIPTION = 'hardware-assisted virtualization: the guest runs in VMX non-root mode through Linux KVM (/dev/kvm)';

/** `hw`: KVM. Where /dev/kvm cannot be opened it says so and names the emulated backend. */
export const hwStrategy: VmmStrategy = {
  name: 'hw',
  description: KVM_DESCRIPTION,
  unavailableReason: () => {
    const reason = kvmUnavailableReason();
    return reason === null ? null : `${reason}${VMX_HINT}`;
  },
  limitations: kvmLimitations,
  createVm: (spec: VmSpec): Vm => createKvmVm(spec, VMX_HINT),
};

/** `hw:kvm`: KVM, by its backend's name. */
export const kvmStrategy: VmmStrategy = {
  name: 'hw:kvm',
  description: KVM_DESCRIPTION,
  unavailableReason: kvmUnavailableReason,
  limitations: kvmLimitations,
  createVm: (spec: VmSpec): Vm => createKvmVm(spec),
};

/** `hw:vmx` with options. */
export function createVmxStrategy(options: VmxBackendOptions = {}): VmmStrategy {
  return {
    name: 'hw:vmx',
    description: 'hardware-assisted virtualization on VT-x emulated by x86-core and mmu (VMCS, EPT, VM exits) with a KVM-like VMM in TypeScript',
    unavailableReason: () => null,
    createVm: (spec: VmSpec): Vm => new VmxVm(spec, options),
  };
}

/** `hw:vmx`: runs everywhere. */
export const vmxStrategy: VmmStrategy = createVmxStrategy();
