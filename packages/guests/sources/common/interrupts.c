#include "interrupts.h"
#include "gdt.h"
#include "pic-pit.h"
#include "serial.h"

extern const u32 isr_table[64];
extern void isr128(void);

struct __attribute__((packed)) gate {
  u16 offset_low, selector;
  u8 zero, type_attr;
  u16 offset_high;
};

static struct gate idt[256];
static interrupt_handler handlers[256];

static void set_gate(u8 vector, u32 stub, u8 dpl) {
  idt[vector] = (struct gate){ (u16)stub, KERNEL_CS, 0, (u8)(0x8e | (dpl << 5)), (u16)(stub >> 16) };
}

void idt_init(void) {
  for (int vector = 0; vector < 64; vector++) set_gate((u8)vector, isr_table[vector], 0);
  set_gate(SYSCALL_VECTOR, (u32)isr128, 3);
  struct __attribute__((packed)) { u16 limit; u32 base; } idtr = { sizeof idt - 1, (u32)idt };
  __asm__ volatile("lidt %0" : : "m"(idtr));
}

void idt_set_gate(u8 vector, u8 type_attr) {
  u32 stub = vector == SYSCALL_VECTOR ? (u32)isr128 : vector < 64 ? isr_table[vector] : 0;
  if (stub) idt[vector] = (struct gate){ (u16)stub, KERNEL_CS, 0, type_attr, (u16)(stub >> 16) };
}

void set_handler(u8 vector, interrupt_handler handler, int user) {
  handlers[vector] = handler;
  if (vector == SYSCALL_VECTOR) set_gate(vector, (u32)isr128, user ? 3 : 0);
}

void interrupt_dispatch(struct frame *frame) {
  interrupt_handler handler = handlers[frame->vector];
  if (handler) {
    handler(frame);
  } else if (frame->vector < IRQ_BASE) {
    serial_puts("\nunhandled exception ");
    serial_put_dec(frame->vector);
    serial_puts(" at ");
    serial_put_hex(frame->eip);
    serial_puts(", error code ");
    serial_put_hex(frame->error);
    serial_putc('\n');
    guest_exit(3);
  }
  if (frame->vector >= IRQ_BASE && frame->vector < IRQ_BASE + 16) pic_eoi((u8)(frame->vector - IRQ_BASE));
}
