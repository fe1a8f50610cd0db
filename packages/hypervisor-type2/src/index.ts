// @ringvisor/hypervisor-type2: the hosted hypervisor. One VM per worker thread, the run loop on the
// vmm-api exit interface, host-backed serial and disk, control and statistics from the caller.
export { HostedVm, type HostedVmOptions, type RunReport } from './hosted-vm.js';
export type { MachineConfig, BootImage } from './machine-config.js';
export { hasXenNotes } from './xen-pv-image.js';
export type { SerialOption } from './serial-backends.js';
export {
  findStrategy, loadStrategy, UnknownStrategyError, type StrategyEntry, type StrategyRegistry,
} from './strategy-registry.js';
export { exitStatusOf, describeEnd, type VmEnd } from './result.js';
export { formatStats, mipsOf, type StatsSnapshot } from './stats.js';
export { RunLoop, type LoopClock, type RunLoopParts, type RunLoopOptions, type StepOutcome } from './run-loop.js';
export { virtualLoopClock, hostLoopClock, type HostedLoopClock } from './loop-clocks.js';
export type { RamRegion } from './protocol.js';
