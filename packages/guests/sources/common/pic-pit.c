#include "pic-pit.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define ICW1_INIT_ICW4 0x11
#define ICW4_8086 0x01
#define OCW2_EOI 0x20
#define PIT_CH0 0x40
#define PIT_MODE 0x43
#define PIT_CH0_LOHI_MODE3 0x36
#define PIT_HZ 1193182

void pic_remap(u8 base) {
  outb(PIC1_CMD, ICW1_INIT_ICW4);
  outb(PIC2_CMD, ICW1_INIT_ICW4);
  outb(PIC1_DATA, base);
  outb(PIC2_DATA, (u8)(base + 8));
  outb(PIC1_DATA, 1 << 2); /* slave on IR2 */
  outb(PIC2_DATA, 2);      /* slave identity */
  outb(PIC1_DATA, ICW4_8086);
  outb(PIC2_DATA, ICW4_8086);
  outb(PIC1_DATA, 0xff & ~(1 << 2));
  outb(PIC2_DATA, 0xff);
}

void pic_unmask(u8 irq) {
  u16 port = irq < 8 ? PIC1_DATA : PIC2_DATA;
  outb(port, inb(port) & ~(1 << (irq & 7)));
}

void pic_eoi(u8 irq) {
  if (irq >= 8) outb(PIC2_CMD, OCW2_EOI);
  outb(PIC1_CMD, OCW2_EOI);
}

void pit_set_frequency(u32 hz) {
  u32 divisor = (PIT_HZ + hz / 2) / hz;
  outb(PIT_MODE, PIT_CH0_LOHI_MODE3);
  outb(PIT_CH0, (u8)divisor);
  outb(PIT_CH0, (u8)(divisor >> 8));
}
