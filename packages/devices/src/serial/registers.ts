// National Semiconductor PC16550D UART (datasheet, June 1995 edition) register offsets and bits.
// Offsets are from the port base (0x3f8 COM1, 0x2f8 COM2, 0x3e8 COM3, 0x2e8 COM4).

/** Receiver Buffer (read) / Transmitter Holding (write) / Divisor Latch LSB when LCR.DLAB. */
export const RBR_THR = 0;
/** Interrupt Enable / Divisor Latch MSB when LCR.DLAB. */
export const IER = 1;
/** Interrupt Identification (read) / FIFO Control (write). */
export const IIR_FCR = 2;
/** Line Control. */
export const LCR = 3;
/** Modem Control. */
export const MCR = 4;
/** Line Status. */
export const LSR = 5;
/** Modem Status. */
export const MSR = 6;
/** Scratch: Linux's autoconfig writes and reads it back to tell an 8250 from a 16450. */
export const SCR = 7;

// IER.
/** ERBFI: interrupt on received data (and character timeout); the driver's RX path. */
export const IER_RDA = 0x01;
/** ETBEI: interrupt when THR empties; the driver's TX path refills the FIFO from it. */
export const IER_THRE = 0x02;
/** ELSI: interrupt on overrun, parity, framing errors and break. */
export const IER_LSR = 0x04;
/** EDSSI: interrupt on modem-status changes (CTS/DSR/RI/DCD), used for hardware flow control. */
export const IER_MSR = 0x08;
export const IER_WRITABLE = 0x0f;

// IIR: bits 3-1 identify the highest-priority pending interrupt.
/** No interrupt pending: the driver's IRQ loop stops when it reads this bit set. */
export const IIR_NO_INTERRUPT = 0x01;
/** Priority 1: receiver line status; cleared by reading LSR. */
export const IIR_LINE_STATUS = 0x06;
/** Priority 2: RX FIFO reached its trigger level; cleared when it drops below. */
export const IIR_RX_DATA = 0x04;
/** Priority 2: characters sat in the RX FIFO below the trigger level for 4 character times. */
export const IIR_CHAR_TIMEOUT = 0x0c;
/** Priority 3: THR empty; cleared by reading IIR (with this ID) or writing THR. */
export const IIR_THR_EMPTY = 0x02;
/** Priority 4: modem status change; cleared by reading MSR. */
export const IIR_MODEM_STATUS = 0x00;
/** Both bits set when FCR enabled the FIFOs: how Linux recognises a 16550A. */
export const IIR_FIFOS_ENABLED = 0xc0;

// FCR.
/** Enables both FIFOs; toggling it clears them. Other bits are ignored while it is written as 0. */
export const FCR_ENABLE = 0x01;
/** Clears the RX FIFO. */
export const FCR_CLEAR_RX = 0x02;
/** Clears the TX FIFO. */
export const FCR_CLEAR_TX = 0x04;
/** RX trigger level selector (bits 7-6): 1, 4, 8 or 14 bytes. */
export const FCR_TRIGGER_SHIFT = 6;
export const RX_TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/** Depth of each 16550A FIFO; Linux measures it in loopback (size_fifo). */
export const FIFO_DEPTH = 16;

// LCR.
/** Word length select: 5 + (bits 1-0) data bits. */
export const LCR_WORD_LENGTH = 0x03;
/** STB: 2 stop bits (1.5 with 5-bit words). */
export const LCR_TWO_STOP_BITS = 0x04;
/** PEN: parity enabled. */
export const LCR_PARITY = 0x08;
/** Break control: holds the line in the spacing state. */
export const LCR_BREAK = 0x40;
/** DLAB: offsets 0 and 1 address the baud-rate divisor latch instead of RBR/THR and IER. */
export const LCR_DLAB = 0x80;

// MCR.
/** DTR output (DSR input in loopback). */
export const MCR_DTR = 0x01;
/** RTS output (CTS in loopback); drivers drop it for hardware flow control. */
export const MCR_RTS = 0x02;
/** OUT1 (RI in loopback). */
export const MCR_OUT1 = 0x04;
/** OUT2 (DCD in loopback). On PCs it gates the UART's interrupt onto the ISA IRQ line. */
export const MCR_OUT2 = 0x08;
/** LOOP: local loopback; TX feeds RX and the modem outputs feed the modem inputs. */
export const MCR_LOOP = 0x10;
export const MCR_WRITABLE = 0x1f;

// LSR.
/** DR: at least one byte waits in RBR / the RX FIFO. */
export const LSR_DATA_READY = 0x01;
/** OE: a received byte was lost because the RX FIFO was full. */
export const LSR_OVERRUN = 0x02;
/** PE: the byte at the top of the RX FIFO had a parity error. */
export const LSR_PARITY_ERROR = 0x04;
/** FE: the byte at the top of the RX FIFO had no valid stop bit. */
export const LSR_FRAMING_ERROR = 0x08;
/** BI: a break was received (the byte at the top of the FIFO is the 0 that stands for it). */
export const LSR_BREAK = 0x10;
/** THRE: THR / TX FIFO empty; a polling console waits for it before every byte. */
export const LSR_THR_EMPTY = 0x20;
/** TEMT: THR and the transmit shift register empty; tcdrain() waits for it. */
export const LSR_TRANSMITTER_EMPTY = 0x40;
/** At least one byte in the RX FIFO carries a parity, framing or break error. */
export const LSR_FIFO_ERROR = 0x80;
/** The LSR bits a read clears. */
export const LSR_ERRORS = LSR_OVERRUN | LSR_PARITY_ERROR | LSR_FRAMING_ERROR | LSR_BREAK;

// MSR.
/** Delta CTS. */
export const MSR_DCTS = 0x01;
/** Delta DSR. */
export const MSR_DDSR = 0x02;
/** Trailing edge of RI. */
export const MSR_TERI = 0x04;
/** Delta DCD: carrier change, tty hangup detection. */
export const MSR_DDCD = 0x08;
export const MSR_DELTAS = 0x0f;
/** Clear To Send. */
export const MSR_CTS = 0x10;
/** Data Set Ready. */
export const MSR_DSR = 0x20;
/** Ring Indicator. */
export const MSR_RI = 0x40;
/** Data Carrier Detect. */
export const MSR_DCD = 0x80;

/** Input clock / 16: the baud rate at divisor 1 (1.8432 MHz crystal on PCs). */
export const BASE_BAUD = 115_200;
