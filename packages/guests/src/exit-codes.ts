/**
 * How the guests end: they write one byte to port 0xf4 (QEMU's isa-debug-exit at the address
 * kvm-unit-tests uses). 0 means success, anything else is a guest-specific failure code; under
 * QEMU the process status becomes (code << 1) | 1, so a passing guest exits QEMU with status 1.
 */
export const EXIT_PORT = 0xf4;
export const EXIT_SUCCESS = 0;
/** Failure codes the bundled guests use. */
export const EXIT_CODES = {
  failure: 1,
  /** irq-test: the tick count across one RTC second was outside 100 ± 10. */
  tickCountOutOfRange: 2,
  /** An unhandled CPU exception (message with vector and EIP on COM1). */
  unhandledException: 3,
  /** irq-test: the RTC seconds never changed. */
  rtcStopped: 4,
} as const;
