/* Processes, the scheduler, traps and system calls. The kernel runs with interrupts off; only the
   idle loop takes them, and a timer tick that lands in ring 3 preempts the process. */
#include "arch.h"
#include "proc.h"
#include "syscall.h"

static struct proc procs[NPROC];
struct proc *current;
static u32 scheduler_esp;
static int next_pid = 1;
static u32 ticks;
static int need_resched;
static const char console_chan, ticks_chan;

static const char *const program_names[] = { "shell", "child", "spin" };

static void sleep_on(const void *chan) {
  current->chan = chan;
  current->state = SLEEPING;
  swtch(&current->esp, scheduler_esp);
}

static void wakeup(const void *chan) {
  for (struct proc *p = procs; p < procs + NPROC; p++)
    if (p->state == SLEEPING && p->chan == chan) p->state = RUNNABLE;
}

static void yield(void) {
  current->state = RUNNABLE;
  swtch(&current->esp, scheduler_esp);
}

void timer_tick(void) {
  ticks++;
  for (struct proc *p = procs; p < procs + NPROC; p++)
    if (p->state == SLEEPING && p->chan == &ticks_chan && ticks >= p->wake_tick) p->state = RUNNABLE;
  need_resched = 1;
}

void console_wakeup(void) { wakeup(&console_chan); }

void scheduler(void) {
  struct proc *last = procs;
  for (;;) {
    struct proc *pick = NULL;
    for (int i = 1; i <= NPROC && !pick; i++) {
      struct proc *p = procs + (last - procs + i) % NPROC;
      if (p->state == RUNNABLE) pick = p;
    }
    if (!pick) {
      ops->idle();
      continue;
    }
    last = current = pick;
    pick->state = RUNNING;
    need_resched = 0;
    ops->set_kernel_stack((u32)pfn_va(pick->kstack) + PAGE_SIZE);
    ops->load_pgdir(pick->pgdir);
    swtch(&scheduler_esp, pick->esp);
    current = NULL;
  }
}

/* A process whose kernel stack holds just its trap frame and a return into trap_return. */
static struct proc *proc_alloc(void) {
  struct proc *p = procs;
  while (p < procs + NPROC && p->state != UNUSED) p++;
  if (p == procs + NPROC) return NULL;
  u32 kstack = page_alloc();
  if (!kstack) return NULL;
  memset(p, 0, sizeof *p);
  p->kstack = kstack;
  p->pid = next_pid++;
  u32 top = (u32)pfn_va(kstack) + PAGE_SIZE;
  p->tf = (struct frame *)(top - sizeof(struct frame));
  u32 *sp = (u32 *)p->tf;
  *--sp = (u32)trap_return;
  sp -= 4; /* ebp, ebx, esi, edi popped by swtch */
  p->esp = (u32)sp;
  return p;
}

static void set_name(struct proc *p, const char *name) {
  u32 n = strlen(name);
  if (n >= sizeof p->name) n = sizeof p->name - 1;
  memcpy(p->name, name, n);
  p->name[n] = 0;
}

/* A fresh user frame at the program's entry: EAX = program, EBX = argument. */
static void start_frame(struct frame *f, u32 program, u32 argument) {
  memset(f, 0, sizeof *f);
  f->ds = f->es = f->fs = f->gs = f->ss = USER_DS;
  f->cs = USER_CS;
  f->eip = USER_IMAGE;
  f->esp = USER_STACK_TOP;
  f->eflags = 0x202; /* IF */
  f->eax = program;
  f->ebx = argument;
}

void proc_start_init(void) {
  struct proc *p = proc_alloc();
  if (!p || !(p->pgdir = vm_create())) panic("cannot create the first process", 0);
  set_name(p, program_names[PROG_SHELL]);
  p->brk = USER_HEAP;
  start_frame(p->tf, PROG_SHELL, 0);
  p->state = RUNNABLE;
}

static void proc_exit(int code) {
  current->exit_code = code;
  current->state = ZOMBIE;
  for (struct proc *p = procs; p < procs + NPROC; p++)
    if (p->parent == current) p->parent = procs[0].state != UNUSED ? &procs[0] : NULL;
  if (current->parent) wakeup(current->parent);
  swtch(&current->esp, scheduler_esp);
  panic("a zombie ran", current->pid);
}

