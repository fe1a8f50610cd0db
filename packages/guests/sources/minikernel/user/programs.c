/* The programs of the user image: the shell (pid 1), the child the fork/exec loop starts, and a
   spinner that never yields (only preemption takes the CPU back from it). Nothing printed depends
   on the build (bare or Xen PV) or on timing, so a scripted session prints the same everywhere. */
#include "ulib.h"

#define FORK_EXEC_COUNT 32
#define FAULT_PAGES 64
#define SYSCALL_COUNT 10000
#define PAGE 4096
#define DISK_SECTOR 1

static const char disk_text[] = "minikernel disk block: written by the disk command\n";

static void help(void) {
  puts("help       this list\n"
       "ps         the process table\n"
       "forkexec   fork and exec 32 children, wait for each\n"
       "pagefault  demand-zero 64 heap pages, then copy-on-write them in a forked child\n"
       "syscall    10000 getpid system calls\n"
       "preempt    fork a process that never yields, sleep, kill it\n"
       "segv       a child writes outside its memory; a system call gets a kernel pointer\n"
       "disk       write a sector to the disk and read it back\n"
       "bench      TSC cycles per system call, page fault, copy-on-write fault, fork+exec+wait\n"
       "poweroff   turn the machine off\n");
}

static void fork_exec(void) {
  int sum = 0, reaped = 0;
  for (int i = 1; i <= FORK_EXEC_COUNT; i++) {
    int pid = fork();
    if (pid == 0) {
      exec(PROG_CHILD, (u32)i);
      exit(-1);
    }
    if (pid < 0) break;
    int status;
    if (wait(&status) == pid) {
      sum += status;
      reaped++;
    }
  }
  puts("forkexec: ");
  put_dec(reaped);
  puts(" children exec'd and reaped, exit status sum ");
  put_dec(sum);
  puts("\n");
}

static void page_faults(void) {
  volatile char *heap = sbrk(FAULT_PAGES * PAGE);
  int before = syscall3(SYS_FAULTS, FAULTS_DEMAND, 0, 0);
  for (int i = 0; i < FAULT_PAGES; i++) heap[i * PAGE] = (char)('a' + i % 26);
  int demand = syscall3(SYS_FAULTS, FAULTS_DEMAND, 0, 0) - before;
  int pid = fork();
  if (pid == 0) {
    int cow_before = syscall3(SYS_FAULTS, FAULTS_COW, 0, 0);
    for (int i = 0; i < FAULT_PAGES; i++) heap[i * PAGE] = 'X';
    exit(syscall3(SYS_FAULTS, FAULTS_COW, 0, 0) - cow_before);
  }
  int copied = -1;
  wait(&copied);
  int intact = 1;
  for (int i = 0; i < FAULT_PAGES; i++) intact &= heap[i * PAGE] == (char)('a' + i % 26);
  puts("pagefault: ");
  put_dec(FAULT_PAGES);
  puts(" pages touched, ");
  put_dec(demand);
  puts(" demand-zero faults; child took ");
  put_dec(copied);
  puts(" copy-on-write faults; parent's pages ");
  puts(intact ? "intact\n" : "CHANGED\n");
}

static void syscalls(void) {
  int pid = getpid(), same = 0;
  for (int i = 0; i < SYSCALL_COUNT; i++) same += getpid() == pid;
  puts("syscall: ");
  put_dec(same);
  puts(" of ");
  put_dec(SYSCALL_COUNT);
  puts(" getpid calls returned ");
  put_dec(pid);
  puts("\n");
}

static void preempt(void) {
  int pid = fork();
  if (pid == 0) {
    exec(PROG_SPIN, 0);
    exit(-1);
  }
  syscall3(SYS_SLEEP, 5, 0, 0);
  syscall3(SYS_PS, 0, 0, 0);
  syscall3(SYS_KILL, (u32)pid, 0, 0);
  int status = 0;
  int reaped = wait(&status);
  puts("preempt: spinner ");
  puts(reaped == pid ? "preempted, killed and reaped" : "NOT reaped");
  puts(", exit status ");
  put_dec(status);
  puts("\n");
}

static void segv(void) {
  int pid = fork();
  if (pid == 0) {
    *(volatile int *)0x1000 = 1; /* below the program image: no region covers it */
    exit(0);
  }
  int status = 0;
  wait(&status);
  int written = syscall3(SYS_WRITE, 0xc0000000, 16, 0); /* the kernel's own memory */
  puts("segv: child exit status ");
  put_dec(status);
  puts(", write from a kernel address returned ");
  put_dec(written);
  puts("\n");
}

