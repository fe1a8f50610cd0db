/* The ring-3 task: a live counter until the first key, then a shell (help, info, bench, poweroff).
   Everything here, its strings and its stack included, is linked into the user-accessible pages. */
#include "demo.h"

#define LINE_MAX 64
#define BENCH_TICKS 20

u8 user_stack[USER_STACK_SIZE] __attribute__((aligned(16)));

static u32 sys(u32 number, u32 arg1, u32 arg2) {
  u32 result;
  __asm__ volatile("int $0x80" : "=a"(result) : "a"(number), "b"(arg1), "c"(arg2) : "memory");
  return result;
}

static u32 length(const char *s) {
  u32 n = 0;
  while (s[n]) n++;
  return n;
}

static void puts(const char *s) { sys(SYS_WRITE, (u32)s, length(s)); }
static void put_dec(u32 value) { sys(SYS_PUT_DEC, value, 0); }

static int equals(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/* Returns the key that ended it, so the shell does not lose the user's first keystroke. */
static int live_counter(void) {
  puts("Live counter, press a key for the shell\n");
  u32 shown = (u32)-1;
  int key;
  while ((key = (int)sys(SYS_GETCHAR, 0, 0)) < 0) {
    u32 seconds = sys(SYS_WAIT, 0, 0) / TICK_HZ;
    if (seconds == shown) continue;
    shown = seconds;
    puts("\rcounter: ");
    put_dec(seconds);
  }
  puts("\n");
  return key;
}

/* Reads a line with echo and backspace, starting with `pending` when it is a key (not -1);
   the keyboard wakes us through IRQ 4. */
static void read_line(char *line, int pending) {
  u32 n = 0;
  for (;;) {
    int c = pending >= 0 ? pending : (int)sys(SYS_GETCHAR, 0, 0);
    pending = -1;
    if (c < 0) {
      sys(SYS_WAIT, 0, 0);
      continue;
    }
    if (c == '\r' || c == '\n') break;
    if ((c == 0x7f || c == 0x08) && n > 0) {
      n--;
      puts("\b \b");
    } else if (c >= ' ' && c < 0x7f && n < LINE_MAX - 1) {
      line[n++] = (char)c;
      char echo[2] = { (char)c, 0 };
      puts(echo);
    }
  }
  line[n] = 0;
  puts("\n");
}

/* A xorshift loop, counted over BENCH_TICKS timer ticks. */
static void bench(void) {
  u32 start = sys(SYS_WAIT, 0, 0);
  u32 state = 2463534242u, iterations = 0;
  while (sys(SYS_TICKS, 0, 0) - start < BENCH_TICKS) {
    for (int i = 0; i < 1024; i++) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
    }
    iterations += 1024;
  }
  puts("bench: ");
  put_dec(iterations / BENCH_TICKS);
  puts(" iterations per tick (checksum ");
  put_dec(state & 0xff);
  puts(")\n");
}

void user_main(void) {
  static char line[LINE_MAX];
  int first = live_counter();
  /* Enter only leaves the counter; any other key starts the first command line. */
  if (first == '\r' || first == '\n') first = -1;
  puts("Type help for commands\n");
  for (;;) {
    puts("> ");
    read_line(line, first);
    first = -1;
    if (equals(line, "help")) {
      puts("help      this list\ninfo      CPU, memory, timer\nbench     compute loop speed\npoweroff  exit the VM\n");
    } else if (equals(line, "info")) {
      sys(SYS_INFO, 0, 0);
    } else if (equals(line, "bench")) {
      bench();
    } else if (equals(line, "poweroff")) {
      puts("Powering off\n");
      sys(SYS_POWEROFF, 0, 0);
    } else if (line[0]) {
      puts("unknown command: ");
      puts(line);
      puts("\n");
    }
  }
}
