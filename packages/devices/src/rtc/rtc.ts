// The PC/AT CMOS clock: a Motorola MC146818A (datasheet MC146818A/D) at ports 0x70/0x71 on IRQ 8.
// Time is kept as "epoch second E began at clock time T": registers are computed from the Clock on
// read, and timers run only while an enabled interrupt can still change the IRQ line.
import type { AccessSize, Clock, IrqLine, TimerId } from '@ringvisor/vmm-api';
import type { BusRange } from '../bus/access.js';
import {
  A_DIVIDER_SHIFT, A_RATE, A_UIP, ABOVE_16M_HIGH, ABOVE_16M_LOW, ABOVE_4G_HIGH, ABOVE_4G_LOW,
  ABOVE_4G_MID, ALARM_DONT_CARE, B_24H, B_AIE, B_BINARY, B_PIE, B_SET, B_UIE, BASE_MEMORY_HIGH,
  BASE_MEMORY_LOW, C_AF, C_IRQF, C_PF, C_UF, CENTURY, CHECKSUM_HIGH, CHECKSUM_LOW, D_VRT,
  DAY_OF_MONTH, DAY_OF_WEEK, DIVIDER_NORMAL, EXTENDED_MEMORY_HIGH,
  EXTENDED_MEMORY_HIGH_COPY, EXTENDED_MEMORY_LOW, EXTENDED_MEMORY_LOW_COPY, HOURS, HOURS_ALARM,
  HOURS_PM, INDEX_NMI_DISABLE, INDEX_PORT, MINUTES, MINUTES_ALARM, MONTH, REG_A, REG_B, REG_C,
  REG_D, SECONDS, SECONDS_ALARM, UIP_LEAD_NS, UPDATE_CYCLE_NS, YEAR,
} from './registers.js';

const NS_PER_S = 1_000_000_000;
const KIB = 1024;
const MIB = 1024 * KIB;
/** One 32.768 kHz time-base cycle in ns (exact in binary floating point: 1953125 / 64). */
const TIME_BASE_NS = NS_PER_S / 32768;
/** Checking alarms over more than a day of missed seconds adds nothing: the pattern repeats daily. */
const ALARM_SCAN_LIMIT = 86_400;

// Indices of the time fields kept in binary.
const F_SECONDS = 0;
const F_MINUTES = 1;
const F_HOURS = 2;
const F_DAY_OF_WEEK = 3;
const F_DAY_OF_MONTH = 4;
const F_MONTH = 5;
const F_YEAR = 6;
const F_CENTURY = 7;
const FIELD_COUNT = 8;
const FIELD_OF_REGISTER: Record<number, number> = {
  [SECONDS]: F_SECONDS,
  [MINUTES]: F_MINUTES,
  [HOURS]: F_HOURS,
  [DAY_OF_WEEK]: F_DAY_OF_WEEK,
  [DAY_OF_MONTH]: F_DAY_OF_MONTH,
  [MONTH]: F_MONTH,
  [YEAR]: F_YEAR,
  [CENTURY]: F_CENTURY,
};

/** Each alarm register and the time register it is compared with at every update. */
const ALARM_REGISTERS: readonly (readonly [number, number])[] = [
  [SECONDS_ALARM, SECONDS],
  [MINUTES_ALARM, MINUTES],
  [HOURS_ALARM, HOURS],
];

function isTimeRegister(index: number): boolean {
  return FIELD_OF_REGISTER[index] !== undefined;
}

/** Fills `into` with the calendar fields of `second` (UTC); day of week 1 = Sunday. */
function brokenDown(second: number, into: Int32Array): Int32Array {
  const date = new Date(second * 1000);
  const year = date.getUTCFullYear();
  into[F_SECONDS] = date.getUTCSeconds();
  into[F_MINUTES] = date.getUTCMinutes();
  into[F_HOURS] = date.getUTCHours();
  into[F_DAY_OF_WEEK] = date.getUTCDay() + 1;
  into[F_DAY_OF_MONTH] = date.getUTCDate();
  into[F_MONTH] = date.getUTCMonth() + 1;
  into[F_YEAR] = year % 100;
  into[F_CENTURY] = Math.floor(year / 100);
  return into;
}

