// One 8254 counter (datasheet 231164-005, "Modes"). Nothing runs per input-clock tick: the count
// and OUT are computed from the ticks elapsed since counting started, and the device schedules only
// the next rising edge of OUT when something listens to it.
import { fromBcd, nsForTicks, ticksIn, toBcd } from './time.js';
import { ACCESS_LSB, ACCESS_MSB, ACCESS_WORD, STATUS_NULL_COUNT, STATUS_OUTPUT } from './registers.js';

export class Channel {
  mode = 0;
  bcd = false;
  access = ACCESS_WORD;
  gate: boolean;

  /** Count register as the guest wrote it (raw, BCD-encoded when `bcd`). */
  private written = 0;
  /** Modulus the counting element runs with (1-65536 binary, 1-10000 BCD; garbage BCD up to 16665). */
  private modulus = 0x10000;
  /** A control word has been written since power-on: until then count writes are ignored. */
  private programmed = false;
  /** A count has reached the counting element since the last control word. */
  private armed = false;
  /** Modes 1 and 5: a gate trigger started the current run. */
  private triggered = false;
  private start = 0;
  private tickOffset = 0;
  /** Elapsed ticks held while the gate stops counting, or -1 when counting. */
  private frozen = -1;
  /** Modes 2 and 3: a count written while counting, loaded at the end of the current period. */
  private pendingModulus = 0;
  private pendingAtTick = 0;
  /** Time the last written count reaches the counting element (NULL COUNT clears). */
  private loadedAt = Infinity;

  private writeMsbNext = false;
  private pendingLsb = 0;
  private readMsbNext = false;
  private latchedCount = -1;
  private latchedStatus = -1;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  /** A control word for this counter (not a latch command): new mode, access and format. */
  program(mode: number, access: number, bcd: boolean): void {
    this.mode = mode > 5 ? mode - 4 : mode;
    this.access = access;
    this.bcd = bcd;
    this.programmed = true;
    this.armed = false;
    this.triggered = false;
    this.pendingModulus = 0;
    this.frozen = -1;
    this.loadedAt = Infinity;
    this.writeMsbNext = false;
    this.readMsbNext = false;
    this.latchedCount = -1;
    this.latchedStatus = -1;
  }

  /** A byte written to the counter's data port. */
  writeByte(value: number, now: number): void {
    if (!this.programmed) return;
    switch (this.access) {
      case ACCESS_LSB:
        this.load(value, now);
        return;
      case ACCESS_MSB:
        this.load(value << 8, now);
        return;
      default:
        if (this.writeMsbNext) {
          this.writeMsbNext = false;
          this.load(this.pendingLsb | (value << 8), now);
        } else {
          this.writeMsbNext = true;
          this.pendingLsb = value;
        }
    }
  }

  /** A byte read from the counter's data port: latched status, then latched count, then the live count. */
  readByte(now: number): number {
    if (this.latchedStatus >= 0) {
      const status = this.latchedStatus;
      this.latchedStatus = -1;
      return status;
    }
    const latched = this.latchedCount >= 0;
    const value = latched ? this.latchedCount : this.countValue(now);
    let byte: number;
    let done = true;
    if (this.access === ACCESS_LSB) byte = value & 0xff;
    else if (this.access === ACCESS_MSB) byte = value >> 8;
    else {
      byte = this.readMsbNext ? value >> 8 : value & 0xff;
      done = this.readMsbNext;
      this.readMsbNext = !this.readMsbNext;
    }
    if (latched && done) this.latchedCount = -1;
    return byte;
  }

  /** Counter latch command (or the COUNT part of read-back): a second latch before reading is ignored. */
  latchCount(now: number): void {
    if (this.latchedCount < 0) this.latchedCount = this.countValue(now);
  }

