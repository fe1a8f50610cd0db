/* The few C library routines the kernel uses (gcc may also emit calls to memset/memcpy). */
#include "mk.h"

/* String instructions: a page is cleared or copied in one REP (and a VMM sees one instruction). */
void *memset(void *dst, int value, u32 n) {
  void *d = dst;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(value) : "memory");
  return dst;
}

void *memcpy(void *dst, const void *src, u32 n) {
  void *d = dst;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}

int memcmp(const void *a, const void *b, u32 n) {
  const u8 *x = a, *y = b;
  for (; n; n--, x++, y++)
    if (*x != *y) return *x - *y;
  return 0;
}

u32 strlen(const char *s) {
  u32 n = 0;
  while (s[n]) n++;
  return n;
}

int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return (u8)*a - (u8)*b;
}
