// Intel 8042 keyboard controller (IBM PS/2 Hardware Interface Technical Reference) with a PS/2
// keyboard behind it and no mouse: enough for firmware and Linux's i8042/atkbd drivers to probe,
// to reset the machine (pulse 0xFE, output port bit 0) and to gate A20 (output port bit 1).
import type { AccessSize, IrqLine } from '@ringvisor/vmm-api';
import type { BusRange } from '../bus/access.js';
import {
  CMD_AUX_DISABLE, CMD_AUX_ENABLE, CMD_AUX_TEST, CMD_DISABLE_A20, CMD_ENABLE_A20, CMD_KBD_DISABLE,
  CMD_KBD_ENABLE, CMD_KBD_TEST, CMD_PULSE_BASE, CMD_READ_INPUT, CMD_READ_OUTPUT, CMD_READ_RAM,
  CMD_SELF_TEST, CMD_WRITE_AUX, CMD_WRITE_AUX_OUTPUT, CMD_WRITE_KBD_OUTPUT, CMD_WRITE_OUTPUT,
  CMD_WRITE_RAM, COMMAND_PORT, CTR_AUXDIS, CTR_AUXINT, CTR_KBDDIS, CTR_KBDINT, CTR_SYS, CTR_XLATE,
  DATA_PORT, INPUT_UNLOCKED, INTERFACE_TEST_OK, KBD_ACK, KBD_BAT_OK, KBD_DISABLE, KBD_ECHO,
  KBD_ENABLE, KBD_GET_ID, KBD_NAK, KBD_RESEND, KBD_RESET, KBD_SCANCODE_SET, KBD_SET_DEFAULTS,
  KBD_SET_LEDS, KBD_SET_TYPEMATIC, OUTPUT_A20, OUTPUT_AUX_IRQ, OUTPUT_KBD_IRQ, OUTPUT_RESET,
  SELF_TEST_OK, STATUS_A2, STATUS_AUXDATA, STATUS_OBF, STATUS_SYS, STATUS_TIMEOUT, STATUS_UNLOCKED,
} from './registers.js';

export interface I8042Options {
  /** IRQ 1. */
  readonly keyboardIrq: IrqLine;
  /** IRQ 12. */
  readonly auxIrq: IrqLine;
  /** The guest pulsed the CPU reset line. */
  readonly onReset: () => void;
  /** The output port's A20 gate changed (the VMM ORs it with port 0x92's). */
  readonly onA20?: (enabled: boolean) => void;
}

/** Output-queue entry flags above the data byte. */
const FROM_AUX = 0x100;
const WITH_TIMEOUT = 0x200;
/** Bytes the keyboard and controller can have queued for the output buffer (a PS/2 keyboard buffers 16). */
const QUEUE_SIZE = 16;

export class I8042 {
  /** An 8-bit ISA device: the bus splits wider accesses into bytes. */
  readonly byteWide = true;
  readonly ports: readonly BusRange[] = [
    { base: DATA_PORT, length: 1 },
    { base: COMMAND_PORT, length: 1 },
  ];
  /** Reset pulses the guest requested. */
  resets = 0;

  private readonly options: I8042Options;
  private readonly ram = new Uint8Array(32);
  private outputPort = OUTPUT_RESET | OUTPUT_A20;
  /** The output buffer: data byte plus FROM_AUX / WITH_TIMEOUT, valid while `full`. */
  private out = 0;
  private full = false;
  private lastWasCommand = false;
  private readonly queue = new Uint16Array(QUEUE_SIZE);
  private queueHead = 0;
  private queueCount = 0;
  /** A controller command waiting for its data byte on port 0x60, or 0. */
  private pendingCommand = 0;
  /** A keyboard command waiting for its parameter byte, or 0. */
  private pendingKeyboard = 0;
  private scanning = true;
  private scancodeSet = 2;
  private kbdIrqLevel = false;
  private auxIrqLevel = false;

  constructor(options: I8042Options) {
    this.options = options;
    this.ram[0] = CTR_KBDINT | CTR_SYS | CTR_XLATE;
  }

  /** The A20 gate as the output port drives it. */
  get a20(): boolean {
    return (this.outputPort & OUTPUT_A20) !== 0;
  }

