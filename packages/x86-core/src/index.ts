// @ringvisor/x86-core: an i686-class x86 interpreter with an intercept set for VMMs, and strategy `none`.
export { Cpu, type CpuOptions, ES, CS, SS, DS, FS, GS, LDTR, TR } from './cpu.js';
export type { CpuModel } from './model.js';
export { CpuFault, throwFault } from './fault.js';
/** MOV to a segment register in 64-bit mode with its checks (throws the CpuFault the CPU would raise). */
export { loadSegment64 } from './long/segments.js';
export { InterceptSet, StopDetail, type StopReason } from './intercepts.js';
export type { CpuMemory, InlineHighTlb, PagingUnit, PagingCpu } from './memory.js';
export { MmuPaging, MMU_PAGING_FEATURES } from './mmu-paging.js';
export { OPCODES, OPCODE_GROUPS, PREFIXES, lookup, type OpcodeEntry } from './opcode-table.js';
export { decodeLength, isImplemented, hasModrm, MAX_INSTRUCTION_LENGTH } from './decode.js';
export { CPUID_VENDOR, CPUID_SIGNATURE, CORE_FEATURES } from './cpuid.js';
export { IA32_BIOS_SIGN_ID, IA32_TIME_STAMP_COUNTER } from './msr.js';
export { IA32_SYSENTER_CS, IA32_SYSENTER_EIP, IA32_SYSENTER_ESP } from './sysenter.js';
export { noneStrategy, noneX86_64Strategy, createNoneStrategy, type NoneStrategyOptions } from './strategy/none.js';
export {
  cpuRegisters, setCpuRegisters, cpuSpecialRegisters, setCpuSpecialRegisters, cpuFpuImage, setCpuFpuImage, FXSAVE_IMAGE_BYTES,
} from './strategy/vcpu-state.js';
export {
  Sst286Runner, undefinedFlags, type Sst286RunnerOptions, type SstCase, type SstRegisters, type SstResult,
  type SstVerdict,
} from './conformance/sst286.js';
export {
  SST286_DIFFERENCES, differenceFor, differencesOn, type Sst286Difference,
} from './conformance/sst286-differences.js';
export * from './vmx/index.js';
export { cpuid } from './cpuid.js';
export type { InterruptKind } from './system/interrupt.js';
