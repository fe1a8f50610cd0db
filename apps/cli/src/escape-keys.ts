/** Ctrl-A, the escape key of QEMU's -nographic console. */
export const ESCAPE = 0x01;

export interface EscapeActions {
  /** Bytes that go to the guest. */
  send(bytes: Uint8Array): void;
  quit(): void;
  stats(): void;
  help(): void;
  togglePause(): void;
  /** Presses the guest's ACPI power button (a Xen PV guest's: xenstore control/shutdown). */
  powerButton(): void;
}

export const ESCAPE_HELP = [
  'Ctrl-A x    quit (stops the VM)',
  'Ctrl-A s    print exit statistics',
  'Ctrl-A p    pause / resume the VM',
  'Ctrl-A o    press the ACPI power button (an ACPI OS that handles it powers off; a Xen PV',
  '            kernel is asked through xenstore control/shutdown, as xl shutdown asks it)',
  'Ctrl-A h    this help',
  'Ctrl-A a    send Ctrl-A to the guest',
];

/**
 * Splits console input into guest bytes and escape commands: Ctrl-A followed by a command letter.
 * The state survives across chunks, so a pipe may deliver Ctrl-A and its letter separately.
 */
export class EscapeKeys {
  private afterEscape = false;

  constructor(private readonly actions: EscapeActions) {}

  feed(chunk: Uint8Array): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.afterEscape) {
        this.afterEscape = false;
        start = i + 1;
        this.command(byte);
      } else if (byte === ESCAPE) {
        if (i > start) this.actions.send(chunk.subarray(start, i));
        this.afterEscape = true;
        start = i + 1;
      }
    }
    if (!this.afterEscape && start < chunk.length) this.actions.send(chunk.subarray(start));
  }

  private command(key: number): void {
    switch (String.fromCharCode(key).toLowerCase()) {
      case 'x':
        this.actions.quit();
        return;
      case 's':
        this.actions.stats();
        return;
      case 'p':
        this.actions.togglePause();
        return;
      case 'o':
        this.actions.powerButton();
        return;
      case 'a':
        this.actions.send(Uint8Array.of(ESCAPE));
        return;
      case '\x01':
        this.actions.send(Uint8Array.of(ESCAPE));
        return;
      default:
        this.actions.help();
    }
  }
}