  /**
   * Scan codes from the host keyboard, as the guest should receive them (set 1 while the command
   * byte's XLATE bit is set, as Linux leaves it). Returns how many were queued: none while the guest
   * has scanning disabled, fewer once the keyboard's buffer is full.
   */
  keyboardInput(bytes: Uint8Array): number {
    if (!this.scanning || this.ram[0] & CTR_KBDDIS) return 0;
    let n = 0;
    while (n < bytes.length && this.queueCount < QUEUE_SIZE) this.enqueue(bytes[n++]);
    this.update();
    return n;
  }

  ioRead(port: number, _size: AccessSize): number {
    if (port === COMMAND_PORT) return this.status();
    // With nothing new, the data port returns the previous byte again, as the chip does.
    const value = this.out & 0xff;
    if (this.full) {
      this.full = false;
      // Drop the IRQ line before the next byte loads, so the edge-triggered PIC sees it again.
      this.driveIrqs();
      this.update();
    }
    return value;
  }

  ioWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (port === COMMAND_PORT) {
      this.lastWasCommand = true;
      this.pendingCommand = 0;
      this.command(value);
    } else {
      this.lastWasCommand = false;
      const command = this.pendingCommand;
      this.pendingCommand = 0;
      if (command !== 0) this.commandData(command, value);
      else this.keyboardCommand(value);
    }
    this.update();
  }

  private status(): number {
    return (
      (this.full ? STATUS_OBF : 0) |
      (this.ram[0] & CTR_SYS ? STATUS_SYS : 0) |
      (this.lastWasCommand ? STATUS_A2 : 0) |
      STATUS_UNLOCKED |
      (this.full && this.out & FROM_AUX ? STATUS_AUXDATA : 0) |
      (this.full && this.out & WITH_TIMEOUT ? STATUS_TIMEOUT : 0)
    );
  }

  private command(value: number): void {
    if (value >= CMD_READ_RAM && value < CMD_READ_RAM + 0x20) {
      this.reply(this.ram[value - CMD_READ_RAM]);
      return;
    }
    if (value >= CMD_WRITE_RAM && value < CMD_WRITE_RAM + 0x20) {
      this.pendingCommand = value;
      return;
    }
    if (value >= CMD_PULSE_BASE) {
      if ((value & OUTPUT_RESET) === 0) this.reset();
      return;
    }
    switch (value) {
      case CMD_AUX_DISABLE:
        this.ram[0] |= CTR_AUXDIS;
        return;
      case CMD_AUX_ENABLE:
        this.ram[0] &= ~CTR_AUXDIS;
        return;
      case CMD_AUX_TEST:
      case CMD_KBD_TEST:
        this.reply(INTERFACE_TEST_OK);
        return;
      case CMD_SELF_TEST:
        this.reply(SELF_TEST_OK);
        return;
      case CMD_KBD_DISABLE:
        this.ram[0] |= CTR_KBDDIS;
        return;
      case CMD_KBD_ENABLE:
        this.ram[0] &= ~CTR_KBDDIS;
        return;
      case CMD_READ_INPUT:
        this.reply(INPUT_UNLOCKED);
        return;
      case CMD_READ_OUTPUT:
        this.reply(
          (this.outputPort & (OUTPUT_RESET | OUTPUT_A20)) |
            (this.kbdIrqLevel ? OUTPUT_KBD_IRQ : 0) |
            (this.auxIrqLevel ? OUTPUT_AUX_IRQ : 0),
        );
        return;
      case CMD_WRITE_OUTPUT:
      case CMD_WRITE_KBD_OUTPUT:
      case CMD_WRITE_AUX_OUTPUT:
      case CMD_WRITE_AUX:
        this.pendingCommand = value;
        return;
      case CMD_DISABLE_A20:
        this.setOutputPort(this.outputPort & ~OUTPUT_A20);
        return;
      case CMD_ENABLE_A20:
        this.setOutputPort(this.outputPort | OUTPUT_A20);
        return;
      default:
        // Unknown commands are ignored, as the 8042 firmware does.
        return;
    }
  }

  private commandData(command: number, value: number): void {
    switch (command) {
      case CMD_WRITE_OUTPUT:
        this.setOutputPort(value);
        return;
      case CMD_WRITE_KBD_OUTPUT:
        this.enqueue(value);
        return;
      case CMD_WRITE_AUX_OUTPUT:
        this.enqueue(value | FROM_AUX);
        return;
      case CMD_WRITE_AUX:
        // No mouse is attached: the transmission times out and the controller reports 0xFE.
        this.enqueue(KBD_NAK | FROM_AUX | WITH_TIMEOUT);
        return;
      default:
        this.ram[command - CMD_WRITE_RAM] = value;
    }
  }

  private keyboardCommand(value: number): void {
    // Sending to the keyboard re-enables its interface, as on real controllers.
    this.ram[0] &= ~CTR_KBDDIS;
    const pending = this.pendingKeyboard;
    this.pendingKeyboard = 0;
    if (pending === KBD_SET_LEDS || pending === KBD_SET_TYPEMATIC) {
      this.enqueue(KBD_ACK);
      return;
    }
    if (pending === KBD_SCANCODE_SET) {
      this.enqueue(KBD_ACK);
      if (value === 0) this.enqueue(this.translated(this.scancodeSet));
      else if (value <= 3) this.scancodeSet = value;
      return;
    }
    switch (value) {
      case KBD_SET_LEDS:
      case KBD_SET_TYPEMATIC:
      case KBD_SCANCODE_SET:
        this.pendingKeyboard = value;
        this.enqueue(KBD_ACK);
        return;
      case KBD_ECHO:
        this.enqueue(KBD_ECHO);
        return;
      case KBD_GET_ID:
        this.enqueue(KBD_ACK);
        this.enqueue(0xab);
        this.enqueue(this.ram[0] & CTR_XLATE ? 0x41 : 0x83);
        return;
      case KBD_ENABLE:
        this.scanning = true;
        this.enqueue(KBD_ACK);
        return;
      case KBD_DISABLE:
        this.scanning = false;
        this.enqueue(KBD_ACK);
        return;
      case KBD_SET_DEFAULTS:
        this.scancodeSet = 2;
        this.enqueue(KBD_ACK);
        return;
      case KBD_RESEND:
        this.enqueue(this.out & 0xff);
        return;
      case KBD_RESET:
        // Reset clears the keyboard's buffer, then reports the basic assurance test.
        this.queueCount = 0;
        this.scanning = true;
        this.scancodeSet = 2;
        this.enqueue(KBD_ACK);
        this.enqueue(KBD_BAT_OK);
        return;
      default:
        this.enqueue(KBD_NAK);
    }
  }

  /** Scan code set numbers as the guest sees them through translation (QEMU and real 8042s agree). */
  private translated(set: number): number {
    if (!(this.ram[0] & CTR_XLATE)) return set;
    return set === 1 ? 0x43 : set === 2 ? 0x41 : 0x3f;
  }

  /** A controller reply replaces whatever the output buffer held (drivers flush before commanding). */
  private reply(value: number): void {
    this.out = value;
    this.full = true;
  }

  private enqueue(entry: number): void {
    // A full buffer drops the newest byte: the keyboard would report an overrun the same way.
    if (this.queueCount === QUEUE_SIZE) return;
    this.queue[(this.queueHead + this.queueCount) % QUEUE_SIZE] = entry;
    this.queueCount++;
  }

  private setOutputPort(value: number): void {
    const wasA20 = this.a20;
    this.outputPort = value & (OUTPUT_RESET | OUTPUT_A20);
    if (this.a20 !== wasA20) this.options.onA20?.(this.a20);
    if ((value & OUTPUT_RESET) === 0) {
      // The reset line is held low; the CPU restarts and the controller lets it go high again.
      this.outputPort |= OUTPUT_RESET;
      this.reset();
    }
  }

  private reset(): void {
    this.resets++;
    this.options.onReset();
  }

  /** Loads the next queued byte into an empty output buffer and drives IRQ 1 / IRQ 12. */
  private update(): void {
    if (!this.full && this.queueCount > 0) {
      this.out = this.queue[this.queueHead];
      this.queueHead = (this.queueHead + 1) % QUEUE_SIZE;
      this.queueCount--;
      this.full = true;
    }
    this.driveIrqs();
  }

  private driveIrqs(): void {
    const aux = (this.out & FROM_AUX) !== 0;
    const kbdLevel = this.full && !aux && (this.ram[0] & CTR_KBDINT) !== 0;
    const auxLevel = this.full && aux && (this.ram[0] & CTR_AUXINT) !== 0;
    if (kbdLevel !== this.kbdIrqLevel) {
      this.kbdIrqLevel = kbdLevel;
      this.options.keyboardIrq.set(kbdLevel);
    }
    if (auxLevel !== this.auxIrqLevel) {
      this.auxIrqLevel = auxLevel;
      this.options.auxIrq.set(auxLevel);
    }
  }
}
