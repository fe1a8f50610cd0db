// @ringvisor/vmm-api: the types every strategy, device and hypervisor agree on. No code, only shape.
export type { AccessSize, PortIoHandler, MmioHandler, IoBus, MmioBus } from './bus.js';
export type { GuestMemory, MemoryRegionSpec } from './memory.js';
export type { IrqLine, InterruptController } from './irq.js';
export type { Clock, TimerId } from './clock.js';
export type { ExitStats } from './stats.js';
export type {
  ExitReason, VmExit, BudgetExit, HltExit, IrqWindowExit, HypercallExit, ShutdownExit,
  ExceptionExit, InternalErrorExit, FailEntryExit,
} from './exit.js';
export type {
  Registers, SpecialRegisters, SegmentState, TableState, Vcpu, VcpuState, PendingEvent, PausedSpan,
} from './vcpu.js';
export type { VmSpec, Vm, VmmStrategy } from './vm.js';
export type { PvBlockDevice, PvConsoleHost, PvDomainConfig, PvDomain, PvCapableVm, PvShutdownReason } from './pv.js';
