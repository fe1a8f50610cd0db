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
