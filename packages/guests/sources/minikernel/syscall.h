/* System call numbers (int 0x80: EAX = number, EBX, ECX, EDX = arguments, result in EAX). The bare
   build also takes them by SYSENTER where the CPU has it: EAX = number, EBX, ESI, EDI = arguments,
   ECX = the ESP and EDX = the EIP to return to; ECX and EDX come back clobbered. */
#ifndef MK_SYSCALL_H
#define MK_SYSCALL_H
#define SYS_EXIT 0
#define SYS_WRITE 1
#define SYS_READLINE 2
#define SYS_FORK 3
#define SYS_EXEC 4
#define SYS_WAIT 5
#define SYS_GETPID 6
#define SYS_SBRK 7
#define SYS_SLEEP 8
#define SYS_KILL 9
#define SYS_PS 10
#define SYS_FAULTS 11
#define SYS_DISK 12
#define SYS_POWEROFF 13
#define SYS_YIELD 14
#define SYS_BENCH 15
#define NSYSCALLS 16

/* Programs exec can start (all in the one user image; EAX = program, EBX = argument at entry). */
#define PROG_SHELL 0
#define PROG_CHILD 1
#define PROG_SPIN 2

/* SYS_DISK operations and SYS_FAULTS selectors. */
#define DISK_SECTORS 0
#define DISK_READ 1
#define DISK_WRITE 2
#define FAULTS_DEMAND 0
#define FAULTS_COW 1

/* SYS_BENCH operations (EBX = operation, ECX = count, EDX = argument): the privileged steps of the
   nanobenchmarks, repeated `count` times in the kernel; -1 when this build has no such operation. */
#define BENCH_IN 0      /* in from a device port */
#define BENCH_OUT 1     /* out to one */
#define BENCH_CR3 2     /* reload the address space (PV: mmuext new_baseptr) */
#define BENCH_CR0 3     /* CR0 write (PV: fpu_taskswitch) */
#define BENCH_CR4 4     /* CR4 write (PV: none) */
#define BENCH_INVLPG 5  /* rewrite the PTE of user address EDX and INVLPG it */
#define BENCH_CATCH_DE 6 /* a #DE in this process resumes at EDX (0: kills again) */
#define BENCH_SYSENTER 7 /* 0 if system calls by SYSENTER work here, else -1 (no count) */
#endif
