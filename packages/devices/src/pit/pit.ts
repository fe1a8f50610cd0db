// The PC/AT system timer: an Intel 8254 (datasheet 231164-005) at 0x40-0x43 clocked at 1.193182 MHz,
// counter 0's OUT on IRQ 0, counter 2 gated by port 0x61 (IBM AT Technical Reference, "System
// Control Port B"), which also reads back OUT2 and the refresh toggle.
import type { AccessSize, Clock, IrqLine, TimerId } from '@ringvisor/vmm-api';
import type { BusRange } from '../bus/access.js';
import { Channel } from './channel.js';
import {
  ACCESS_LATCH, CHANNEL0_DATA, CONTROL, CONTROL_ACCESS_SHIFT, CONTROL_BCD, CONTROL_MODE_SHIFT,
  CONTROL_SELECT_SHIFT, PORT_B, PORTB_GATE2, PORTB_OUT2, PORTB_REFRESH, PORTB_WRITABLE,
  READ_BACK_COUNTER0, READ_BACK_NO_COUNT, READ_BACK_NO_STATUS, REFRESH_TOGGLE_NS, SELECT_READ_BACK,
} from './registers.js';

/**
 * Shortest spacing of periodic IRQ 0 edges (KVM's in-kernel PIT clamps to the same 200 µs by
 * default): a guest programming mode 2 with count 2 would otherwise ask for 600 000 timer
 * callbacks per second. Counter and OUT readings stay exact; only IRQ edges are coalesced.
 */
const MIN_PERIODIC_IRQ_NS = 200_000;
const NS_PER_S = 1_000_000_000;

export interface PitOptions {
  readonly clock: Clock;
  /** The line counter 0's OUT drives: IRQ 0 of the PIC. */
  readonly irq: IrqLine;
  /**
   * Reinject periodic ticks (KVM_REINJECT_CONTROL's policy): the owner calls `acknowledged()` on
   * each INTA of IRQ 0 and `unmasked()` when the guest unmasks it (`DualPic.watch`), and no periodic
   * edge is lost to a late timer or an untaken request.
   * Without it (default) a late or merged edge is lost, as on a PIT whose IRQ nobody acknowledges.
   */
  readonly reinject?: boolean;
}

export class Pit {
  /** An 8-bit ISA device: the bus splits wider accesses into bytes. */
  readonly byteWide = true;
  readonly ports: readonly BusRange[] = [
    { base: CHANNEL0_DATA, length: 4 },
    { base: PORT_B, length: 1 },
  ];
  /** Rising edges of counter 0's OUT delivered to the IRQ line since construction. */
  irqEdges = 0;

  private readonly clock: Clock;
  private readonly irqLine: IrqLine;
  private readonly reinject: boolean;
  private readonly channels: readonly Channel[];
  private portB = 0;
  private timer: TimerId | undefined;
  /** When the scheduled edge is due: a timer that runs later than one period missed edges. */
  private deadline = 0;
  /**
   * Periodic edges the guest has not had: the timer ran late (the host thread was descheduled), or
   * came while the previous edge was not yet taken (the vCPU was not running), when a second edge
   * would merge into the 8259's request. One follows each IRQ 0 the interrupt controller takes, as
   * KVM's in-kernel PIT reinjects ticks, so a guest that counts ticks keeps time. At most one
   * second's worth; reprogramming drops them.
   */
  private backlog = 0;
  /** An edge was raised and the interrupt controller has not taken IRQ 0 since. */
  private unacknowledged = false;
  private lastEdgeAt = -Infinity;
  private readonly onEdge = (): void => this.fireEdge();

  constructor(options: PitOptions) {
    this.clock = options.clock;
    this.irqLine = options.irq;
    this.reinject = options.reinject ?? false;
    // Power-on: the datasheet leaves mode, count and OUT undefined until a counter is programmed. A
    // counter here does nothing until it has a control word and a count (OUT held high, no IRQ 0
    // edges, nothing scheduled), as the emulators CPU test ROMs run on keep it; firmware (or the
    // board, standing in for firmware on a direct boot) programs counter 0 for the 18.2 Hz tick.
    this.channels = [new Channel(true), new Channel(true), new Channel(false)];
    this.irqLine.set(true);
  }

