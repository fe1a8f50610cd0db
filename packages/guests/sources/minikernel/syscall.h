/* System call numbers (int 0x80: EAX = number, EBX, ECX, EDX = arguments, result in EAX). */
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
#define NSYSCALLS 15

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
#endif
