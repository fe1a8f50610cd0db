// @ringvisor/devices: PC platform devices and virtio-mmio devices, independent of any CPU.
export { PortIoBus, type PortIoDevice } from './bus/port-io-bus.js';
export { MmioDispatchBus } from './bus/mmio-bus.js';
export type { BusRange } from './bus/access.js';
export { DualPic, type IrqWatcher } from './pic/pic.js';
export { Pit, type PitOptions } from './pit/pit.js';
export { PIT_HZ } from './pit/registers.js';
export { Uart16550, type Uart16550Options } from './serial/uart16550.js';
export { BufferSerialBackend, type SerialBackend, type SerialHostPort } from './serial/backend.js';
export { Rtc, type RtcOptions } from './rtc/rtc.js';
export { I8042, type I8042Options } from './i8042/i8042.js';
export { SystemControlPortA, type SystemControlPortAOptions } from './misc/system-control-port-a.js';
export { PostCodePort } from './misc/post-code-port.js';
export { DebugExitPort, type DebugExitPortOptions } from './misc/debug-exit-port.js';
export {
  ResetControlRegister, RESET_CONTROL_PORT, RC_HARD_RESET, type ResetControlRegisterOptions,
} from './misc/reset-control-register.js';
export { AcpiPm, type AcpiPmOptions } from './acpi/pm.js';
export {
  PM1_STATUS_OFFSET, PM1_ENABLE_OFFSET, PM1_EVENT_LENGTH, PM1_CONTROL_OFFSET, PM1_CONTROL_LENGTH, PM_TIMER_OFFSET,
  PM_TIMER_LENGTH, PM_TIMER_HZ, PM_TIMER_BITS, PM1_SLP_EN, PM1_SLP_TYP_SHIFT, PM1_PWRBTN_STS, PM1_PWRBTN_EN,
} from './acpi/registers.js';
export * from './virtio/index.js';