  /** STATUS part of the read-back command. */
  latchStatus(now: number): void {
    if (this.latchedStatus >= 0) return;
    this.latchedStatus =
      (this.output(now) ? STATUS_OUTPUT : 0) |
      (now < this.loadedAt || this.pendingModulus !== 0 ? STATUS_NULL_COUNT : 0) |
      (this.access << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }

  setGate(high: boolean, now: number): void {
    if (high === this.gate) return;
    this.gate = high;
    if (!this.armed) return;
    const d = this.elapsed(now);
    switch (this.mode) {
      case 0:
      case 4:
        // Gate low suspends counting; high resumes where it stopped.
        if (high) this.resumeAt(now, this.frozen);
        else this.frozen = d;
        return;
      case 2:
      case 3:
        // Gate low stops counting with OUT high; the rising edge reloads and restarts.
        if (high) this.restart(now, this.nextModulus());
        else this.frozen = d;
        return;
      default:
        // Modes 1 and 5: the rising edge (re)triggers a run; the gate level does not matter after.
        if (high) {
          this.triggered = true;
          this.loadedAt = Math.min(this.loadedAt, now);
          this.restart(now, this.nextModulus());
        }
    }
  }

  /** The OUT pin. */
  output(now: number): boolean {
    // Undefined before the first control word; held high, as every mode but 0 sets it, so that
    // programming the counter makes no rising edge of its own.
    if (!this.programmed) return true;
    if (!this.armed) return this.mode !== 0;
    const d = this.elapsed(now);
    const n = this.modulus;
    switch (this.mode) {
      case 0:
        return d >= n;
      case 1:
        return !this.triggered || d >= n;
      case 2:
        return this.frozen >= 0 || d % n !== n - 1;
      case 3:
        return this.frozen >= 0 || d % n < Math.ceil(n / 2);
      case 4:
        return d !== n;
      default:
        return !this.triggered || d !== n;
    }
  }

  /** The period (ns) while the counter runs periodically (modes 2 and 3, armed, gate high), else 0. */
  periodNs(): number {
    return this.armed && this.frozen < 0 && (this.mode === 2 || this.mode === 3) ? nsForTicks(this.modulus) : 0;
  }

  /**
   * Time (ns) of OUT's next rising edge after `now`, or -1 if none will come without a new write or
   * gate change. This is the only moment a timer is needed: an edge-triggered IRQ fires on it.
   * In the periodic modes (2, 3) edges before `notBefore` are skipped, coalescing a too-fast rate.
   */
  nextRisingEdge(now: number, notBefore = now): number {
    if (!this.armed || this.frozen >= 0) return -1;
    const d = this.elapsed(now);
    const n = this.modulus;
    let tick: number;
    switch (this.mode) {
      case 0:
        tick = n;
        break;
      case 1:
        if (!this.triggered) return -1;
        tick = n;
        break;
      case 2:
      case 3: {
        tick = (Math.floor(d / n) + 1) * n;
        if (notBefore > now && this.pendingModulus === 0) {
          const earliest = this.tickOffset + ticksIn(notBefore - this.start);
          if (earliest > tick) tick = Math.ceil(earliest / n) * n;
        }
        break;
      }
      case 4:
        tick = n + 1;
        break;
      default:
        if (!this.triggered) return -1;
        tick = n + 1;
    }
    if (tick <= d) return -1;
    return this.start + nsForTicks(tick - this.tickOffset);
  }

  /** The count as the guest reads it: binary 0-65535, or BCD 0-9999. */
  private countValue(now: number): number {
    const range = this.bcd ? 10000 : 0x10000;
    if (!this.armed || ((this.mode === 1 || this.mode === 5) && !this.triggered)) {
      return this.encode(this.modulusOf(this.written) % range);
    }
    const d = this.elapsed(now);
    const n = this.modulus;
    let value: number;
    switch (this.mode) {
      case 2:
        value = n - (d % n);
        break;
      case 3:
        value = n - ((2 * d) % n);
        break;
      default:
        value = (((n - d) % range) + range) % range;
    }
    return this.encode(value % range);
  }

  private encode(value: number): number {
    return this.bcd ? toBcd(value) : value;
  }

  private modulusOf(raw: number): number {
    const value = this.bcd ? fromBcd(raw) : raw;
    return value === 0 ? (this.bcd ? 10000 : 0x10000) : value;
  }

  private nextModulus(): number {
    return this.modulusOf(this.written);
  }

  /** A full count was written. */
  private load(raw: number, now: number): void {
    this.written = raw & 0xffff;
    const n = this.nextModulus();
    const oneTick = nsForTicks(1);
    switch (this.mode) {
      case 1:
      case 5:
        // Loaded at the next gate trigger.
        this.armed = true;
        if (!this.triggered) this.modulus = n;
        this.loadedAt = this.triggered ? now + oneTick : Infinity;
        return;
      case 2:
      case 3:
        if (this.armed && this.frozen < 0) {
          const d = this.elapsed(now);
          this.pendingModulus = n;
          this.pendingAtTick = (Math.floor(d / this.modulus) + 1) * this.modulus;
          return;
        }
        break;
    }
    this.armed = true;
    this.loadedAt = now + oneTick;
    this.restart(now, n);
    if (!this.gate && this.mode !== 1 && this.mode !== 5) this.frozen = 0;
  }

  private restart(now: number, modulus: number): void {
    this.modulus = modulus;
    this.pendingModulus = 0;
    this.resumeAt(now, 0);
  }

  private resumeAt(now: number, ticks: number): void {
    this.start = now;
    this.tickOffset = ticks;
    this.frozen = -1;
  }

  /** Input-clock ticks since counting started, applying a pending mode 2/3 reload once it is due. */
  private elapsed(now: number): number {
    if (this.frozen >= 0) return this.frozen;
    let d = this.tickOffset + ticksIn(now - this.start);
    if (this.pendingModulus !== 0 && d >= this.pendingAtTick) {
      this.tickOffset -= this.pendingAtTick;
      d -= this.pendingAtTick;
      this.modulus = this.pendingModulus;
      this.pendingModulus = 0;
    }
    return d;
  }
}
