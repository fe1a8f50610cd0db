// @ringvisor/vmm-hw: hardware-assisted virtualization on Linux KVM, behind the vmm-api interface.
export { hwStrategy } from './strategy.js';
export { HwVm } from './vm.js';
export { KvmError } from './kvm/system.js';
export { NS_PER_BUDGET_UNIT, KvmModeError } from './vcpu.js';
