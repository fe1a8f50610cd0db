/* Kernel output. Lines end in "\r\n" on both builds, so a session prints the same bytes. */
#include "arch.h"

void kwrite(const char *s, u32 n) {
  char chunk[128];
  u32 used = 0;
  for (u32 i = 0; i < n; i++) {
    if (used + 2 > sizeof chunk) {
      ops->console_write(chunk, used);
      used = 0;
    }
    if (s[i] == '\n') chunk[used++] = '\r';
    chunk[used++] = s[i];
  }
  if (used) ops->console_write(chunk, used);
}

void kputs(const char *s) { kwrite(s, strlen(s)); }

void kput_dec(u32 value) {
  char digits[10];
  int n = 10;
  do {
    digits[--n] = (char)('0' + value % 10);
    value /= 10;
  } while (value);
  kwrite(digits + n, 10 - n);
}

void kput_hex(u32 value) {
  char text[10] = "0x";
  for (int i = 0; i < 8; i++) text[2 + i] = "0123456789abcdef"[(value >> (28 - 4 * i)) & 0xf];
  kwrite(text, 10);
}

void kput_padded(const char *s, u32 width) {
  kputs(s);
  for (u32 n = strlen(s); n < width; n++) kwrite(" ", 1);
}

void panic(const char *why, u32 value) {
  kputs("panic: ");
  kputs(why);
  kputs(" ");
  kput_hex(value);
  kputs("\n");
  ops->poweroff(1);
}
