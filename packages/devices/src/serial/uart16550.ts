// National Semiconductor PC16550D UART (datasheet, June 1995): registers, 16-byte FIFOs, the
// interrupt priority scheme and loopback, wired as on PCs (OUT2 gates the IRQ). Bytes leave for the
// backend as soon as they are written (no line-rate delay), but only as fast as the backend takes
// them: while it is full the TX FIFO fills and THRE/TEMT stay clear, as on a slow line.
import type { AccessSize, Clock, IrqLine, TimerId } from '@ringvisor/vmm-api';
import type { BusRange } from '../bus/access.js';
import type { SerialBackend, SerialHostPort } from './backend.js';

// --- registers: offsets from the port base (0x3f8 COM1, 0x2f8 COM2, 0x3e8 COM3, 0x2e8 COM4) ---
/** Receiver Buffer (read) / Transmitter Holding (write) / Divisor Latch LSB when LCR.DLAB. */
const RBR_THR = 0;
/** Interrupt Enable / Divisor Latch MSB when LCR.DLAB. */
const IER = 1;
/** Interrupt Identification (read) / FIFO Control (write). */
const IIR_FCR = 2;
/** Line Control. */
const LCR = 3;
/** Modem Control. */
const MCR = 4;
/** Line Status. */
const LSR = 5;
/** Modem Status. */
const MSR = 6;
/** Scratch: Linux's autoconfig writes and reads it back to tell an 8250 from a 16450. */
const SCR = 7;

// IER.
/** ERBFI: interrupt on received data (and character timeout); the driver's RX path. */
const IER_RDA = 0x01;
/** ETBEI: interrupt when THR empties; the driver's TX path refills the FIFO from it. */
const IER_THRE = 0x02;
/** ELSI: interrupt on overrun, parity, framing errors and break. */
const IER_LSR = 0x04;
/** EDSSI: interrupt on modem-status changes (CTS/DSR/RI/DCD), used for hardware flow control. */
const IER_MSR = 0x08;
/** IER bits a 16550 implements; Linux autoconfig writes 0x0f and expects exactly that back. */
const IER_WRITABLE = 0x0f;

// IIR: bits 3-1 identify the highest-priority pending interrupt.
/** No interrupt pending: the driver's IRQ loop stops when it reads this bit set. */
const IIR_NO_INTERRUPT = 0x01;
/** Priority 1: receiver line status; cleared by reading LSR. */
const IIR_LINE_STATUS = 0x06;
/** Priority 2: RX FIFO reached its trigger level; cleared when it drops below. */
const IIR_RX_DATA = 0x04;
/** Priority 2: characters sat in the RX FIFO below the trigger level for 4 character times. */
const IIR_CHAR_TIMEOUT = 0x0c;
/** Priority 3: THR empty; cleared by reading IIR (with this ID) or writing THR. */
const IIR_THR_EMPTY = 0x02;
/** Priority 4: modem status change; cleared by reading MSR. */
const IIR_MODEM_STATUS = 0x00;
/** Both bits set when FCR enabled the FIFOs: how Linux recognises a 16550A. */
const IIR_FIFOS_ENABLED = 0xc0;

// FCR.
/** Enables both FIFOs; toggling it clears them. Other bits are ignored while it is written as 0. */
const FCR_ENABLE = 0x01;
/** Clears the RX FIFO. */
const FCR_CLEAR_RX = 0x02;
/** Clears the TX FIFO. */
const FCR_CLEAR_TX = 0x04;
/** RX trigger level selector (bits 7-6): 1, 4, 8 or 14 bytes. */
const FCR_TRIGGER_SHIFT = 6;
/** RX trigger levels by FCR bits 7-6; Linux's 8250 driver programs 8 (FCR 0x81) on a 16550A. */
const RX_TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/** Depth of each 16550A FIFO; Linux measures it in loopback (size_fifo). */
const FIFO_DEPTH = 16;

// LCR.
/** Word length select: 5 + (bits 1-0) data bits. */
const LCR_WORD_LENGTH = 0x03;
/** STB: 2 stop bits (1.5 with 5-bit words). */
const LCR_TWO_STOP_BITS = 0x04;
/** PEN: parity enabled. */
const LCR_PARITY = 0x08;
/** DLAB: offsets 0 and 1 address the baud-rate divisor latch instead of RBR/THR and IER. */
const LCR_DLAB = 0x80;

