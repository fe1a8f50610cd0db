/* COM1, 16550 UART at 0x3f8: polled output, optional receive interrupts (IRQ 4). */
#ifndef RV_SERIAL_H
#define RV_SERIAL_H
#include "io.h"

void serial_init(int rx_interrupts);
void serial_putc(char c);
void serial_puts(const char *s);
void serial_put_dec(u32 value);
void serial_put_hex(u32 value);
/* Next received byte, or -1 when the receiver holds none. */
int serial_getc_nowait(void);

#endif