static int sys_fork(void) {
  struct proc *child = proc_alloc();
  if (!child) return -1;
  child->pgdir = vm_fork(current->pgdir);
  if (!child->pgdir) {
    page_put(child->kstack);
    child->state = UNUSED;
    return -1;
  }
  *child->tf = *current->tf;
  child->tf->eax = 0;
  child->parent = current;
  child->brk = current->brk;
  memcpy(child->name, current->name, sizeof child->name);
  child->state = RUNNABLE;
  return child->pid;
}

static int sys_exec(u32 program, u32 argument) {
  if (program >= sizeof program_names / sizeof program_names[0]) return -1;
  u32 pgdir = vm_create();
  if (!pgdir) return -1;
  u32 old = current->pgdir;
  current->pgdir = pgdir;
  ops->load_pgdir(pgdir);
  vm_destroy(old);
  current->brk = USER_HEAP;
  current->de_resume = 0;
  set_name(current, program_names[program]);
  start_frame(current->tf, program, argument);
  return 0;
}

static int sys_wait(u32 status_address) {
  if (status_address && vm_user_range(current, status_address, 4, 1) < 0) return -1;
  for (;;) {
    int children = 0;
    for (struct proc *p = procs; p < procs + NPROC; p++) {
      if (p->parent != current || p->state == UNUSED) continue;
      children++;
      if (p->state != ZOMBIE) continue;
      int pid = p->pid;
      if (status_address) *(int *)status_address = p->exit_code;
      vm_destroy(p->pgdir);
      page_put(p->kstack);
      p->state = UNUSED;
      p->parent = NULL;
      return pid;
    }
    if (!children || current->killed) return -1;
    sleep_on(current);
  }
}

static int sys_kill(int pid) {
  for (struct proc *p = procs; p < procs + NPROC; p++) {
    if (p->pid != pid || p->state == UNUSED || p->state == ZOMBIE) continue;
    p->killed = 1;
    if (p->state == SLEEPING) p->state = RUNNABLE;
    return 0;
  }
  return -1;
}

static int sys_write(u32 address, u32 length) {
  if (vm_user_range(current, address, length, 0) < 0) return -1;
  kwrite((const char *)address, length);
  return (int)length;
}

/* Reads one line, echoing what it consumes: input typed ahead appears when it is read, so the
   transcript is the same however the input was paced. */
static int sys_readline(u32 address, u32 size) {
  static int after_cr;
  if (size == 0 || vm_user_range(current, address, size, 1) < 0) return -1;
  char *line = (char *)address;
  u32 n = 0;
  for (;;) {
    int c = ops->console_getc();
    if (c < 0) {
      if (current->killed) return -1;
      sleep_on(&console_chan);
      continue;
    }
    int was_cr = after_cr;
    after_cr = c == '\r';
    if (c == '\n' && was_cr) continue;
    if (c == '\r' || c == '\n') {
      kputs("\n");
      line[n] = 0;
      return (int)n;
    }
    if ((c == 8 || c == 127) && n) {
      n--;
      kputs("\b \b");
    } else if (c >= 32 && c < 127 && n + 1 < size) {
      char ch = (char)c;
      line[n++] = ch;
      kwrite(&ch, 1);
    }
  }
}

static u32 sys_sbrk(u32 increment) {
  u32 old = current->brk;
  if (increment > USER_HEAP_MAX - old) return (u32)-1;
  current->brk = old + increment;
  return old;
}

static void sys_ps(void) {
  static const char *const states[] = { "unused", "runnable", "running", "sleeping", "zombie" };
  kputs("  PID  PPID  STATE     NAME\n");
  for (struct proc *p = procs; p < procs + NPROC; p++) {
    if (p->state == UNUSED) continue;
    char pid[12] = "     ";
    kputs("  ");
    kput_dec((u32)p->pid);
    kwrite(pid, p->pid < 10 ? 4 : 3);
    kput_dec(p->parent ? (u32)p->parent->pid : 0);
    kwrite(pid, 5);
    kput_padded(states[p->state], 10);
    kputs(p->name);
    kputs("\n");
  }
}

