#include "../common/serial.h"
#include "demo.h"

#define EFLAGS_ID (1u << 21)

static void cpuid(u32 leaf, u32 regs[4]) {
  __asm__ volatile("cpuid" : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3]) : "a"(leaf), "c"(0));
}

/* CPUID exists when software can toggle EFLAGS.ID. */
static int has_cpuid(void) {
  u32 before, after;
  __asm__ volatile(
      "pushfl; pop %0; mov %0, %1; xor %2, %1; push %1; popfl; pushfl; pop %1; push %0; popfl"
      : "=&r"(before), "=&r"(after) : "i"(EFLAGS_ID));
  return ((before ^ after) & EFLAGS_ID) != 0;
}

static void put_register_chars(u32 value) {
  for (int i = 0; i < 4; i++) {
    char c = (char)(value >> (8 * i));
    if (c) serial_putc(c);
  }
}

void print_cpu_model(void) {
  if (!has_cpuid()) {
    serial_puts("CPU: no CPUID (486 or older)\n");
    return;
  }
  u32 regs[4];
  cpuid(0, regs);
  serial_puts("CPU: ");
  put_register_chars(regs[1]);
  put_register_chars(regs[3]);
  put_register_chars(regs[2]);
  u32 max_leaf = regs[0];
  cpuid(0x80000000, regs);
  if (regs[0] >= 0x80000004) {
    serial_puts(", ");
    int leading = 1;
    for (u32 leaf = 0x80000002; leaf <= 0x80000004; leaf++) {
      u32 brand[4];
      cpuid(leaf, brand);
      for (int r = 0; r < 4; r++) {
        for (int i = 0; i < 4; i++) {
          char c = (char)(brand[r] >> (8 * i));
          if (c == ' ' && leading) continue;
          leading = 0;
          if (c) serial_putc(c);
        }
      }
    }
  } else if (max_leaf >= 1) {
    cpuid(1, regs);
    u32 family = (regs[0] >> 8) & 0xf, model = (regs[0] >> 4) & 0xf;
    if (family == 0xf) family += (regs[0] >> 20) & 0xff;
    if (family == 0x6 || family >= 0xf) model |= ((regs[0] >> 16) & 0xf) << 4;
    serial_puts(", family ");
    serial_put_dec(family);
    serial_puts(" model ");
    serial_put_dec(model);
    serial_puts(" stepping ");
    serial_put_dec(regs[0] & 0xf);
  }
  serial_putc('\n');
}
