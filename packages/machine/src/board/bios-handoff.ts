// What PC firmware leaves programmed when it hands over to a boot loader, for a board whose guest a
// loader starts directly (Multiboot, Linux, flat) with no firmware to run. Written through the port
// bus, as the firmware's own OUT instructions would be, so the devices end in the state their
// registers describe. The values are SeaBIOS's (QEMU's default firmware) where it programs a device.
import type { PortIoBus } from '@ringvisor/devices';

const PIC_MASTER_COMMAND = 0x20;
const PIC_MASTER_DATA = 0x21;
const PIC_SLAVE_COMMAND = 0xa0;
const PIC_SLAVE_DATA = 0xa1;
/** ICW1: edge-triggered, cascade, ICW4 follows. */
const ICW1_EDGE_CASCADE_ICW4 = 0x11;
/** The real-mode vector bases every PC BIOS uses: IRQ 0-7 at INT 08h, IRQ 8-15 at INT 70h. */
export const BIOS_MASTER_VECTOR_BASE = 0x08;
export const BIOS_SLAVE_VECTOR_BASE = 0x70;
/** ICW3: the slave sits on master input 2. */
const ICW3_MASTER_SLAVE_ON_IRQ2 = 0x04;
const ICW3_SLAVE_ID_2 = 0x02;
/** ICW4: 8086 mode, normal EOI. */
const ICW4_8086 = 0x01;
/**
 * Every line masked but the cascade, as SeaBIOS's PIC setup leaves them before it installs its own
 * handlers: a directly loaded guest has no handler at INT 08h-0Fh/70h-77h (no BIOS IVT, or its own
 * IDT where those are exception vectors), so an unmasked line would vector into nothing. A kernel
 * unmasks the lines it serves.
 */
export const BIOS_MASTER_IMR = 0xfb;
export const BIOS_SLAVE_IMR = 0xff;

const PIT_CONTROL = 0x43;
const PIT_COUNTER0 = 0x40;
/** Counter 0, LSB then MSB, mode 3 (square wave), binary: the 18.2 Hz BIOS tick with count 0 (65536). */
const PIT_COUNTER0_MODE3_WORD = 0x36;

const UART_LCR = 3;
const UART_DLL = 0;
const UART_DLM = 1;
const LCR_DLAB = 0x80;
/** 8 data bits, no parity, one stop bit. */
const LCR_8N1 = 0x03;
/** Divisor 1: 115200 baud, the rate firmware serial consoles use. */
const DIVISOR_115200 = 1;

/**
 * Programs the 8259 pair (vector bases 0x08/0x70, lines masked but the cascade), PIT counter 0
 * (mode 3, 18.2 Hz) and COM1 (115200 baud, 8N1) the way a PC BIOS leaves them after POST.
 */
export function programAsBiosLeavesIt(io: PortIoBus, com1: number): void {
  const outb = (port: number, value: number): void => io.write(port, 1, value);
  outb(PIC_MASTER_COMMAND, ICW1_EDGE_CASCADE_ICW4);
  outb(PIC_MASTER_DATA, BIOS_MASTER_VECTOR_BASE);
  outb(PIC_MASTER_DATA, ICW3_MASTER_SLAVE_ON_IRQ2);
  outb(PIC_MASTER_DATA, ICW4_8086);
  outb(PIC_SLAVE_COMMAND, ICW1_EDGE_CASCADE_ICW4);
  outb(PIC_SLAVE_DATA, BIOS_SLAVE_VECTOR_BASE);
  outb(PIC_SLAVE_DATA, ICW3_SLAVE_ID_2);
  outb(PIC_SLAVE_DATA, ICW4_8086);
  outb(PIC_MASTER_DATA, BIOS_MASTER_IMR);
  outb(PIC_SLAVE_DATA, BIOS_SLAVE_IMR);

  outb(PIT_CONTROL, PIT_COUNTER0_MODE3_WORD);
  outb(PIT_COUNTER0, 0);
  outb(PIT_COUNTER0, 0);

  outb(com1 + UART_LCR, LCR_DLAB | LCR_8N1);
  outb(com1 + UART_DLL, DIVISOR_115200);
  outb(com1 + UART_DLM, 0);
  outb(com1 + UART_LCR, LCR_8N1);
}
