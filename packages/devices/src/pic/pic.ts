// The PC/AT interrupt controller: two Intel 8259A (datasheet 231468-003) with the slave's INT on
// master IRQ 2, plus the chipset ELCR (Intel PIIX3/ICH "Edge/Level Control", 0x4d0/0x4d1).
import type { AccessSize, InterruptController, IrqLine } from '@ringvisor/vmm-api';
import type { BusRange } from '../bus/access.js';
import { I8259 } from './i8259.js';
import {
  CASCADE_IRQ, ELCR_MASTER, ELCR_MASTER_WRITABLE, ELCR_SLAVE, ELCR_SLAVE_WRITABLE, MASTER_COMMAND,
  MASTER_DATA, SLAVE_COMMAND, SLAVE_DATA, SPURIOUS_LEVEL,
} from './registers.js';

/** What a device learns of its IRQ from the controller (`DualPic.watch`). */
export interface IrqWatcher {
  /** The CPU took the IRQ: an INTA cycle or a poll. */
  acknowledged(): void;
  /** The guest cleared the IRQ's mask bit (OCW1, or a reinitialisation). */
  unmasked(): void;
}

/** Where the ISA IRQ 2 pin lands on the AT: slave input 1. */
const REROUTED_IRQ2 = 9;

/**
 * The 8259 pair. Devices drive `irq(n)` lines (n = 0-15); the CPU side polls `pending()` (INTR) and
 * runs `acknowledge()` (the INTA cycle) to get the vector. Ports: 0x20-0x21, 0xa0-0xa1, 0x4d0-0x4d1.
 */
export class DualPic implements InterruptController {
  /** An 8-bit ISA device: the bus splits wider accesses into bytes. */
  readonly byteWide = true;
  readonly ports: readonly BusRange[] = [
    { base: MASTER_COMMAND, length: 2 },
    { base: SLAVE_COMMAND, length: 2 },
    { base: ELCR_MASTER, length: 2 },
  ];
  /** INTA cycles that found no request left and delivered IRQ 7 or 15 without setting ISR. */
  spuriousCount = 0;

  private readonly master = new I8259(true, ELCR_MASTER_WRITABLE);
  private readonly slave = new I8259(false, ELCR_SLAVE_WRITABLE);
  private readonly lines: IrqLine[];
  private readonly watchers: (IrqWatcher | undefined)[] = [];

  constructor() {
    this.lines = Array.from({ length: 16 }, (_, n) => ({ set: (level: boolean) => this.setIrq(n, level) }));
  }

  /**
   * The input line for ISA IRQ `n` (0-15). Master input 2 carries the cascade, so, as on every AT,
   * the ISA bus's IRQ 2 pin is rerouted to IRQ 9 (slave input 1).
   */
  irq(n: number): IrqLine {
    const line = this.lines[n];
    if (line === undefined) throw new RangeError(`the 8259 pair has no IRQ ${n}`);
    return line;
  }

  /**
   * Tells `watcher` when ISA IRQ `n` is taken (an INTA cycle or a poll) and when the guest unmasks
   * it, as KVM's ack and mask notifiers do: a board wires the PIT's tick reinjection to IRQ 0.
   */
  watch(n: number, watcher: IrqWatcher): void {
    this.irq(n);
    this.watchers[n === CASCADE_IRQ ? REROUTED_IRQ2 : n] = watcher;
  }

  /** Drives ISA IRQ `n` (0-15) to `level`; IRQ 2 arrives as IRQ 9. */
  setIrq(n: number, level: boolean): void {
    if (n === CASCADE_IRQ) this.slave.setInput(REROUTED_IRQ2 - 8, level);
    else if (n >= 8) this.slave.setInput(n - 8, level);
    else this.master.setInput(n, level);
    this.updateCascade();
  }

  pending(): boolean {
    return this.master.highestRequest() >= 0;
  }

