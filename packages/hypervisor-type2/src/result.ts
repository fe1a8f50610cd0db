/** How a hosted VM's run ended. */
export type VmEnd =
  /** The guest powered the machine off (ACPI-style power-off, no exit code). */
  | { readonly reason: 'power-off' }
  /** The guest wrote a code to the exit port. */
  | { readonly reason: 'exit-code'; readonly code: number }
  | { readonly reason: 'triple-fault'; readonly detail: string }
  | { readonly reason: 'reset' }
  /** A para-virtual guest's watchdog timer expired (Xen's SHUTDOWN_watchdog): it stopped feeding it. */
  | { readonly reason: 'watchdog' }
  /** HLT with interrupts disabled: nothing can ever wake the CPU again. */
  | { readonly reason: 'dead'; readonly detail: string }
  /** The guest waits for input that can no longer arrive and has no timer left. */
  | { readonly reason: 'idle'; readonly detail: string }
  /** The host stopped it (stop(), a signal, the console's quit key). */
  | { readonly reason: 'stopped'; readonly detail: string }
  | { readonly reason: 'time-limit'; readonly seconds: number }
  /** The strategy could not go on (emulation failure, invalid state, unhandled exit). */
  | { readonly reason: 'error'; readonly detail: string };

/** Process exit status for a run: 0 only for a clean power-off or a zero exit-port code. */
export function exitStatusOf(end: VmEnd): number {
  switch (end.reason) {
    case 'power-off':
      return 0;
    case 'exit-code':
      return end.code === 0 ? 0 : (end.code & 0xff) || 1;
    case 'time-limit':
      return 124;
    default:
      return 1;
  }
}

/** One line describing the end of a run, for people. */
export function describeEnd(end: VmEnd): string {
  switch (end.reason) {
    case 'power-off':
      return 'guest powered off';
    case 'exit-code':
      return `guest exited with code ${end.code}`;
    case 'triple-fault':
      return `triple fault: ${end.detail}`;
    case 'reset':
      return 'guest requested a reset';
    case 'watchdog':
      return "the guest's watchdog timer expired (SHUTDOWN_watchdog)";
    case 'dead':
      return `dead machine: ${end.detail}`;
    case 'idle':
      return `guest idle: ${end.detail}`;
    case 'stopped':
      return `stopped: ${end.detail}`;
    case 'time-limit':
      return `time limit of ${end.seconds} s reached`;
    case 'error':
      return `error: ${end.detail}`;
  }
}
