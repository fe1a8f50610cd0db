#include "ulib.h"

void exit(int code) {
  syscall3(SYS_EXIT, (u32)code, 0, 0);
  for (;;) {
  }
}

int fork(void) { return syscall3(SYS_FORK, 0, 0, 0); }
int exec(int program, u32 argument) { return syscall3(SYS_EXEC, (u32)program, argument, 0); }
int wait(int *status) { return syscall3(SYS_WAIT, (u32)status, 0, 0); }
int getpid(void) { return syscall3(SYS_GETPID, 0, 0, 0); }
void *sbrk(u32 increment) { return (void *)syscall3(SYS_SBRK, increment, 0, 0); }

static u32 length(const char *s) {
  u32 n = 0;
  while (s[n]) n++;
  return n;
}

void puts(const char *s) { syscall3(SYS_WRITE, (u32)s, length(s), 0); }

void put_dec(int value) {
  char text[12];
  int n = 12;
  u32 magnitude = value < 0 ? -(u32)value : (u32)value;
  do {
    text[--n] = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude);
  if (value < 0) text[--n] = '-';
  syscall3(SYS_WRITE, (u32)(text + n), (u32)(12 - n), 0);
}

int equals(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}
