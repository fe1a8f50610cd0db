// @ringvisor/hypervisor-type1: the bare-metal hypervisor. It owns an emulated platform (pCPU worker
// threads, one RAM pool, the devices), partitions it into domains and schedules their vCPUs.
export {
  DOMAIN_STRATEGIES, DOMAIN_ENDS, LIFECYCLE_ACTIONS, type DomainStrategy, type DomainBoot, type DomainDisk, type DomainConfig,
  type DomainEnd, type LifecycleAction, type LifecycleActions, type SchedulerConfig, type PlatformConfig,
} from './platform/schema.js';
export { parsePlatform, parseDomain, PlatformError, DEFAULT_WEIGHT, DEFAULT_ACTIONS } from './platform/validate.js';
export { RESTART_QUICK_MS, RESTART_FIRST_DELAY_MS, RESTART_MAX_DELAY_MS, restartPlan } from './lifecycle.js';
export { FramePool, PoolExhaustedError, FRAME_SIZE, type Extent } from './memory/frame-pool.js';
export { P2m, DomainMemory } from './memory/p2m.js';
export {
  Credit2Scheduler, type Credit2Options, type VcpuParams, type VcpuRunState, type Pick, type Tickle,
} from './sched/credit2.js';
export { Type1Hypervisor, type Type1Options, type DomainInfo, type HostInfo, type VcpuInfo } from './hypervisor.js';
export { Domain, type DomainState, type EndOutcome } from './domain.js';
export { COMPUTE_COUNTER_ADDRESS, COMPUTE_LOAD_ADDRESS, readComputeGuest } from './boot.js';
export { ControlServer } from './control/server.js';
export {
  parseCpuList, type ControlRequest, type ControlResponse, type ControlResult, type SchedRow, type ShutdownVia, type ShutdownResult,
} from './control/protocol.js';
