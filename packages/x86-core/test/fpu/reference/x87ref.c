/* Reference results from the host's own x87, for test/fpu/hardware.test.ts.
 * Reads lines "OP CW A B" (CW hex; A, B as hex bit patterns of doubles), runs OP on the real FPU
 * with ST0=A, ST1=B and control word CW, and prints "ST0 ST1 SW" (doubles as hex bit patterns,
 * the status word with TOP masked out) or, for the integer/BCD stores, the stored bytes. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static double num(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

#define TWO_OPERAND(insn)                                                              \
  __asm__ volatile("fninit\n fldcw %3\n fldl %5\n fldl %4\n " insn "\n fnstsw %2\n"      \
                   "fstpl %0\n fstpl %1\n"                                              \
                   : "=m"(r0), "=m"(r1), "=m"(sw) : "m"(cw), "m"(a), "m"(b))

int main(void) {
  char op[16];
  unsigned cwIn;
  unsigned long long ua, ub;
  while (scanf("%15s %x %llx %llx", op, &cwIn, &ua, &ub) == 4) {
    uint16_t cw = (uint16_t)cwIn, sw = 0;
    double a = num(ua), b = num(ub), r0 = 0, r1 = 0;
    if (!strcmp(op, "fprem")) TWO_OPERAND("fprem");
    else if (!strcmp(op, "fprem1")) TWO_OPERAND("fprem1");
    else if (!strcmp(op, "fscale")) TWO_OPERAND("fscale");
    else if (!strcmp(op, "frndint")) TWO_OPERAND("frndint");
    else if (!strcmp(op, "fsqrt")) TWO_OPERAND("fsqrt");
    else if (!strcmp(op, "fcom")) TWO_OPERAND("fcom %%st(1)");
    else if (!strcmp(op, "fucom")) TWO_OPERAND("fucom %%st(1)");
    else if (!strcmp(op, "fxam")) TWO_OPERAND("fxam");
    else if (!strcmp(op, "fdiv")) TWO_OPERAND("fdiv %%st(1), %%st");
    else if (!strcmp(op, "fsubr")) TWO_OPERAND("fsubr %%st(1), %%st");
    else if (!strcmp(op, "fxtract")) {
      /* FXTRACT pushes: ST0 = significand, ST1 = exponent; B is left in ST2 and discarded. */
      __asm__ volatile("fninit\n fldcw %3\n fldl %4\n fxtract\n fnstsw %2\n fstpl %0\n fstpl %1\n"
                       : "=m"(r0), "=m"(r1), "=m"(sw) : "m"(cw), "m"(a));
    } else if (!strcmp(op, "fistp64")) {
      int64_t out;
      __asm__ volatile("fninit\n fldcw %2\n fldl %3\n fistpll %0\n fnstsw %1\n" : "=m"(out), "=m"(sw) : "m"(cw), "m"(a));
      printf("%016llx %016llx %04x\n", (unsigned long long)out, 0ULL, sw & ~0x3800);
      continue;
    } else if (!strcmp(op, "fistp16")) {
      int16_t out;
      __asm__ volatile("fninit\n fldcw %2\n fldl %3\n fistps %0\n fnstsw %1\n" : "=m"(out), "=m"(sw) : "m"(cw), "m"(a));
      printf("%016llx %016llx %04x\n", (unsigned long long)(uint16_t)out, 0ULL, sw & ~0x3800);
      continue;
    } else if (!strcmp(op, "fbstp")) {
      unsigned char out[10];
      __asm__ volatile("fninit\n fldcw %2\n fldl %3\n fbstp %0\n fnstsw %1\n" : "=m"(out), "=m"(sw) : "m"(cw), "m"(a));
      unsigned long long lo = 0, hi = 0;
      for (int i = 0; i < 8; i++) lo |= (unsigned long long)out[i] << (8 * i);
      hi = out[8] | (out[9] << 8);
      printf("%016llx %016llx %04x\n", lo, hi, sw & ~0x3800);
      continue;
    } else {
      printf("unknown\n");
      continue;
    }
    printf("%016llx %016llx %04x\n", (unsigned long long)bits(r0), (unsigned long long)bits(r1), sw & ~0x3800);
  }
  return 0;
}