  ioRead(port: number, _size: AccessSize): number {
    const now = this.clock.now();
    if (port === PORT_B) {
      return (
        this.portB |
        (Math.floor(now / REFRESH_TOGGLE_NS) & 1 ? PORTB_REFRESH : 0) |
        (this.channels[2].output(now) ? PORTB_OUT2 : 0)
      );
    }
    if (port === CONTROL) return 0xff; // write-only register
    return this.channels[port - CHANNEL0_DATA].readByte(now);
  }

  ioWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    const now = this.clock.now();
    if (port === PORT_B) {
      this.portB = value & PORTB_WRITABLE;
      this.channels[2].setGate((value & PORTB_GATE2) !== 0, now);
      return;
    }
    if (port === CONTROL) {
      this.writeControl(value, now);
      return;
    }
    const index = port - CHANNEL0_DATA;
    this.channels[index].writeByte(value, now);
    if (index === 0) {
      this.backlog = 0;
      this.reschedule(now);
    }
  }

  /** Counter `n`'s OUT pin now (for a VMM's monitor and tests). */
  output(n: 0 | 1 | 2): boolean {
    return this.channels[n].output(this.clock.now());
  }

  private writeControl(value: number, now: number): void {
    const select = value >> CONTROL_SELECT_SHIFT;
    if (select === SELECT_READ_BACK) {
      for (let i = 0; i < 3; i++) {
        if ((value & (READ_BACK_COUNTER0 << i)) === 0) continue;
        // Status first, so that a combined read-back returns the status byte before the count.
        if ((value & READ_BACK_NO_STATUS) === 0) this.channels[i].latchStatus(now);
        if ((value & READ_BACK_NO_COUNT) === 0) this.channels[i].latchCount(now);
      }
      return;
    }
    const channel = this.channels[select];
    const access = (value >> CONTROL_ACCESS_SHIFT) & 3;
    if (access === ACCESS_LATCH) {
      channel.latchCount(now);
      return;
    }
    channel.program((value >> CONTROL_MODE_SHIFT) & 7, access, (value & CONTROL_BCD) !== 0);
    if (select === 0) {
      // A control word sets OUT at once: low in mode 0, high in every other mode.
      this.irqLine.set(channel.output(now));
      this.backlog = 0;
      this.reschedule(now);
    }
  }

  /**
   * Keeps exactly one timer: at counter 0's next rising edge, if there is one. `now` is the time of
   * the access or edge that changed the counter, not a new reading: the thread may have been
   * descheduled since, past a one-shot's edge, which must then fire late rather than never.
   */
  private reschedule(now: number): void {
    if (this.timer !== undefined) {
      this.clock.cancel(this.timer);
      this.timer = undefined;
    }
    const deadline = this.channels[0].nextRisingEdge(now, this.lastEdgeAt + MIN_PERIODIC_IRQ_NS);
    if (deadline < 0) return;
    this.deadline = deadline;
    this.timer = this.clock.schedule(deadline, this.onEdge);
  }

  /** The guest unmasked IRQ 0: what it missed while masked is not owed (KVM resets reinjection so). */
  unmasked(): void {
    this.backlog = 0;
    this.unacknowledged = false;
  }

  /** The interrupt controller took IRQ 0 (its INTA cycle): a missed periodic edge, if any, follows. */
  acknowledged(): void {
    this.unacknowledged = false;
    if (this.backlog === 0) return;
    this.backlog--;
    this.raiseEdge();
  }

  private fireEdge(): void {
    this.timer = undefined;
    const now = this.clock.now();
    const period = this.reinject ? this.channels[0].periodNs() : 0;
    this.lastEdgeAt = now;
    if (period > 0) {
      const spacing = Math.max(period, MIN_PERIODIC_IRQ_NS);
      const owed = Math.floor((now - this.deadline) / spacing) + (this.unacknowledged ? 1 : 0);
      this.backlog = Math.min(Math.floor(NS_PER_S / spacing), this.backlog + owed);
      if (!this.unacknowledged) this.raiseEdge();
    } else {
      this.raiseEdge();
    }
    this.reschedule(now);
  }

  private raiseEdge(): void {
    this.unacknowledged = true;
    this.irqEdges++;
    this.irqLine.set(false);
    this.irqLine.set(true);
  }
}