static int sys_disk(u32 op, u32 sector, u32 address) {
  static u8 bounce[512];
  if (op == DISK_SECTORS) return (int)ops->disk_sectors();
  if (op != DISK_READ && op != DISK_WRITE) return -1;
  if (vm_user_range(current, address, sizeof bounce, op == DISK_READ) < 0) return -1;
  if (op == DISK_WRITE) memcpy(bounce, (void *)address, sizeof bounce);
  if (ops->disk_rw(sector, bounce, op == DISK_WRITE) < 0) return -1;
  if (op == DISK_READ) memcpy((void *)address, bounce, sizeof bounce);
  return 0;
}

static int sys_bench(u32 op, u32 count, u32 argument) {
  switch (op) {
  case BENCH_CR3:
    for (u32 i = 0; i < count; i++) ops->load_pgdir(current->pgdir);
    return 0;
  case BENCH_INVLPG: return vm_rewrite_pte(current, argument, count);
  case BENCH_CATCH_DE: current->de_resume = argument; return 0;
  default: return ops->bench(op, count);
  }
}

static void syscall(struct frame *f) {
  /* By SYSENTER, ECX and EDX carry the return ESP and EIP (syscall.h). */
  int fast = f->vector == VECTOR_SYSENTER;
  u32 a = f->ebx, b = fast ? f->esi : f->ecx, c = fast ? f->edi : f->edx;
  int result = -1;
  switch (f->eax) {
  case SYS_EXIT: proc_exit((int)a); break;
  case SYS_WRITE: result = sys_write(a, b); break;
  case SYS_READLINE: result = sys_readline(a, b); break;
  case SYS_FORK: result = sys_fork(); break;
  case SYS_EXEC:
    if (sys_exec(a, b) == 0) return; /* the frame is the new program's */
    break;
  case SYS_WAIT: result = sys_wait(a); break;
  case SYS_GETPID: result = current->pid; break;
  case SYS_SBRK: result = (int)sys_sbrk(a); break;
  case SYS_SLEEP:
    current->wake_tick = ticks + a;
    while (ticks < current->wake_tick && !current->killed) sleep_on(&ticks_chan);
    result = 0;
    break;
  case SYS_KILL: result = sys_kill((int)a); break;
  case SYS_PS: sys_ps(); result = 0; break;
  case SYS_FAULTS: result = (int)(a == FAULTS_COW ? current->faults_cow : current->faults_demand); break;
  case SYS_DISK: result = sys_disk(a, b, c); break;
  case SYS_POWEROFF: ops->poweroff(0);
  case SYS_YIELD: yield(); result = 0; break;
  case SYS_BENCH: result = sys_bench(a, b, c); break;
  }
  f->eax = (u32)result;
}

static const char *const exception_names[] = {
  "divide error", "debug", "NMI", "breakpoint", "overflow", "bound", "invalid opcode", "no FPU",
  "double fault", "FPU segment", "invalid TSS", "segment not present", "stack fault",
  "general protection", "page fault", "reserved", "FPU error", "alignment check", "machine check",
  "SIMD",
};

static void user_exception(struct frame *f, u32 address) {
  kputs("pid ");
  kput_dec((u32)current->pid);
  kputs(": ");
  kputs(f->vector < 20 ? exception_names[f->vector] : "exception");
  if (f->vector == 14) {
    kputs(" at ");
    kput_hex(address);
  }
  kputs(", killed\n");
  proc_exit(-1);
}

void trap(struct frame *f) {
  if ((f->vector == VECTOR_SYSCALL || f->vector == VECTOR_SYSENTER) && from_user(f)) {
    syscall(f);
  } else if (f->vector == 14) {
    u32 address = ops->fault_address();
    /* The kernel touches user memory only after vm_user_range, so a kernel fault is a bug. */
    if (!from_user(f)) panic("kernel page fault at", address);
    if (vm_fault(current, address, f->err & 2) < 0) user_exception(f, address);
  } else if (f->vector == 0 && from_user(f) && current->de_resume) {
    f->eip = current->de_resume;
  } else if (f->vector < 32) {
    if (!from_user(f)) {
      kputs(exception_names[f->vector < 20 ? f->vector : 15]);
      kputs(" at ");
      kput_hex(f->eip);
      panic(", error code", f->err);
    }
    user_exception(f, 0);
  } else {
    ops->interrupt(f);
  }
  if (!from_user(f) || !current) return;
  if (current->killed) proc_exit(-1);
  if (need_resched) yield();
  if (current->killed) proc_exit(-1);
}
