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

/* Interrupt gates to the stubs of vectors 0-63 (DPL 0) and SYSCALL_VECTOR (DPL 3). */
void idt_init(void);
/* Rewrites the gate of a vector that has a stub (0-63, SYSCALL_VECTOR): `type_attr` is the
   P/DPL/type byte, e.g. 0x8e interrupt gate DPL 0, 0xef trap gate DPL 3, 0x6e not present. */
void idt_set_gate(u8 vector, u8 type_attr);
/* Routes `vector` to `handler`; `user` lets ring 3 raise it with INT (the syscall gate). */
void set_handler(u8 vector, interrupt_handler handler, int user);

#endif
