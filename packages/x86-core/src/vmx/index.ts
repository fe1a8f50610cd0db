// VMX non-root operation (VT-x) on the emulated CPU: the VMCS, VM entry checks, VM exits, EPT.
export { Vmx, VmxStats, ENTER_LIMIT, ENTER_VMFAIL, PREEMPTION_TIMER_RATE, type VmxOptions } from './vmx.js';
export { Vmcs } from './vmcs.js';
export * from './fields.js';
