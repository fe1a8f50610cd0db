/* IDT, interrupt stubs (isr.S) and a per-vector handler table. */
#ifndef RV_INTERRUPTS_H
#define RV_INTERRUPTS_H
#include "io.h"

/* What isr.S pushes: segment registers, PUSHA, vector, error code, then the CPU's frame. */
struct frame {
  u32 gs, fs, es, ds;
  u32 edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax;
  u32 vector, error;
  u32 eip, cs, eflags;
  u32 user_esp, user_ss; /* only when the interrupt came from ring 3 */
};

typedef void (*interrupt_handler)(struct frame *frame);

#define IRQ_BASE 0x20
#define SYSCALL_VECTOR 0x80

void idt_init(void);
/* Routes `vector` to `handler`; `user` lets ring 3 raise it with INT (the syscall gate). */
void set_handler(u8 vector, interrupt_handler handler, int user);

#endif