  acknowledge(): number {
    const level = this.master.highestRequest();
    if (level < 0) {
      // The request went away between INTR and INTA: the 8259 answers with IRQ 7, ISR untouched.
      this.spuriousCount++;
      return this.master.vectorBase + SPURIOUS_LEVEL;
    }
    this.master.acknowledge(level);
    if (level !== CASCADE_IRQ) {
      this.updateCascade();
      this.watchers[level]?.acknowledged();
      return this.master.vectorBase + level;
    }
    const slaveLevel = this.slave.highestRequest();
    let vector: number;
    if (slaveLevel < 0) {
      this.spuriousCount++;
      vector = this.slave.vectorBase + SPURIOUS_LEVEL;
    } else {
      this.slave.acknowledge(slaveLevel);
      vector = this.slave.vectorBase + slaveLevel;
    }
    this.updateCascade();
    if (slaveLevel >= 0) this.watchers[8 + slaveLevel]?.acknowledged();
    return vector;
  }

  ioRead(port: number, _size: AccessSize): number {
    switch (port) {
      case MASTER_COMMAND:
        return this.master.polling ? this.poll(this.master) : this.master.readCommand();
      case MASTER_DATA:
        return this.master.polling ? this.poll(this.master) : this.master.readData();
      case SLAVE_COMMAND:
        return this.slave.polling ? this.poll(this.slave) : this.slave.readCommand();
      case SLAVE_DATA:
        return this.slave.polling ? this.poll(this.slave) : this.slave.readData();
      case ELCR_MASTER:
        return this.master.elcr;
      case ELCR_SLAVE:
        return this.slave.elcr;
      default:
        return 0xff;
    }
  }

  ioWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    const masked = this.master.imr | (this.slave.imr << 8);
    this.write(port, value);
    const unmasked = masked & ~(this.master.imr | (this.slave.imr << 8));
    if (unmasked !== 0) for (let n = 0; n < 16; n++) if (unmasked & (1 << n)) this.watchers[n]?.unmasked();
  }

  private write(port: number, value: number): void {
    switch (port) {
      case MASTER_COMMAND:
        this.master.writeCommand(value);
        break;
      case MASTER_DATA:
        this.master.writeData(value);
        break;
      case SLAVE_COMMAND:
        this.slave.writeCommand(value);
        break;
      case SLAVE_DATA:
        this.slave.writeData(value);
        break;
      case ELCR_MASTER:
        this.master.elcr = value & this.master.elcrWritable;
        break;
      case ELCR_SLAVE:
        this.slave.elcr = value & this.slave.elcrWritable;
        break;
      default:
        return;
    }
    this.updateCascade();
  }

  /** Register snapshot for a VMM's monitor and for tests: [master, slave]. */
  state(): { irr: number; isr: number; imr: number; elcr: number; vectorBase: number }[] {
    return [this.master, this.slave].map((c) => ({ irr: c.irr, isr: c.isr, imr: c.imr, elcr: c.elcr, vectorBase: c.vectorBase }));
  }

  private poll(chip: I8259): number {
    const result = chip.pollRead();
    let taken = (result & 0x80) === 0 ? -1 : (result & 7) + (chip === this.slave ? 8 : 0);
    // Polling the master can acknowledge the cascade: that takes the slave's request with it.
    if (chip === this.master && result === (0x80 | CASCADE_IRQ)) {
      const slaveLevel = this.slave.highestRequest();
      taken = -1;
      if (slaveLevel >= 0) {
        this.slave.acknowledge(slaveLevel);
        taken = 8 + slaveLevel;
      }
    }
    this.updateCascade();
    if (taken >= 0) this.watchers[taken]?.acknowledged();
    return result;
  }

  /** The slave's INT output is the level of master input 2. */
  private updateCascade(): void {
    this.master.setInput(CASCADE_IRQ, this.slave.highestRequest() >= 0);
  }
}
