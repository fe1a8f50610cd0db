import { formatStats, type HostedVm } from '@ringvisor/hypervisor-type2';
import { ESCAPE_HELP, EscapeKeys } from './escape-keys.js';

export interface AttachedConsole {
  detach(): void;
}

/**
 * Connects the process's stdin to a VM: keys go to the guest's serial port (when it is on stdio)
 * and Ctrl-A commands control the VM. On a terminal with the serial on stdio the terminal is raw,
 * so Ctrl-C and friends reach the guest, as with QEMU's -nographic. Messages go to stderr.
 */
export function attachConsole(
  vm: HostedVm, options: { forwardInput: boolean; atLineStart: () => boolean; paraVirtual: boolean },
): AttachedConsole {
  const stdin = process.stdin;
  const raw = options.forwardInput && stdin.isTTY === true;
  const newline = raw ? '\r\n' : '\n';
  // Our lines start on a line of their own even when the guest left its prompt unterminated.
  const say = (lines: readonly string[]) => process.stderr.write(
    (options.atLineStart() ? '' : newline) + lines.map((line) => `[ringvisor] ${line}`).join(newline) + newline,
  );
  let paused = false;
  const keys = new EscapeKeys({
    send: (bytes) => { if (options.forwardInput) vm.sendSerial(bytes.slice()); },
    quit: () => vm.stop({ reason: 'stopped', detail: 'quit from the console (Ctrl-A x)' }),
    stats: () => { void vm.stats().then((snapshot) => say(formatStats(snapshot))); },
    help: () => say(ESCAPE_HELP),
    powerButton: () => {
      vm.pressPowerButton();
      // A Xen PV kernel has no ACPI: it is asked as xl shutdown asks it.
      say([options.paraVirtual ? 'xenstore control/shutdown = poweroff (a Xen PV guest\'s power button)' : 'ACPI power button pressed']);
    },
    togglePause: () => {
      paused = !paused;
      if (paused) vm.pause();
      else vm.resume();
      say([paused ? 'paused (Ctrl-A p resumes)' : 'resumed']);
    },
  });
  const onData = (chunk: Buffer) => keys.feed(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
  const onEnd = () => { if (options.forwardInput) vm.closeSerialInput(); };
  if (raw) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('end', onEnd);
  stdin.resume();
  return {
    detach() {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
    },
  };
}
