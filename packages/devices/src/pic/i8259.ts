// One Intel 8259A (datasheet 231468-003): the registers and the priority resolver. The pair in
// pic.ts wires a master and a slave together the way every PC does.
import {
  ICW1_IC4, ICW1_LTIM, ICW1_SNGL, ICW4_AEOI, ICW4_SFNM, OCW2_EOI, OCW2_ROTATE_AEOI_CLEAR,
  OCW2_ROTATE_AEOI_SET, OCW2_ROTATE_EOI, OCW2_ROTATE_SPECIFIC_EOI, OCW2_SET_PRIORITY, OCW2_SPECIFIC_EOI,
  OCW3_ESMM, OCW3_POLL, OCW3_RIS, OCW3_RR, OCW3_SMM, ICW1_INIT, OCW3_SELECT, CASCADE_IRQ,
} from './registers.js';

/** Where a chip is in the ICW1..ICW4 initialisation sequence. */
const enum Init {
  Ready,
  /** Power-on: no initialisation sequence has run yet. */
  Uninitialised,
  ExpectIcw2,
  ExpectIcw3,
  ExpectIcw4,
}

export class I8259 {
  /** Interrupt Request Register. */
  irr = 0;
  /** In-Service Register. */
  isr = 0;
  /** Interrupt Mask Register (OCW1). */
  imr = 0;
  /** Edge/Level Control Register: set bits are level-triggered. */
  elcr = 0;
  /** Vector of IRQ 0 of this chip (ICW2 with bits 2-0 cleared). */
  vectorBase = 0;
  /** The level with the highest priority; rotation moves it. */
  priorityBase = 0;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialMask = false;
  specialFullyNested = false;
  /** Line levels as last driven, for edge detection. */
  private lines = 0;
  private readIsr = false;
  private poll = false;
  /**
   * Power-on leaves the vector base and mask undefined (datasheet): the chip signals nothing until an
   * ICW1..ICW4 sequence has completed, and nothing while a new one is under way.
   */
  private init = Init.Uninitialised;
  private icw1 = 0;

  constructor(
    private readonly isMaster: boolean,
    readonly elcrWritable: number,
  ) {}

  /** Drives input `level` (0-7). Edge mode latches rising edges; level mode follows the line. */
  setInput(level: number, high: boolean): void {
    const bit = 1 << level;
    const levelTriggered = (this.elcr & bit) !== 0 || (this.icw1 & ICW1_LTIM) !== 0;
    if (high) {
      if (levelTriggered || (this.lines & bit) === 0) this.irr |= bit;
      this.lines |= bit;
    } else {
      if (levelTriggered) this.irr &= ~bit;
      this.lines &= ~bit;
    }
  }

  /** The level this chip would signal on INT, or -1: highest unmasked request above every in-service level. */
  highestRequest(): number {
    if (this.init !== Init.Ready) return -1;
    const request = this.priorityOf(this.irr & ~this.imr);
    if (request === 8) return -1;
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr;
    // In SFNM the cascade's in-service bit does not hold back further requests from the slave.
    if (this.isMaster && this.specialFullyNested) inService &= ~(1 << CASCADE_IRQ);
    return request < this.priorityOf(inService) ? (request + this.priorityBase) & 7 : -1;
  }

  /** The INTA (or poll) cycle for `level`: moves the request to in-service. */
  acknowledge(level: number): void {
    const bit = 1 << level;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityBase = (level + 1) & 7;
    } else {
      this.isr |= bit;
    }
    // A level-triggered request stays in IRR while its line is high.
    const levelTriggered = (this.elcr & bit) !== 0 || (this.icw1 & ICW1_LTIM) !== 0;
    if (!levelTriggered || (this.lines & bit) === 0) this.irr &= ~bit;
  }

  /** True while a poll command waits for its read. */
  get polling(): boolean {
    return this.poll;
  }

  /** The poll-mode read: acknowledges the highest request, if any, and reports it. */
  pollRead(): number {
    this.poll = false;
    const level = this.highestRequest();
    if (level < 0) return 0;
    this.acknowledge(level);
    return 0x80 | level;
  }

  readCommand(): number {
    return this.readIsr ? this.isr : this.irr;
  }

  readData(): number {
    return this.imr;
  }

  writeCommand(value: number): void {
    if (value & ICW1_INIT) {
      this.startInit(value);
    } else if (value & OCW3_SELECT) {
      if (value & OCW3_POLL) this.poll = true;
      if (value & OCW3_RR) this.readIsr = (value & OCW3_RIS) !== 0;
      if (value & OCW3_ESMM) this.specialMask = (value & OCW3_SMM) !== 0;
    } else {
      this.writeOcw2(value);
    }
  }

  writeData(value: number): void {
    switch (this.init) {
      case Init.Ready:
      case Init.Uninitialised:
        this.imr = value;
        break;
      case Init.ExpectIcw2:
        this.vectorBase = value & 0xf8;
        this.init = this.icw1 & ICW1_SNGL ? this.afterIcw3() : Init.ExpectIcw3;
        break;
      case Init.ExpectIcw3:
        // The cascade wiring is fixed (slave on master IRQ 2), so the identity bits change nothing.
        this.init = this.afterIcw3();
        break;
      case Init.ExpectIcw4:
        this.autoEoi = (value & ICW4_AEOI) !== 0;
        this.specialFullyNested = (value & ICW4_SFNM) !== 0;
        this.init = Init.Ready;
        break;
    }
  }

  private afterIcw3(): Init {
    return this.icw1 & ICW1_IC4 ? Init.ExpectIcw4 : Init.Ready;
  }

  private startInit(icw1: number): void {
    // ICW1 clears the mask, in-service state, special mask and rotation, and selects IRR for reads.
    this.icw1 = icw1;
    this.init = Init.ExpectIcw2;
    this.imr = 0;
    this.isr = 0;
    // Edge requests are forgotten (a high line must drop and rise again); level ones follow the line.
    this.irr &= (icw1 & ICW1_LTIM ? 0xff : this.elcr) & this.lines;
    this.priorityBase = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
  }

  private writeOcw2(value: number): void {
    const level = value & 7;
    switch (value & 0xe0) {
      case OCW2_EOI:
      case OCW2_ROTATE_EOI: {
        const p = this.priorityOf(this.isr);
        if (p === 8) return;
        const served = (p + this.priorityBase) & 7;
        this.isr &= ~(1 << served);
        if ((value & 0xe0) === OCW2_ROTATE_EOI) this.priorityBase = (served + 1) & 7;
        return;
      }
      case OCW2_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        return;
      case OCW2_ROTATE_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        this.priorityBase = (level + 1) & 7;
        return;
      case OCW2_SET_PRIORITY:
        this.priorityBase = (level + 1) & 7;
        return;
      case OCW2_ROTATE_AEOI_SET:
        this.rotateOnAutoEoi = true;
        return;
      case OCW2_ROTATE_AEOI_CLEAR:
        this.rotateOnAutoEoi = false;
        return;
      default:
        // 0x40: no operation.
        return;
    }
  }

  /** Rank (0 = highest) of the highest-priority set bit of `mask` under the current rotation; 8 if none. */
  private priorityOf(mask: number): number {
    if ((mask & 0xff) === 0) return 8;
    let rank = 0;
    while ((mask & (1 << ((rank + this.priorityBase) & 7))) === 0) rank++;
    return rank;
  }
}
