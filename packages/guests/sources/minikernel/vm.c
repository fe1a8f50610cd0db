/* Process address spaces: a page directory per process sharing the kernel's page tables, user pages
   filled on demand (the program image from the kernel's copy, heap and stack zeroed), and
   copy-on-write after fork: both sides map the frame read-only with PTE_COW until one writes. */
#include "arch.h"
#include "proc.h"

u32 vm_create(void) {
  u32 pfn = page_alloc();
  if (!pfn) return 0;
  u32 *dir = pfn_va(pfn);
  const u32 *master = master_pgdir();
  for (u32 slot = KERNEL_FIRST_SLOT; slot <= KERNEL_LAST_SLOT; slot++) dir[slot] = master[slot];
  ops->pin_table(pfn, 2);
  return pfn;
}

/* The page-table entry for `address`, creating its page table when `create`; NULL if absent. */
static u32 *pte_of(u32 pgdir, u32 address, int create) {
  u32 *dir = pfn_va(pgdir);
  u32 *pde = &dir[address >> 22];
  if (!(*pde & PTE_P)) {
    if (!create) return NULL;
    u32 table = page_alloc();
    if (!table) return NULL;
    ops->pin_table(table, 1);
    ops->set_pde(pde, ops->make_pte(table, PTE_P | PTE_W | PTE_U));
  }
  u32 *table = pfn_va(ops->pte_pfn(*pde));
  return &table[(address >> 12) & 1023];
}

u32 vm_fork(u32 parent) {
  u32 child = vm_create();
  if (!child) return 0;
  u32 *pdir = pfn_va(parent);
  ops->lazy_mmu(1);
  for (u32 slot = 0; slot < KERNEL_FIRST_SLOT; slot++) {
    if (!(pdir[slot] & PTE_P)) continue;
    u32 *ptable = pfn_va(ops->pte_pfn(pdir[slot]));
    for (u32 i = 0; i < 1024; i++) {
      u32 pte = ptable[i];
      if (!(pte & PTE_P)) continue;
      u32 address = (slot << 22) | (i << 12);
      u32 *cpte = pte_of(child, address, 1);
      if (!cpte) {
        ops->flush_tlb();
        ops->lazy_mmu(0);
        vm_destroy(child);
        return 0;
      }
      if (pte & (PTE_W | PTE_COW)) {
        pte = (pte & ~PTE_W) | PTE_COW;
        ops->set_pte(&ptable[i], pte);
      }
      page_get(ops->pte_pfn(pte));
      ops->set_pte(cpte, pte);
    }
  }
  ops->flush_tlb(); /* the parent's writable entries just became read-only */
  ops->lazy_mmu(0);
  return child;
}

void vm_destroy(u32 pgdir) {
  u32 *dir = pfn_va(pgdir);
  ops->unpin_table(pgdir);
  for (u32 slot = 0; slot < KERNEL_FIRST_SLOT; slot++) {
    if (!(dir[slot] & PTE_P)) continue;
    u32 table = ops->pte_pfn(dir[slot]);
    u32 *entries = pfn_va(table);
    for (u32 i = 0; i < 1024; i++)
      if (entries[i] & PTE_P) page_put(ops->pte_pfn(entries[i]));
    ops->unpin_table(table);
    page_put(table);
  }
  page_put(pgdir);
}

/* Fills a fresh frame for a demand fault at `page`, or returns 0 for an address no region covers. */
static u32 demand_frame(struct proc *p, u32 page) {
  u32 image_end = USER_IMAGE + ((user_image_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
  int image = page >= USER_IMAGE && page < image_end;
  int heap = page >= USER_HEAP && page < p->brk;
  int stack = page >= USER_STACK_TOP - USER_STACK_PAGES * PAGE_SIZE && page < USER_STACK_TOP;
  if (!image && !heap && !stack) return 0;
  u32 pfn = page_alloc();
  if (pfn && image) {
    u32 offset = page - USER_IMAGE;
    u32 n = user_image_size - offset < PAGE_SIZE ? user_image_size - offset : PAGE_SIZE;
    memcpy(pfn_va(pfn), user_image + offset, n);
  }
  return pfn;
}

int vm_fault(struct proc *p, u32 address, int write) {
  if (address >= USER_TOP) return -1;
  u32 page = address & ~(PAGE_SIZE - 1);
  u32 *pte = pte_of(p->pgdir, page, 1);
  if (!pte) return -1;
  if (!(*pte & PTE_P)) {
    u32 pfn = demand_frame(p, page);
    if (!pfn) return -1;
    ops->set_pte(pte, ops->make_pte(pfn, PTE_P | PTE_W | PTE_U));
    p->faults_demand++;
    return 0;
  }
  if (!write || !(*pte & PTE_COW)) return -1; /* a protection fault on a page that is really read-only */
  u32 old = ops->pte_pfn(*pte);
  if (page_refs(old) == 1) {
    ops->set_pte(pte, ops->make_pte(old, PTE_P | PTE_W | PTE_U));
  } else {
    u32 copy = page_alloc();
    if (!copy) return -1;
    memcpy(pfn_va(copy), pfn_va(old), PAGE_SIZE);
    ops->set_pte(pte, ops->make_pte(copy, PTE_P | PTE_W | PTE_U));
    page_put(old);
  }
  ops->invlpg(page);
  p->faults_cow++;
  return 0;
}

/* Makes [address, address + length) accessible to the kernel on the process's behalf, taking the
   faults the process would have taken; -1 if any page is outside its address space. */
int vm_user_range(struct proc *p, u32 address, u32 length, int write) {
  if (address >= USER_TOP || length > USER_TOP - address) return -1;
  for (u32 page = address & ~(PAGE_SIZE - 1); page < address + length; page += PAGE_SIZE) {
    u32 *pte = pte_of(p->pgdir, page, 0);
    if (pte && (*pte & PTE_P) && (!write || (*pte & PTE_W))) continue;
    if (vm_fault(p, page, write) < 0) return -1;
  }
  return 0;
}

int vm_rewrite_pte(struct proc *p, u32 address, u32 count) {
  if (vm_user_range(p, address, 1, 1) < 0) return -1;
  u32 page = address & ~(PAGE_SIZE - 1);
  u32 *pte = pte_of(p->pgdir, page, 0);
  for (u32 i = 0; i < count; i++) {
    ops->set_pte(pte, *pte);
    ops->invlpg(page);
  }
  return 0;
}
