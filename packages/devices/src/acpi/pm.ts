// ACPI power management registers of the board (ACPI 6.5, 4.8.3 "PM1 Event Grouping", 4.8.3.2
// "PM1 Control Registers", 4.8.3.3 "Power Management Timer"): PM1a status/enable, PM1a control and
// the 3.579545 MHz PM timer in one byte-wide I/O block (PIIX4 layout). Writing SLP_EN with the
// soft-off sleep type (the DSDT's \_S5) powers the machine off; TMR_STS raises the SCI when enabled,
// and so does PWRBTN_STS, the fixed-feature power button the VMM presses (the spec's fixed power button: the SCI is
// raised while PWRBTN_STS and PWRBTN_EN are both set; the OS clears the status by writing it 1).
import type { AccessSize, Clock, IrqLine, TimerId } from '@ringvisor/vmm-api';
import type { BusRange } from '../bus/access.js';
import {
  PM_BLOCK_LENGTH, PM_TIMER_BITS, PM_TIMER_HZ, PM_TIMER_OFFSET, PM_TIMER_STATUS_PERIOD, PM1_CONTROL_OFFSET,
  PM1_CONTROL_STORED, PM1_ENABLE_OFFSET, PM1_ENABLE_WRITABLE, PM1_SCI_EN, PM1_SLP_EN, PM1_SLP_TYP_MASK,
  PM1_PWRBTN_STS, PM1_SLP_TYP_SHIFT, PM1_STATUS_OFFSET, PM1_TMR_EN, PM1_TMR_STS,
} from './registers.js';

const TICKS_PER_NS = PM_TIMER_HZ / 1e9;
const TIMER_MASK = 2 ** PM_TIMER_BITS;

export interface AcpiPmOptions {
  readonly clock: Clock;
  /** The SCI line (an ISA IRQ in PIC mode; the FADT's SCI_INT). */
  readonly sci: IrqLine;
  /** First port of the block (PM1_STS); the FADT points at base + the offsets in registers.ts. */
  readonly base: number;
  /** SLP_TYPx value of soft-off, as the DSDT's \_S5 package announces it (0-7). */
  readonly softOffSleepType: number;
  /** The guest wrote SLP_EN with the soft-off type: the VMM ends the machine. */
  readonly onPowerOff: () => void;
}

export class AcpiPm {
  readonly ports: readonly BusRange[];
  /** Sleep requests with a type the DSDT never offered, ignored (a guest probing or misbehaving). */
  ignoredSleepRequests = 0;

