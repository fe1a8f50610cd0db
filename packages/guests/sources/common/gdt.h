/* The guests' own GDT: the multiboot spec leaves the loader's selectors undefined. */
#ifndef RV_GDT_H
#define RV_GDT_H
#include "io.h"

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_CS (0x18 | 3)
#define USER_DS (0x20 | 3)
#define TSS_SEL 0x28
/* Entries 6 and up are free for a guest's own descriptors (gdt_set). */
#define GDT_ENTRIES 16

/* Loads the GDT and reloads every segment register with the kernel selectors. */
void gdt_init(void);
/* Installs an available 32-bit TSS descriptor at TSS_SEL (the caller then runs LTR). */
void gdt_set_tss(u32 base, u32 limit);

/* A code/data or system segment descriptor: `access` is the P/DPL/S/type byte, `flags` G, D/B, L, AVL. */
u64 gdt_descriptor(u32 base, u32 limit, u8 access, u8 flags);
/* Writes entry `index` (1..GDT_ENTRIES-1; the null entry stays null). */
void gdt_set(u32 index, u64 descriptor);

#endif