// MCR.
/** DTR output (DSR input in loopback). */
const MCR_DTR = 0x01;
/** RTS output (CTS in loopback); drivers drop it for hardware flow control. */
const MCR_RTS = 0x02;
/** OUT1 (RI in loopback). */
const MCR_OUT1 = 0x04;
/** OUT2 (DCD in loopback). On PCs it gates the UART's interrupt onto the ISA IRQ line. */
const MCR_OUT2 = 0x08;
/** LOOP: local loopback; TX feeds RX and the modem outputs feed the modem inputs. */
const MCR_LOOP = 0x10;
/** MCR bits a 16550 implements (bits 7-5 read 0). */
const MCR_WRITABLE = 0x1f;

// LSR.
/** DR: at least one byte waits in RBR / the RX FIFO. */
const LSR_DATA_READY = 0x01;
/** OE: a received byte was lost because the RX FIFO was full. */
const LSR_OVERRUN = 0x02;
/** PE: the byte at the top of the RX FIFO had a parity error. */
const LSR_PARITY_ERROR = 0x04;
/** FE: the byte at the top of the RX FIFO had no valid stop bit. */
const LSR_FRAMING_ERROR = 0x08;
/** BI: a break was received (the byte at the top of the FIFO is the 0 that stands for it). */
const LSR_BREAK = 0x10;
/** THRE: THR / TX FIFO empty; a polling console waits for it before every byte. */
const LSR_THR_EMPTY = 0x20;
/** TEMT: THR and the transmit shift register empty; tcdrain() waits for it. */
const LSR_TRANSMITTER_EMPTY = 0x40;
/** At least one byte in the RX FIFO carries a parity, framing or break error. */
const LSR_FIFO_ERROR = 0x80;
/** The LSR bits a read clears. */
const LSR_ERRORS = LSR_OVERRUN | LSR_PARITY_ERROR | LSR_FRAMING_ERROR | LSR_BREAK;

// MSR.
/** Delta CTS. */
const MSR_DCTS = 0x01;
/** Delta DSR. */
const MSR_DDSR = 0x02;
/** Trailing edge of RI. */
const MSR_TERI = 0x04;
/** Delta DCD: carrier change, tty hangup detection. */
const MSR_DDCD = 0x08;
/** The four change bits: any set raises the modem status interrupt. */
const MSR_DELTAS = 0x0f;
/** Clear To Send. */
const MSR_CTS = 0x10;
/** Data Set Ready. */
const MSR_DSR = 0x20;
/** Ring Indicator. */
const MSR_RI = 0x40;
/** Data Carrier Detect. */
const MSR_DCD = 0x80;

/** Input clock / 16: the baud rate at divisor 1 (1.8432 MHz crystal on PCs). */
const BASE_BAUD = 115_200;

export interface Uart16550Options {
  readonly clock: Clock;
  /** The ISA IRQ line (4 for COM1/COM3, 3 for COM2/COM4). */
  readonly irq: IrqLine;
  readonly backend: SerialBackend;
  /** First port of the 8-port window; must be 8-aligned. Default 0x3f8 (COM1). */
  readonly base?: number;
  /** Bytes of host input queued beyond the RX FIFO before `input` refuses more. Default 4096. */
  readonly inputQueueSize?: number;
}

/** Modem inputs outside loopback: a null-modem host end that is always ready, carrier present. */
const HOST_MODEM_LINES = MSR_CTS | MSR_DSR | MSR_DCD;
/** Host-queue entry flag marking a received break rather than a byte. */
const QUEUED_BREAK = 0x100;

export class Uart16550 implements SerialHostPort {
  /** An 8-bit ISA device: the bus splits wider accesses into bytes. */
  readonly byteWide = true;
  readonly ports: readonly BusRange[];
  /** Bytes the guest wrote to a full TX FIFO (a driver that ignores THRE loses them, as on hardware). */
  txDropped = 0;
  /** Received bytes lost to a full RX FIFO (loopback only: host input waits in the queue instead). */
  rxOverruns = 0;

  private readonly clock: Clock;
  private readonly irqLine: IrqLine;
  private readonly backend: SerialBackend;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private divisor = 12;
  private fifoEnabled = false;
  private rxTrigger = 1;
  /** OE/PE/FE/BI as the guest will read them from LSR; cleared by that read. */
  private lineErrors = 0;
  private msrDeltas = 0;
  private modemLines = HOST_MODEM_LINES;
  private thrInterrupt = false;
  private timeoutInterrupt = false;
  private irqLevel = false;

