#include "paging.h"

#define PTE_PRESENT 0x1
#define PTE_WRITABLE 0x2
#define PTE_USER 0x4
#define CR0_PG 0x80000000u
#define CR0_WP 0x00010000u
#define MAPPED_TABLES 2 /* 2 × 4 MiB */

extern char __user_start[], __user_end[];

static u32 page_directory[1024] __attribute__((aligned(4096)));
static u32 page_tables[MAPPED_TABLES][1024] __attribute__((aligned(4096)));

int is_user_range(u32 address, u32 length) {
  u32 start = (u32)__user_start, end = (u32)__user_end;
  return address >= start && address <= end && length <= end - address;
}

void paging_init(void) {
  for (u32 table = 0; table < MAPPED_TABLES; table++) {
    for (u32 entry = 0; entry < 1024; entry++) {
      u32 address = (table * 1024 + entry) * 4096;
      u32 flags = PTE_PRESENT | PTE_WRITABLE;
      if (address >= (u32)__user_start && address < (u32)__user_end) flags |= PTE_USER;
      /* Page 0 stays unmapped so a null pointer faults. */
      page_tables[table][entry] = address == 0 ? 0 : address | flags;
    }
    page_directory[table] = (u32)page_tables[table] | PTE_PRESENT | PTE_WRITABLE | PTE_USER;
  }
  u32 cr0;
  __asm__ volatile("mov %0, %%cr3" : : "r"(page_directory) : "memory");
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | CR0_PG | CR0_WP) : "memory");
}

u32 *paging_pte(u32 address) {
  return address < MAPPED_TABLES * 1024 * 4096 ? &page_tables[address >> 22][(address >> 12) & 1023] : 0;
}