  private readonly clock: Clock;
  private readonly sci: IrqLine;
  private readonly base: number;
  private readonly softOffSleepType: number;
  private readonly onPowerOff: () => void;
  private enable = 0;
  private control = PM1_SCI_EN;
  /** PM1_STS bits latched by events (PWRBTN_STS); TMR_STS is derived from the clock instead. */
  private latched = 0;
  /** Bit-23 toggle count of the timer when the guest last cleared TMR_STS. */
  private timerStatusEpoch: number;
  private sciLevel = false;
  private timer: TimerId | undefined;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.update();
  };

  constructor(options: AcpiPmOptions) {
    const type = options.softOffSleepType;
    if (!Number.isInteger(type) || type < 0 || type > 7) throw new RangeError(`sleep type ${type} is not 0-7`);
    this.clock = options.clock;
    this.sci = options.sci;
    this.base = options.base;
    this.softOffSleepType = type;
    this.onPowerOff = options.onPowerOff;
    this.ports = [{ base: options.base, length: PM_BLOCK_LENGTH }];
    this.timerStatusEpoch = this.timerToggles();
  }

  /** PM_TMR: 24-bit count of 3.579545 MHz ticks since the machine started. */
  get timerValue(): number {
    return this.timerTicks() % TIMER_MASK;
  }

  /** PM1_STS as the guest reads it. */
  get status(): number {
    return this.statusAt(this.timerTicks());
  }

  private statusAt(ticks: number): number {
    return (Math.floor(ticks / PM_TIMER_STATUS_PERIOD) !== this.timerStatusEpoch ? PM1_TMR_STS : 0) | this.latched;
  }

  /**
   * The power button was pressed (and released): PWRBTN_STS is set until the OS writes it 1, and
   * raises the SCI while PWRBTN_EN is set. An OS that never enables it, or never answers, keeps
   * running: what it does about the button (power off, ignore) is its own choice.
   */
  pressPowerButton(): void {
    this.latched |= PM1_PWRBTN_STS;
    this.update();
  }

  /**
   * Any width and alignment means the same as its bytes in turn, but all bytes of one access come
   * from one clock reading: a 32-bit read of PM_TMR must not mix bytes of two instants (under a host
   * clock time moves between calls). Bytes past the block read as an undriven bus.
   */
  ioRead(port: number, size: AccessSize): number {
    const offset = port - this.base;
    const ticks = this.timerTicks();
    const timer = ticks % TIMER_MASK;
    const status = this.statusAt(ticks);
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = (value << 8) | this.readByte(offset + i, status, timer);
    return value >>> 0;
  }

  ioWrite(port: number, size: AccessSize, value: number): void {
    const offset = port - this.base;
    for (let i = 0; i < size; i++) this.writeByte(offset + i, value >>> (8 * i));
  }

  private readByte(offset: number, status: number, timer: number): number {
    const byte = offset & 1;
    switch (offset & ~1) {
      case PM1_STATUS_OFFSET: return (status >> (8 * byte)) & 0xff;
      case PM1_ENABLE_OFFSET: return (this.enable >> (8 * byte)) & 0xff;
      case PM1_CONTROL_OFFSET: return (this.control >> (8 * byte)) & 0xff;
      case PM_TIMER_OFFSET:
      case PM_TIMER_OFFSET + 2:
        return Math.floor(timer / 2 ** (8 * (offset - PM_TIMER_OFFSET))) & 0xff;
      default: return offset < PM_BLOCK_LENGTH ? 0 : 0xff; // reserved bytes of the block; past it, nothing
    }
  }

  private writeByte(offset: number, value: number): void {
    const shift = 8 * (offset & 1);
    const bits = (value & 0xff) << shift;
    const keep = ~(0xff << shift);
    switch (offset & ~1) {
      case PM1_STATUS_OFFSET:
        if (bits & PM1_TMR_STS) this.timerStatusEpoch = this.timerToggles();
        this.latched &= ~bits;
        break;
      case PM1_ENABLE_OFFSET:
        this.enable = ((this.enable & keep) | bits) & PM1_ENABLE_WRITABLE;
        break;
      case PM1_CONTROL_OFFSET:
        this.control = (((this.control & keep) | bits) & PM1_CONTROL_STORED) | PM1_SCI_EN;
        if (bits & PM1_SLP_EN) this.sleep((this.control & PM1_SLP_TYP_MASK) >> PM1_SLP_TYP_SHIFT);
        break;
      default:
        return; // the timer is read-only; reserved bytes and bytes past the block ignore writes
    }
    this.update();
  }

  private sleep(type: number): void {
    if (type === this.softOffSleepType) this.onPowerOff();
    else this.ignoredSleepRequests++;
  }

  private timerTicks(): number {
    return Math.floor(this.clock.now() * TICKS_PER_NS);
  }

  private timerToggles(): number {
    return Math.floor(this.timerTicks() / PM_TIMER_STATUS_PERIOD);
  }

  /** Drives the SCI from status & enable, and arms a wake-up for the next TMR_STS while it matters. */
  private update(): void {
    const active = (this.status & this.enable) !== 0;
    if (active !== this.sciLevel) {
      this.sciLevel = active;
      this.sci.set(active);
    }
    const waiting = (this.enable & PM1_TMR_EN) !== 0 && !active;
    if (waiting && this.timer === undefined) {
      const nextToggle = (this.timerStatusEpoch + 1) * PM_TIMER_STATUS_PERIOD;
      // The first nanosecond whose tick count reaches the toggle (at least 1 ns ahead, so time moves).
      const deadline = Math.max(this.clock.now() + 1, Math.ceil(nextToggle / TICKS_PER_NS));
      this.timer = this.clock.schedule(deadline, this.onTimer);
    } else if (!waiting && this.timer !== undefined) {
      this.clock.cancel(this.timer);
      this.timer = undefined;
    }
  }
}
