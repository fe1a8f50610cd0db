#include "gdt.h"

static u64 gdt[GDT_ENTRIES];

u64 gdt_descriptor(u32 base, u32 limit, u8 access, u8 flags) {
  return (limit & 0xffffull) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40)
      | ((u64)((limit >> 16) & 0xf) << 48) | ((u64)(flags & 0xf) << 52) | ((u64)(base >> 24) << 56);
}

void gdt_init(void) {
  gdt[1] = gdt_descriptor(0, 0xfffff, 0x9a, 0xc); /* ring 0 code, 4 GiB, 32-bit */
  gdt[2] = gdt_descriptor(0, 0xfffff, 0x92, 0xc); /* ring 0 data */
  gdt[3] = gdt_descriptor(0, 0xfffff, 0xfa, 0xc); /* ring 3 code */
  gdt[4] = gdt_descriptor(0, 0xfffff, 0xf2, 0xc); /* ring 3 data */
  struct __attribute__((packed)) { u16 limit; u32 base; } gdtr = { sizeof gdt - 1, (u32)gdt };
  __asm__ volatile(
      "lgdt %0\n\t"
      "ljmp %1, $1f\n"
      "1:\n\t"
      "mov %2, %%ax\n\t"
      "mov %%ax, %%ds\n\t"
      "mov %%ax, %%es\n\t"
      "mov %%ax, %%fs\n\t"
      "mov %%ax, %%gs\n\t"
      "mov %%ax, %%ss"
      : : "m"(gdtr), "i"(KERNEL_CS), "i"(KERNEL_DS) : "eax", "memory");
}

void gdt_set_tss(u32 base, u32 limit) {
  gdt[5] = gdt_descriptor(base, limit, 0x89, 0x0);
}

void gdt_set(u32 index, u64 descriptor) {
  if (index > 0 && index < GDT_ENTRIES) gdt[index] = descriptor;
}