static void disk(void) {
  static char block[512], back[512];
  int sectors = syscall3(SYS_DISK, DISK_SECTORS, 0, 0);
  if (sectors <= DISK_SECTOR) {
    puts("disk: no disk\n");
    return;
  }
  for (u32 i = 0; i < sizeof block; i++) block[i] = i < sizeof disk_text - 1 ? disk_text[i] : 0;
  int wrote = syscall3(SYS_DISK, DISK_WRITE, DISK_SECTOR, (u32)block);
  int read = syscall3(SYS_DISK, DISK_READ, DISK_SECTOR, (u32)back);
  int same = 1;
  for (u32 i = 0; i < sizeof block; i++) same &= block[i] == back[i];
  puts("disk: ");
  put_dec(sectors);
  puts(" sectors; wrote sector 1 ");
  puts(wrote == 0 ? "ok" : "FAILED");
  puts(", read back ");
  puts(read == 0 && same ? "identical\n" : "DIFFERENT\n");
}

/* The low half of the TSC: every measured loop takes well under 2^32 cycles. */
static u32 rdtsc(void) {
  u32 low, high;
  __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
  return low;
}

static void report(const char *what, u32 cycles, u32 count) {
  puts("bench: ");
  puts(what);
  puts(" ");
  put_dec((int)(cycles / count));
  puts(" cycles\n");
}

/* Costs as the guest's TSC sees them; the numbers differ by technique, so no scripted session uses
   this command. */
static void bench(void) {
  u32 start = rdtsc();
  for (int i = 0; i < SYSCALL_COUNT; i++) getpid();
  report("getpid", rdtsc() - start, SYSCALL_COUNT);
  volatile char *heap = sbrk(FAULT_PAGES * PAGE);
  start = rdtsc();
  for (int i = 0; i < FAULT_PAGES; i++) heap[i * PAGE] = 1;
  report("demand-zero fault", rdtsc() - start, FAULT_PAGES);
  int pid = fork();
  if (pid == 0) {
    start = rdtsc();
    for (int i = 0; i < FAULT_PAGES; i++) heap[i * PAGE] = 2;
    report("copy-on-write fault", rdtsc() - start, FAULT_PAGES);
    exit(0);
  }
  wait((int *)0);
  start = rdtsc();
  for (int i = 1; i <= FORK_EXEC_COUNT; i++) {
    if (fork() == 0) {
      exec(PROG_CHILD, (u32)i);
      exit(-1);
    }
    wait((int *)0);
  }
  report("fork+exec+wait", rdtsc() - start, FORK_EXEC_COUNT);
}

/* Nanobenchmarks (`harness compare`, `nb NAME N`, `nb list`; left out of help so the scripted
   session's transcript stays as it was): one operation N times between two TSC reads. The privileged
   ones loop in the kernel (SYS_BENCH), so one system call is shared by N operations. */
static void put_unsigned(u32 value) {
  char digits[11];
  int n = 0;
  do digits[n++] = (char)('0' + value % 10); while ((value /= 10) != 0);
  char text[12];
  for (int i = 0; i < n; i++) text[i] = digits[n - 1 - i];
  text[n] = 0;
  puts(text);
}

static u32 parse_unsigned(const char **cursor) {
  const char *s = *cursor;
  u32 value = 0;
  while (*s == ' ') s++;
  while (*s >= '0' && *s <= '9') value = value * 10 + (u32)(*s++ - '0');
  *cursor = s;
  return value;
}

__attribute__((noinline)) static u32 nb_leaf(u32 x) {
  __asm__ volatile("" : "+r"(x)); /* not folded into its caller */
  return x + 1;
}

