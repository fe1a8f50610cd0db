// @ringvisor/vmm-full: strategy `full`, software full virtualization (binary translation, ring
// compression, trap-and-emulate, shadow descriptor tables and shadow paging) on x86-core's i686.
export { fullStrategy } from './strategy.js';
export { FullVm } from './full-vm.js';
export { FullVcpu } from './full-vcpu.js';
export { FullCounters } from './full-stats.js';
export { CALLOUT_NAMES, TcCounters } from './translation-cache.js';
export { VMM_LINEAR } from './layout.js';
