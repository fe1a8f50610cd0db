/* The user side of the system calls, and a little output formatting. */
#ifndef MK_ULIB_H
#define MK_ULIB_H
#include "../syscall.h"

typedef unsigned int u32;

static inline int syscall3(int number, u32 a, u32 b, u32 c) {
  int result;
  __asm__ volatile("int $0x80" : "=a"(result) : "a"(number), "b"(a), "c"(b), "d"(c) : "memory");
  return result;
}

__attribute__((noreturn)) void exit(int code);
int fork(void);
int exec(int program, u32 argument);
int wait(int *status);
int getpid(void);
void *sbrk(u32 increment);
void puts(const char *s);
void put_dec(int value);
int equals(const char *a, const char *b);
#endif
