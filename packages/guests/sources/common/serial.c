#include "serial.h"

#define COM1 0x3f8
#define THR (COM1 + 0) /* transmit holding register (DLAB=0) */
#define RBR (COM1 + 0) /* receive buffer register (DLAB=0) */
#define DLL (COM1 + 0) /* divisor latch low (DLAB=1) */
#define IER (COM1 + 1) /* interrupt enable; divisor latch high when DLAB=1 */
#define FCR (COM1 + 2) /* FIFO control */
#define LCR (COM1 + 3) /* line control: word length, DLAB */
#define MCR (COM1 + 4) /* modem control: DTR, RTS, OUT2 gates the IRQ line on a PC */
#define LSR (COM1 + 5) /* line status */
#define LSR_DR 0x01    /* data ready */
#define LSR_THRE 0x20  /* transmit holding register empty */
#define IER_RDA 0x01   /* interrupt on received data available */

void serial_init(int rx_interrupts) {
  outb(IER, 0);
  outb(LCR, 0x80); /* DLAB: program 115200 baud (divisor 1) */
  outb(DLL, 1);
  outb(IER, 0);
  outb(LCR, 0x03); /* 8N1 */
  outb(FCR, 0x07); /* enable and clear FIFOs */
  outb(MCR, 0x0b); /* DTR | RTS | OUT2 */
  outb(IER, rx_interrupts ? IER_RDA : 0);
}

void serial_putc(char c) {
  if (c == '\n') serial_putc('\r');
  while ((inb(LSR) & LSR_THRE) == 0) {
  }
  outb(THR, (u8)c);
}

void serial_puts(const char *s) {
  while (*s) serial_putc(*s++);
}

void serial_put_dec(u32 value) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value);
  while (n) serial_putc(digits[--n]);
}

void serial_put_hex(u32 value) {
  serial_puts("0x");
  for (int shift = 28; shift >= 0; shift -= 4) serial_putc("0123456789abcdef"[(value >> shift) & 0xf]);
}

int serial_getc_nowait(void) {
  return (inb(LSR) & LSR_DR) ? inb(RBR) : -1;
}