  private readonly rx = new Uint8Array(FIFO_DEPTH);
  /** Per-byte LSR error bits of the RX FIFO entries. */
  private readonly rxErrors = new Uint8Array(FIFO_DEPTH);
  private rxHead = 0;
  private rxCount = 0;
  private rxErrorCount = 0;

  private readonly tx = new Uint8Array(FIFO_DEPTH);
  private txHead = 0;
  private txCount = 0;
  private txBlocked = false;
  private flushing = false;
  /** `txViews[n]` is the first n bytes of `txScratch`: offering output allocates nothing. */
  private readonly txScratch = new Uint8Array(FIFO_DEPTH);
  private readonly txViews: Uint8Array[];

  private readonly hostQueue: Uint16Array;
  private hostHead = 0;
  private hostCount = 0;
  private inputRefused = false;

  private timeoutTimer: TimerId | undefined;
  private readonly onTimeout = (): void => {
    this.timeoutTimer = undefined;
    if (this.fifoEnabled && this.rxCount > 0) {
      this.timeoutInterrupt = true;
      this.updateIrq();
    }
  };

  constructor(options: Uart16550Options) {
    this.clock = options.clock;
    this.irqLine = options.irq;
    this.backend = options.backend;
    const base = options.base ?? 0x3f8;
    if ((base & 7) !== 0) throw new RangeError(`16550 base 0x${base.toString(16)} is not 8-aligned`);
    this.ports = [{ base, length: 8 }];
    this.hostQueue = new Uint16Array(Math.max(1, options.inputQueueSize ?? 4096));
    this.txViews = Array.from({ length: FIFO_DEPTH + 1 }, (_, n) => this.txScratch.subarray(0, n));
    this.backend.connect?.(this);
  }

  ioRead(port: number, _size: AccessSize): number {
    switch (port & 7) {
      case RBR_THR:
        return this.lcr & LCR_DLAB ? this.divisor & 0xff : this.readRbr();
      case IER:
        return this.lcr & LCR_DLAB ? this.divisor >> 8 : this.ier;
      case IIR_FCR:
        return this.readIir();
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR:
        return this.readLsr();
      case MSR:
        return this.readMsr();
      case SCR:
      default:
        return this.scr;
    }
  }

  ioWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    switch (port & 7) {
      case RBR_THR:
        if (this.lcr & LCR_DLAB) this.divisor = (this.divisor & 0xff00) | value;
        else this.writeThr(value);
        return;
      case IER:
        if (this.lcr & LCR_DLAB) this.divisor = (this.divisor & 0xff) | (value << 8);
        else this.writeIer(value);
        return;
      case IIR_FCR:
        this.writeFcr(value);
        return;
      case LCR:
        this.lcr = value;
        return;
      case MCR:
        this.writeMcr(value);
        return;
      case LSR:
      case MSR:
        return; // read-only (factory test writes are not modelled)
      case SCR:
      default:
        this.scr = value;
    }
  }

  /** Host input for the guest. Returns the bytes accepted; the rest did not fit the bounded queue. */
  input(bytes: Uint8Array): number {
    const room = this.hostQueue.length - this.hostCount;
    const n = Math.min(room, bytes.length);
    for (let i = 0; i < n; i++) this.enqueueHost(bytes[i]);
    this.feedRx();
    if (n < bytes.length) this.inputRefused = true;
    return n;
  }

  /** A break condition from the host (e.g. the SysRq key on a Linux serial console). */
  inputBreak(): boolean {
    if (this.hostCount === this.hostQueue.length) {
      this.inputRefused = true;
      return false;
    }
    this.enqueueHost(QUEUED_BREAK);
    this.feedRx();
    return true;
  }

  writable(): void {
    this.txBlocked = false;
    this.flushTx();
  }

  /** The baud rate the guest programmed (115200 / divisor; divisor 0 counts as 65536). */
  get baudRate(): number {
    return BASE_BAUD / (this.divisor === 0 ? 0x10000 : this.divisor);
  }

  /** Bytes of host input waiting behind the RX FIFO. */
  get queuedInput(): number {
    return this.hostCount;
  }

  // --- registers -------------------------------------------------------------------------------

  private readRbr(): number {
    if (this.rxCount === 0) return 0;
    const byte = this.rx[this.rxHead];
    if (this.rxErrors[this.rxHead] !== 0) this.rxErrorCount--;
    this.rxHead = (this.rxHead + 1) % FIFO_DEPTH;
    this.rxCount--;
    this.timeoutInterrupt = false;
    this.revealTopErrors();
    this.feedRx();
    this.restartTimeout();
    this.updateIrq();
    return byte;
  }

  private readIir(): number {
    const id = this.interruptId();
    // Reading IIR while THRE is the reported source acknowledges it.
    if (id === IIR_THR_EMPTY) {
      this.thrInterrupt = false;
      this.updateIrq();
    }
    return id | (this.fifoEnabled ? IIR_FIFOS_ENABLED : 0);
  }

  private readLsr(): number {
    const txEmpty = this.txCount === 0;
    const value =
      (this.rxCount > 0 ? LSR_DATA_READY : 0) |
      this.lineErrors |
      (txEmpty ? LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY : 0) |
      (this.fifoEnabled && this.rxErrorCount > 0 ? LSR_FIFO_ERROR : 0);
    if (this.lineErrors !== 0) {
      this.lineErrors = 0;
      this.updateIrq();
    }
    return value;
  }

  private readMsr(): number {
    const value = this.modemLines | this.msrDeltas;
    if (this.msrDeltas !== 0) {
      this.msrDeltas = 0;
      this.updateIrq();
    }
    return value;
  }

  private writeThr(value: number): void {
    this.thrInterrupt = false;
    const byte = value & ((1 << (5 + (this.lcr & LCR_WORD_LENGTH))) - 1);
    if (this.mcr & MCR_LOOP) {
      // The shift register's output feeds the receiver; THR is empty again at once.
      this.receive(byte, 0);
      this.thrInterrupt = true;
      this.updateIrq();
      return;
    }
    if (this.txCount >= (this.fifoEnabled ? FIFO_DEPTH : 1)) {
      this.txDropped++;
      this.updateIrq();
      return;
    }
    this.tx[(this.txHead + this.txCount) % FIFO_DEPTH] = byte;
    this.txCount++;
    this.flushTx();
    this.updateIrq();
  }

  private writeIer(value: number): void {
    const changed = (this.ier ^ value) & IER_THRE;
    this.ier = value & IER_WRITABLE;
    // Enabling ETBEI with THR already empty raises the THRE interrupt at once (Linux's
    // serial8250_startup checks for exactly this to detect UART_BUG_THRE).
    if (changed) this.thrInterrupt = (this.ier & IER_THRE) !== 0 && this.txCount === 0;
    this.updateIrq();
  }

  private writeFcr(value: number): void {
    const enable = (value & FCR_ENABLE) !== 0;
    if (enable !== this.fifoEnabled) {
      this.fifoEnabled = enable;
      this.clearRx();
      this.clearTx();
    }
    if (enable) {
      if (value & FCR_CLEAR_RX) this.clearRx();
      if (value & FCR_CLEAR_TX) this.clearTx();
      this.rxTrigger = RX_TRIGGER_LEVELS[value >> FCR_TRIGGER_SHIFT];
    }
    this.feedRx();
    this.updateIrq();
  }

  private writeMcr(value: number): void {
    this.mcr = value & MCR_WRITABLE;
    let lines = HOST_MODEM_LINES;
    if (this.mcr & MCR_LOOP) {
      lines =
        (this.mcr & MCR_RTS ? MSR_CTS : 0) |
        (this.mcr & MCR_DTR ? MSR_DSR : 0) |
        (this.mcr & MCR_OUT1 ? MSR_RI : 0) |
        (this.mcr & MCR_OUT2 ? MSR_DCD : 0);
    }
    const changed = lines ^ this.modemLines;
    if (changed & MSR_CTS) this.msrDeltas |= MSR_DCTS;
    if (changed & MSR_DSR) this.msrDeltas |= MSR_DDSR;
    if (changed & MSR_DCD) this.msrDeltas |= MSR_DDCD;
    if (changed & this.modemLines & MSR_RI) this.msrDeltas |= MSR_TERI;
    this.modemLines = lines;
    this.feedRx();
    this.flushTx();
    this.updateIrq();
  }

  // --- FIFOs -----------------------------------------------------------------------------------

  private receive(byte: number, errors: number): void {
    if (this.rxCount >= (this.fifoEnabled ? FIFO_DEPTH : 1)) {
      this.lineErrors |= LSR_OVERRUN;
      this.rxOverruns++;
      return;
    }
    const at = (this.rxHead + this.rxCount) % FIFO_DEPTH;
    this.rx[at] = byte;
    this.rxErrors[at] = errors;
    if (errors !== 0) this.rxErrorCount++;
    this.rxCount++;
    if (this.rxCount === 1) this.revealTopErrors();
    this.restartTimeout();
  }

  /** Moves queued host input into the RX FIFO while it has room (not in loopback: the line is cut). */
  private feedRx(): void {
    if (this.mcr & MCR_LOOP) return;
    const capacity = this.fifoEnabled ? FIFO_DEPTH : 1;
    while (this.hostCount > 0 && this.rxCount < capacity) {
      const entry = this.hostQueue[this.hostHead];
      this.hostHead = (this.hostHead + 1) % this.hostQueue.length;
      this.hostCount--;
      if (entry === QUEUED_BREAK) this.receive(0, LSR_BREAK);
      else this.receive(entry & ((1 << (5 + (this.lcr & LCR_WORD_LENGTH))) - 1), 0);
    }
    if (this.inputRefused && this.hostCount <= this.hostQueue.length >> 1) {
      this.inputRefused = false;
      this.backend.inputRoom?.();
    }
    this.updateIrq();
  }

  private enqueueHost(entry: number): void {
    this.hostQueue[(this.hostHead + this.hostCount) % this.hostQueue.length] = entry;
    this.hostCount++;
  }

  /** The error bits of the byte now at the top of the RX FIFO become visible in LSR. */
  private revealTopErrors(): void {
    if (this.rxCount > 0) this.lineErrors |= this.rxErrors[this.rxHead];
  }

  private clearRx(): void {
    this.rxCount = 0;
    this.rxErrorCount = 0;
    this.timeoutInterrupt = false;
    this.cancelTimeout();
  }

  private clearTx(): void {
    const hadData = this.txCount > 0;
    this.txCount = 0;
    if (hadData) this.thrInterrupt = (this.ier & IER_THRE) !== 0;
  }

  /** Offers the TX FIFO to the backend unless it said it is full. */
  private flushTx(): void {
    if (this.txBlocked || this.flushing || this.txCount === 0 || this.mcr & MCR_LOOP) return;
    this.flushing = true;
    const n = this.txCount;
    for (let i = 0; i < n; i++) this.txScratch[i] = this.tx[(this.txHead + i) % FIFO_DEPTH];
    const taken = Math.max(0, Math.min(n, Math.floor(this.backend.write(this.txViews[n]) || 0)));
    this.flushing = false;
    this.txHead = (this.txHead + taken) % FIFO_DEPTH;
    this.txCount -= taken;
    if (taken < n) this.txBlocked = true;
    else {
      // THR emptied: the THRE interrupt the driver's TX path waits for.
      this.thrInterrupt = true;
      this.updateIrq();
    }
  }

  // --- interrupts ------------------------------------------------------------------------------

  /** The IIR identification of the highest-priority pending interrupt. */
  private interruptId(): number {
    const ier = this.ier;
    if (ier & IER_LSR && this.lineErrors & LSR_ERRORS) return IIR_LINE_STATUS;
    if (ier & IER_RDA) {
      if (this.rxCount >= (this.fifoEnabled ? this.rxTrigger : 1)) return IIR_RX_DATA;
      if (this.timeoutInterrupt) return IIR_CHAR_TIMEOUT;
    }
    if (ier & IER_THRE && this.thrInterrupt) return IIR_THR_EMPTY;
    if (ier & IER_MSR && this.msrDeltas & MSR_DELTAS) return IIR_MODEM_STATUS;
    return IIR_NO_INTERRUPT;
  }

  private updateIrq(): void {
    // OUT2 connects the INTR pin to the ISA bus; loopback forces OUT2 inactive.
    const level = (this.mcr & (MCR_OUT2 | MCR_LOOP)) === MCR_OUT2 && this.interruptId() !== IIR_NO_INTERRUPT;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irqLine.set(level);
    }
  }

  /** Character timeout: 4 character times after the last RX FIFO activity with data still below trigger. */
  private restartTimeout(): void {
    this.cancelTimeout();
    if (!this.fifoEnabled || this.rxCount === 0) return;
    const bits = 1 + 5 + (this.lcr & LCR_WORD_LENGTH) + (this.lcr & LCR_PARITY ? 1 : 0) + (this.lcr & LCR_TWO_STOP_BITS ? 2 : 1);
    const characterNs = (bits * 1e9) / this.baudRate;
    this.timeoutTimer = this.clock.schedule(this.clock.now() + Math.ceil(4 * characterNs), this.onTimeout);
  }

  private cancelTimeout(): void {
    if (this.timeoutTimer !== undefined) {
      this.clock.cancel(this.timeoutTimer);
      this.timeoutTimer = undefined;
    }
  }
}
