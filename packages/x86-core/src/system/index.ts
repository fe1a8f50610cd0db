// The system-architecture entry points core's instruction handlers and run loop call (CONTRACT.md).
export { deliverException, deliverInterrupt, type InterruptKind } from './interrupt.js';
export { loadSegment } from './segment-load.js';
export { farCall, farJump, farReturn } from './far-transfer.js';
export { interruptReturn } from './iret.js';
export { checkIopl, checkIoPermission, setInterruptFlag } from './io-permission.js';
export { eflagsForPush, popEflags } from './eflags.js';
export {
  clearTaskSwitched, loadMachineStatusWord, readControlRegister, readDebugRegister, storeMachineStatusWord,
  writeControlRegister, writeDebugRegister,
} from './control-registers.js';
export { loadGdtr, loadIdtr, loadLdtr, loadTr, storeLdtr, storeTr } from './descriptor-tables.js';
export {
  adjustRpl, setArplFlag, loadAccessRights, requireProtectedMode, loadSegmentLimit, verifyRead, verifyWrite, type DescriptorReader,
} from './descriptor-query.js';
export { TripleFault } from './triple-fault.js';
export type { SystemCpu } from './cpu-view.js';
