// @ringvisor/vmm-hw: hardware-assisted virtualization behind the vmm-api interface, on Linux KVM
// (`hw`, `hw:kvm`) or on VT-x emulated by x86-core (`hw:vmx`).
export { hwStrategy, kvmStrategy, vmxStrategy, createVmxStrategy } from './strategy.js';
export { HwVm } from './vm.js';
export { KvmError } from './kvm/system.js';
export { kvmPagingUnsupportedReason } from './kvm/paging-probe.js';
export { NS_PER_BUDGET_UNIT, KvmModeError } from './vcpu.js';
export { VmxVm, type VmxBackendOptions } from './vmx/vmx-vm.js';
export { VmxVcpu } from './vmx/vmx-vcpu.js';