/* Runs one nanobenchmark; -1 if this build cannot. */
static int nb_run(const char *name, u32 count) {
  static const struct { const char *name; int op; } kernel_ops[] = {
    { "in", BENCH_IN }, { "out", BENCH_OUT }, { "cr3", BENCH_CR3 }, { "cr0", BENCH_CR0 }, { "cr4", BENCH_CR4 },
  };
  for (u32 i = 0; i < sizeof kernel_ops / sizeof kernel_ops[0]; i++)
    if (equals(name, kernel_ops[i].name)) return syscall3(SYS_BENCH, (u32)kernel_ops[i].op, count, 0);
  if (equals(name, "syscall")) {
    for (u32 i = 0; i < count; i++) getpid();
  } else if (equals(name, "sysenter")) {
    if (syscall3(SYS_BENCH, BENCH_SYSENTER, 0, 0) < 0) return -1;
    for (u32 i = 0; i < count; i++) {
      int pid;
      __asm__ volatile("movl %%esp, %%ecx\n\tmovl $1f, %%edx\n\tsysenter\n1:"
                       : "=a"(pid) : "a"(SYS_GETPID) : "ecx", "edx", "memory");
      (void)pid;
    }
  } else if (equals(name, "callret")) {
    u32 x = 0;
    for (u32 i = 0; i < count; i++) x = nb_leaf(x);
  } else if (equals(name, "invlpg")) {
    volatile u32 on_stack = 0; /* a page of the process's own, present and writable */
    return syscall3(SYS_BENCH, BENCH_INVLPG, count, (u32)&on_stack);
  } else if (equals(name, "divzero")) {
    /* One system call arms the kernel's resume address (label 2), then each iteration is a #DE
       round trip alone: fault, the kernel's handler, IRET to the next iteration. */
    u32 left = count;
    __asm__ volatile("movl %[number], %%eax\n\t"
                     "movl %[catch], %%ebx\n\t"
                     "movl $2f, %%edx\n\t"
                     "int $0x80\n"
                     "1:\n\t"
                     "testl %%esi, %%esi\n\t"
                     "jz 3f\n\t"
                     "xorl %%edx, %%edx\n\t"
                     "xorl %%ecx, %%ecx\n\t"
                     "movl $1, %%eax\n\t"
                     "divl %%ecx\n"
                     "2:\n\t"
                     "decl %%esi\n\t"
                     "jmp 1b\n"
                     "3:"
                     : "+S"(left) : [number] "i"(SYS_BENCH), [catch] "i"(BENCH_CATCH_DE)
                     : "eax", "ebx", "ecx", "edx", "memory", "cc");
    syscall3(SYS_BENCH, BENCH_CATCH_DE, 0, 0);
  } else if (equals(name, "pagefault") || equals(name, "forkwait")) {
    return 0; /* measured by the caller around a child */
  } else {
    return -1;
  }
  return 0;
}

static void nanobench(const char *args) {
  const char *cursor = args;
  while (*cursor == ' ') cursor++;
  char name[16];
  u32 n = 0;
  while (*cursor && *cursor != ' ' && n + 1 < sizeof name) name[n++] = *cursor++;
  name[n] = 0;
  u32 count = parse_unsigned(&cursor);
  if (equals(name, "list") || !name[0]) {
    puts("nb: syscall sysenter in out cr3 cr0 cr4 callret pagefault divzero invlpg forkwait\n");
    return;
  }
  u32 start = 0, cycles = 0;
  int result = 0;
  if (equals(name, "pagefault")) {
    /* In a child, so the pages go back when it exits; the child reports. */
    if (fork() == 0) {
      volatile char *heap = sbrk(count * PAGE);
      start = rdtsc();
      for (u32 i = 0; i < count; i++) heap[i * PAGE] = 1;
      cycles = rdtsc() - start;
      puts("nb: pagefault ");
      put_unsigned(cycles);
      puts(" cycles\n");
      exit(0);
    }
    wait((int *)0);
    return;
  }
  if (equals(name, "forkwait")) {
    start = rdtsc();
    for (u32 i = 0; i < count; i++) {
      if (fork() == 0) exit(0);
      wait((int *)0);
    }
    cycles = rdtsc() - start;
  } else {
    start = rdtsc();
    result = nb_run(name, count);
    cycles = rdtsc() - start;
  }
  puts("nb: ");
  puts(name);
  if (result < 0) {
    puts(" unsupported\n");
    return;
  }
  puts(" ");
  put_unsigned(cycles);
  puts(" cycles\n");
}

static int starts_with(const char *s, const char *prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return 0;
  return 1;
}

static void shell(void) {
  char line[64];
  puts("minikernel shell: type help\n");
  for (;;) {
    puts("$ ");
    if (syscall3(SYS_READLINE, (u32)line, sizeof line, 0) < 0) continue;
    if (equals(line, "help")) help();
    else if (equals(line, "ps")) syscall3(SYS_PS, 0, 0, 0);
    else if (equals(line, "forkexec")) fork_exec();
    else if (equals(line, "pagefault")) page_faults();
    else if (equals(line, "syscall")) syscalls();
    else if (equals(line, "preempt")) preempt();
    else if (equals(line, "segv")) segv();
    else if (equals(line, "disk")) disk();
    else if (equals(line, "bench")) bench();
    else if (starts_with(line, "nb ") || equals(line, "nb")) nanobench(line + 2);
    else if (equals(line, "poweroff")) {
      puts("powering off\n");
      syscall3(SYS_POWEROFF, 0, 0, 0);
    } else if (line[0]) {
      puts("unknown command: ");
      puts(line);
      puts("\n");
    }
  }
}

int umain(int program, u32 argument);
int umain(int program, u32 argument) {
  switch (program) {
  case PROG_SHELL: shell(); return 0;
  case PROG_CHILD: return (int)(argument * argument); /* the parent sums these */
  case PROG_SPIN:
    for (volatile u32 n = 0;; n++) {
    }
  }
  return -1;
}
