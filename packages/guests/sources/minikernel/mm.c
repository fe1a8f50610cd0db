/* Page frames: a free list threaded through the free frames themselves (reached by the direct map),
   a reference count per frame (frames shared copy-on-write after fork), and the direct map itself,
   grown at boot from what the loader mapped to all RAM the kernel uses. */
#include "arch.h"

static u16 refs[MAX_PAGES];
static u32 free_head;     /* pfn of the first free frame, 0 = none (frame 0 is never handed out) */
static u32 free_count;
static u32 bump_next, bump_limit; /* boot-time allocation from frames already mapped */
static u32 *pgdir_master;
static u32 *fixmap_table;

u32 *master_pgdir(void) { return pgdir_master; }
u32 free_pages(void) { return free_count; }

static u32 bump_alloc(void) {
  if (bump_next >= bump_limit) panic("out of boot-mapped frames", bump_next);
  u32 pfn = bump_next++;
  memset(pfn_va(pfn), 0, PAGE_SIZE);
  return pfn;
}

/* A new kernel page table, filled while still writable, then handed to the MMU and linked in. */
static u32 *new_kernel_table(u32 slot, u32 first_pfn, u32 count) {
  u32 pfn = bump_alloc();
  u32 *table = pfn_va(pfn);
  for (u32 i = 0; i < count; i++) table[i] = ops->make_pte(first_pfn + i, PTE_P | PTE_W);
  ops->pin_table(pfn, 1);
  ops->set_pde(&pgdir_master[slot], ops->make_pte(pfn, PTE_P | PTE_W));
  return table;
}

void mm_init(const struct boot_memory *boot) {
  u32 nr_pages = boot->nr_pages < MAX_PAGES ? boot->nr_pages : MAX_PAGES;
  pgdir_master = boot->master_pgdir;
  bump_next = boot->first_free_pfn;
  bump_limit = boot->mapped_pfns;
  /* Extend the direct map 4 MiB (one page table) at a time: the partial last table the loader made
     gets its remaining entries (sent in batches), the rest get new tables. */
  ops->lazy_mmu(1);
  for (u32 pfn = boot->mapped_pfns; pfn < nr_pages;) {
    u32 slot = KERNEL_FIRST_SLOT + (pfn >> 10);
    u32 end = ((pfn >> 10) + 1) << 10;
    if (end > nr_pages) end = nr_pages;
    u32 pde = pgdir_master[slot];
    if (pde & PTE_P) {
      u32 *table = pfn_va(ops->pte_pfn(pde));
      for (u32 p = pfn; p < end; p++) ops->set_pte(&table[p & 1023], ops->make_pte(p, PTE_P | PTE_W));
    } else {
      new_kernel_table(slot, pfn & ~1023u, end - (pfn & ~1023u));
    }
    pfn = end;
  }
  ops->flush_tlb();
  ops->lazy_mmu(0);
  fixmap_table = new_kernel_table(FIXMAP_SLOT, 0, 0);
  /* Everything after the boot allocations is free. */
  for (u32 pfn = nr_pages; pfn-- > bump_next;) {
    *(u32 *)pfn_va(pfn) = free_head;
    free_head = pfn;
    free_count++;
  }
}

u32 page_alloc(void) {
  u32 pfn = free_head;
  if (!pfn) return 0;
  free_head = *(u32 *)pfn_va(pfn);
  free_count--;
  memset(pfn_va(pfn), 0, PAGE_SIZE);
  refs[pfn] = 1;
  return pfn;
}

void page_get(u32 pfn) { refs[pfn]++; }
u32 page_refs(u32 pfn) { return refs[pfn]; }

void page_put(u32 pfn) {
  if (refs[pfn] == 0) panic("page_put of a free frame", pfn);
  if (--refs[pfn]) return;
  *(u32 *)pfn_va(pfn) = free_head;
  free_head = pfn;
  free_count++;
}

u32 *fixmap(u32 index, u32 raw_pte) {
  u32 address = FIXMAP_BASE + (index << PAGE_SHIFT);
  ops->set_pte(&fixmap_table[index], raw_pte);
  ops->invlpg(address);
  return (u32 *)address;
}
