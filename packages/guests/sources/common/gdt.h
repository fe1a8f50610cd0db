/* The guests' own GDT: the multiboot spec leaves the loader's selectors undefined. */
#ifndef RV_GDT_H
#define RV_GDT_H
#include "io.h"

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_CS (0x18 | 3)
#define USER_DS (0x20 | 3)
#define TSS_SEL 0x28

/* Loads the GDT and reloads every segment register with the kernel selectors. */
void gdt_init(void);
/* Installs an available 32-bit TSS descriptor at TSS_SEL (the caller then runs LTR). */
void gdt_set_tss(u32 base, u32 limit);

#endif
