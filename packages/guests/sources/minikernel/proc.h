/* Processes: a fixed table, one kernel stack page each, switched with swtch (traps.S). */
#ifndef MK_PROC_H
#define MK_PROC_H
#include "mk.h"

#define NPROC 16
enum proc_state { UNUSED, RUNNABLE, RUNNING, SLEEPING, ZOMBIE };

struct proc {
  enum proc_state state;
  int pid;
  char name[12];
  struct proc *parent;
  u32 pgdir;          /* pfn of the page directory */
  u32 kstack;         /* pfn of the kernel stack page */
  u32 esp;            /* saved kernel stack pointer while switched out */
  struct frame *tf;   /* the trap frame at the top of the kernel stack */
  const void *chan;   /* what a sleeping process waits for */
  u32 wake_tick;
  u32 brk;
  int killed;
  int exit_code;
  u32 faults_demand, faults_cow;
  u32 de_resume;      /* where a #DE resumes (SYS_BENCH BENCH_CATCH_DE), 0: it kills */
};

extern struct proc *current;
extern u32 user_image_size;
extern const u8 user_image[];
#endif
