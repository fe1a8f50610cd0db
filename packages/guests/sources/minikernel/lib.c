/* The few C library routines the kernel uses (gcc may also emit calls to memset/memcpy). */
#include "mk.h"

void *memset(void *dst, int value, u32 n) {
  u8 *d = dst;
  while (n--) *d++ = (u8)value;
  return dst;
}

void *memcpy(void *dst, const void *src, u32 n) {
  u8 *d = dst;
  const u8 *s = src;
  while (n--) *d++ = *s++;
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