export interface RtcOptions {
  readonly clock: Clock;
  /** IRQ 8. */
  readonly irq: IrqLine;
  /** Wall time the RTC shows at construction, in ms since the Unix epoch (UTC). Default: host time. */
  readonly baseTime?: number | Date;
  /** Guest RAM below 4 GiB in bytes, for the memory-size bytes firmware reads. Default 0. */
  readonly memoryBelow4G?: number;
  /** Guest RAM above 4 GiB in bytes. Default 0. */
  readonly memoryAbove4G?: number;
}

export class Rtc {
  /** An 8-bit ISA device: the bus splits wider accesses into bytes. */
  readonly byteWide = true;
  readonly ports: readonly BusRange[] = [{ base: INDEX_PORT, length: 2 }];
  /** NMI mask bit as last written to the index port (the VMM decides what it gates). */
  nmiMasked = false;

  private readonly clock: Clock;
  private readonly irqLine: IrqLine;
  private readonly ram = new Uint8Array(128);
  private index = 0;
  private regA = 0x26;
  private regB = B_24H;
  /** PF/AF/UF accumulated up to `flagsAt`. */
  private flags = 0;
  private flagsAt: number;
  private irqLevel = false;

  /**
   * The time registers (decoded to binary) as they stood when the second beginning at
   * `secondStart` started. They hold what the guest wrote verbatim until the next update
   * normalises them through the calendar, so garbage stays defined and partial writes compose.
   */
  private readonly fields = new Int32Array(FIELD_COUNT);
  private readonly scratchFields = new Int32Array(FIELD_COUNT);
  private secondStart: number;
  private stopped = false;
  /** Origin of the periodic-interrupt grid (restarted when the divider leaves reset). */
  private periodicBase: number;
  private timer: TimerId | undefined;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.refresh();
  };

  constructor(options: RtcOptions) {
    this.clock = options.clock;
    this.irqLine = options.irq;
    const now = this.clock.now();
    const base = options.baseTime === undefined ? Date.now() : Number(options.baseTime);
    const second = Math.floor(base / 1000);
    this.setFieldsFrom(second);
    this.secondStart = now - (base - second * 1000) * 1e6;
    this.periodicBase = now;
    this.flagsAt = now;
    this.setMemorySize(options.memoryBelow4G ?? 0, options.memoryAbove4G ?? 0);
  }

  ioRead(port: number, _size: AccessSize): number {
    if (port === INDEX_PORT) return 0xff; // the index register is write-only
    return this.readRegister(this.index);
  }

  ioWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (port === INDEX_PORT) {
      this.index = value & 0x7f;
      this.nmiMasked = (value & INDEX_NMI_DISABLE) !== 0;
      return;
    }
    this.writeRegister(this.index, value);
  }

  /** A CMOS byte as the guest would read it (for a VMM's monitor and tests). */
  peek(index: number): number {
    return index === REG_C ? this.flagsNow() : this.readRegister(index & 0x7f);
  }

  private readRegister(index: number): number {
    const now = this.clock.now();
    if (isTimeRegister(index)) {
      this.catchUp(now);
      return this.encodeField(index, this.fields);
    }
    switch (index) {
      case REG_A:
        return this.regA | (this.updateImminent(now) ? A_UIP : 0);
      case REG_B:
        return this.regB;
      case REG_C: {
        const value = this.flagsNow();
        this.flags = 0;
        this.setIrq(false);
        this.reschedule();
        return value;
      }
      case REG_D:
        return D_VRT;
      default:
        return this.ram[index];
    }
  }

  private writeRegister(index: number, value: number): void {
    const now = this.clock.now();
    if (isTimeRegister(index)) {
      this.setTimeField(index, value, now);
      return;
    }
    switch (index) {
      case REG_A:
        this.writeRegA(value & 0x7f, now);
        return;
      case REG_B:
        this.writeRegB(value, now);
        return;
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        this.ram[index] = value;
        if (index === SECONDS_ALARM || index === MINUTES_ALARM || index === HOURS_ALARM) this.refresh();
    }
  }

  private writeRegA(value: number, now: number): void {
    this.accumulate(now);
    const wasRunning = this.dividerRunning();
    this.regA = value;
    const running = this.dividerRunning();
    if (wasRunning && !running) this.freeze(now);
    else if (!wasRunning && running) {
      // The first update comes 500 ms after the divider chain leaves reset.
      this.periodicBase = now;
      if (!(this.regB & B_SET)) this.thaw(now + NS_PER_S / 2 - NS_PER_S);
    }
    this.refresh();
  }

  private writeRegB(value: number, now: number): void {
    this.accumulate(now);
    if (value & B_SET) value &= ~B_UIE;
    const wasSet = (this.regB & B_SET) !== 0;
    this.regB = value;
    if (!wasSet && value & B_SET) this.freeze(now);
    else if (wasSet && !(value & B_SET) && this.dividerRunning()) this.thaw(this.lastBoundary(now));
    this.refresh();
  }

  // --- time ------------------------------------------------------------------------------------

  private dividerRunning(): boolean {
    return ((this.regA >> A_DIVIDER_SHIFT) & 7) === DIVIDER_NORMAL;
  }

  /** Start of the running second containing `now` on the current phase. */
  private lastBoundary(now: number): number {
    return this.secondStart + Math.floor((now - this.secondStart) / NS_PER_S) * NS_PER_S;
  }

  /** Applies the update cycles that happened since the fields were last brought up to date. */
  private catchUp(now: number): void {
    if (this.stopped) return;
    const elapsed = Math.floor((now - this.secondStart) / NS_PER_S);
    if (elapsed <= 0) return;
    this.setFieldsFrom(this.fieldsSecond() + elapsed);
    this.secondStart += elapsed * NS_PER_S;
  }

  private freeze(now: number): void {
    if (this.stopped) return;
    this.catchUp(now);
    this.stopped = true;
  }

  /** Resumes counting from the held time, as if its second began at `start`. */
  private thaw(start: number): void {
    this.secondStart = start;
    this.stopped = false;
  }

  /** UIP: 244 µs before a second boundary through the end of the update cycle that follows it. */
  private updateImminent(now: number): boolean {
    if (this.stopped) return false;
    const into = (((now - this.secondStart) % NS_PER_S) + NS_PER_S) % NS_PER_S;
    return into >= NS_PER_S - UIP_LEAD_NS || into < UPDATE_CYCLE_NS;
  }

  /** The fields as seconds since the epoch, out-of-range values carried through the calendar. */
  private fieldsSecond(): number {
    const f = this.fields;
    const stamp = new Date(0);
    stamp.setUTCFullYear(f[F_CENTURY] * 100 + f[F_YEAR], f[F_MONTH] - 1, f[F_DAY_OF_MONTH]);
    stamp.setUTCHours(f[F_HOURS], f[F_MINUTES], f[F_SECONDS], 0);
    return Math.floor(stamp.getTime() / 1000);
  }

  private setFieldsFrom(second: number): void {
    brokenDown(second, this.fields);
  }

  private encode(value: number): number {
    return this.regB & B_BINARY ? value : ((Math.floor(value / 10) % 10) << 4) | (value % 10);
  }

  private decode(value: number): number {
    return this.regB & B_BINARY ? value : (value >> 4) * 10 + (value & 0x0f);
  }

  /** A time register in the current format (BCD or binary, 12- or 24-hour). */
  private encodeField(index: number, fields: Int32Array): number {
    const value = fields[FIELD_OF_REGISTER[index]];
    if (index !== HOURS || this.regB & B_24H) return this.encode(value);
    const twelve = value % 12 === 0 ? 12 : value % 12;
    return this.encode(twelve) | (value >= 12 ? HOURS_PM : 0);
  }

  /** A guest write to a time register: held verbatim until the next update normalises it. */
  private setTimeField(index: number, value: number, now: number): void {
    this.accumulate(now);
    this.catchUp(now);
    let decoded: number;
    if (index === HOURS && !(this.regB & B_24H)) {
      decoded = (this.decode(value & ~HOURS_PM) % 12) + (value & HOURS_PM ? 12 : 0);
    } else {
      decoded = this.decode(value);
    }
    this.fields[FIELD_OF_REGISTER[index]] = decoded;
    this.refresh();
  }

  // --- interrupts ------------------------------------------------------------------------------

  private periodNs(): number {
    let rate = this.regA & A_RATE;
    if (rate === 0 || !this.dividerRunning()) return 0;
    if (rate < 3) rate += 7;
    return 2 ** (rate - 1) * TIME_BASE_NS;
  }

  /** Folds everything that happened in (flagsAt, now] into PF/UF/AF. */
  private accumulate(now: number): void {
    const since = this.flagsAt;
    if (now <= since) return;
    this.flagsAt = now;
    const period = this.periodNs();
    if (period > 0 && Math.floor((now - this.periodicBase) / period) > Math.floor((since - this.periodicBase) / period)) {
      this.flags |= C_PF;
    }
    if (this.stopped) return;
    const first = Math.floor((since - this.secondStart) / NS_PER_S);
    const last = Math.floor((now - this.secondStart) / NS_PER_S);
    if (last <= first) return;
    this.flags |= C_UF;
    if (this.flags & C_AF) return;
    const base = this.fieldsSecond();
    const from = Math.max(first + 1, last - ALARM_SCAN_LIMIT + 1);
    for (let k = last; k >= from; k--) {
      if (this.alarmMatches(base + k)) {
        this.flags |= C_AF;
        return;
      }
    }
  }

  private alarmMatches(second: number): boolean {
    const fields = brokenDown(second, this.scratchFields);
    for (const [alarm, field] of ALARM_REGISTERS) {
      const want = this.ram[alarm];
      if ((want & ALARM_DONT_CARE) === ALARM_DONT_CARE) continue;
      if (this.encodeField(field, fields) !== want) return false;
    }
    return true;
  }

  private flagsNow(): number {
    this.accumulate(this.clock.now());
    const enabled = this.flags & (this.regB & (B_PIE | B_AIE | B_UIE));
    return this.flags | (enabled !== 0 ? C_IRQF : 0);
  }

  /** Brings the flags and the IRQ line up to date, then arms the timer for the next change. */
  private refresh(): void {
    this.setIrq((this.flagsNow() & C_IRQF) !== 0);
    this.reschedule();
  }

  private setIrq(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irqLine.set(level);
  }

  /** One timer at most, and none while IRQ 8 is already asserted (nothing could change until reg C is read). */
  private reschedule(): void {
    if (this.timer !== undefined) {
      this.clock.cancel(this.timer);
      this.timer = undefined;
    }
    if (this.irqLevel) return;
    const now = this.clock.now();
    let deadline = Infinity;
    const period = this.periodNs();
    if (this.regB & B_PIE && period > 0) {
      deadline = this.periodicBase + Math.ceil((Math.floor((now - this.periodicBase) / period) + 1) * period);
    }
    if (this.regB & (B_UIE | B_AIE) && !this.stopped) {
      deadline = Math.min(deadline, this.lastBoundary(now) + NS_PER_S);
    }
    if (deadline !== Infinity) this.timer = this.clock.schedule(deadline, this.onTimer);
  }

  // --- CMOS memory map -------------------------------------------------------------------------

  private setMemorySize(below4G: number, above4G: number): void {
    const put16 = (low: number, high: number, value: number) => {
      this.ram[low] = value & 0xff;
      this.ram[high] = (value >> 8) & 0xff;
    };
    put16(BASE_MEMORY_LOW, BASE_MEMORY_HIGH, 640);
    const extendedKiB = Math.min(0xffff, Math.max(0, Math.floor((below4G - MIB) / KIB)));
    put16(EXTENDED_MEMORY_LOW, EXTENDED_MEMORY_HIGH, extendedKiB);
    put16(EXTENDED_MEMORY_LOW_COPY, EXTENDED_MEMORY_HIGH_COPY, extendedKiB);
    const above16M = Math.min(0xffff, Math.max(0, Math.floor((below4G - 16 * MIB) / (64 * KIB))));
    put16(ABOVE_16M_LOW, ABOVE_16M_HIGH, above16M);
    const highUnits = Math.min(0xffffff, Math.max(0, Math.floor(above4G / (64 * KIB))));
    this.ram[ABOVE_4G_LOW] = highUnits & 0xff;
    this.ram[ABOVE_4G_MID] = (highUnits >> 8) & 0xff;
    this.ram[ABOVE_4G_HIGH] = (highUnits >> 16) & 0xff;
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += this.ram[i];
    this.ram[CHECKSUM_HIGH] = (sum >> 8) & 0xff;
    this.ram[CHECKSUM_LOW] = sum & 0xff;
  }
}
