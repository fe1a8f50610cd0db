/* The operations whose bare-metal and Xen PV forms differ: one table per build (paravirt_ops). */
#ifndef MK_ARCH_H
#define MK_ARCH_H
#include "mk.h"

struct arch_ops {
  /* Page tables: entries hold machine frames under Xen, so the core builds and reads them here. */
  u32 (*make_pte)(u32 pfn, u32 flags);
  u32 (*pte_pfn)(u32 pte);
  void (*set_pte)(u32 *entry, u32 value);   /* a page-table entry (may be batched, see lazy_mmu) */
  void (*set_pde)(u32 *entry, u32 value);   /* a page-directory entry (immediate: walks read it) */
  /* Between lazy_mmu(1) and lazy_mmu(0) page-table updates may be queued and sent as one batch,
     as Linux's lazy MMU mode does; the core reads no entry it changed in between. */
  void (*lazy_mmu)(int on);
  void (*invlpg)(u32 address);
  void (*flush_tlb)(void);
  void (*pin_table)(u32 pfn, int level);    /* a frame becomes a page table (1) or directory (2) */
  void (*unpin_table)(u32 pfn);             /* and back to an ordinary writable frame */
  void (*load_pgdir)(u32 pfn);
  void (*set_kernel_stack)(u32 top);        /* where traps from ring 3 land */
  u32 (*fault_address)(void);
  /* Interrupts stay off in the kernel; idle enables them, waits for one and disables them again. */
  void (*idle)(void);
  void (*interrupt)(struct frame *f);       /* device IRQ or event upcall */
  /* Console: write bytes; read one byte or -1 (then input raises console_wakeup()). */
  void (*console_write)(const char *s, u32 n);
  int (*console_getc)(void);
  /* Block device: 512-byte sectors; 0 = ok, -1 = error or no disk. */
  u32 (*disk_sectors)(void);
  int (*disk_rw)(u32 sector, u8 *buffer, int write);
  __attribute__((noreturn)) void (*poweroff)(int crash);
  /* The build-specific nanobenchmark steps (BENCH_IN, _OUT, _CR0, _CR4, _SYSENTER): 0, or -1 if it
     has none. */
  int (*bench)(u32 op, u32 count);
};

extern const struct arch_ops *ops;

/* Entry from the architecture's boot code once it can print and has its memory figured out. */
__attribute__((noreturn)) void kmain(const struct boot_memory *boot);
/* The architecture's second step, after the page allocator works: devices and the timer. */
void arch_late_init(void);
/* traps.S */
void trap_return(void);
void swtch(u32 *save_esp, u32 new_esp);

#endif
