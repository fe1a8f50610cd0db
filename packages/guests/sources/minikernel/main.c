/* The kernel proper starts here on both builds, with the direct map as the loader left it. */
#include "arch.h"
#include "proc.h"

void kmain(const struct boot_memory *boot) {
  mm_init(boot);
  arch_late_init();
  kputs("minikernel: ring-3 processes, paging on demand, copy-on-write fork\n");
  proc_start_init();
  scheduler();
}
