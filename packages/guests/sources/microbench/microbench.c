/* Microbenchmarks (multiboot ELF) in the spirit of Adams & Agesen (ASPLOS 2006): the cost of the
   operations a VMM makes expensive, in TSC cycles per operation (under the emulated CPU the TSC
   counts instructions retired). Prints one line per benchmark, then exits 0. */
#include "../common/gdt.h"
#include "../common/interrupts.h"
#include "../common/serial.h"

#define ITERATIONS 10000
#define POST_PORT 0x80
#define PTE_PRESENT 0x1
#define PTE_WRITABLE 0x2
#define CR0_PG 0x80000000u
/* A page inside the identity-mapped 4 MiB that the page-fault benchmarks toggle. */
#define TEST_PAGE 0x300000u

static u32 page_directory[1024] __attribute__((aligned(4096)));
static u32 page_table[1024] __attribute__((aligned(4096)));

static inline u32 rdtsc_low(void) {
  u32 low, high;
  __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
  return low;
}

static inline void invlpg(u32 address) {
  __asm__ volatile("invlpg (%0)" : : "r"(address) : "memory");
}

static void report(const char *name, u32 cycles) {
  serial_puts("microbench: ");
  serial_puts(name);
  serial_puts(" ");
  serial_put_dec(cycles / ITERATIONS);
  serial_puts(" cycles/op\n");
}

static void empty_handler(struct frame *frame) {
  (void)frame;
}

/* #DE from DIV ECX (F7 F1): resume after the two-byte instruction. */
static void divide_error(struct frame *frame) {
  frame->eip += 2;
}

/* #PF on the test page: map it, and the faulting access restarts. */
static void page_fault(struct frame *frame) {
  u32 cr2;
  __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
  if ((cr2 & ~0xfffu) != TEST_PAGE) {
    serial_puts("microbench: unexpected page fault at ");
    serial_put_hex(cr2);
    serial_puts(" eip ");
    serial_put_hex(frame->eip);
    serial_putc('\n');
    guest_exit(3);
  }
  page_table[TEST_PAGE >> 12] |= PTE_PRESENT;
}

static void paging_init(void) {
  for (u32 i = 0; i < 1024; i++) page_table[i] = (i << 12) | PTE_PRESENT | PTE_WRITABLE;
  page_directory[0] = (u32)page_table | PTE_PRESENT | PTE_WRITABLE;
  u32 cr0;
  __asm__ volatile("mov %0, %%cr3" : : "r"(page_directory) : "memory");
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | CR0_PG) : "memory");
}

static __attribute__((noinline)) void empty_call(void) {
  __asm__ volatile("");
}

void kmain(void) {
  serial_init(0);
  gdt_init();
  idt_init();
  set_handler(SYSCALL_VECTOR, empty_handler, 0);
  set_handler(0, divide_error, 0);
  set_handler(14, page_fault, 0);
  paging_init();
  serial_puts("microbench: ");
  serial_put_dec(ITERATIONS);
  serial_puts(" iterations each\n");

  u32 start = rdtsc_low();
  for (int i = 0; i < ITERATIONS; i++) empty_call();
  report("call/ret", rdtsc_low() - start);

  start = rdtsc_low();
  for (int i = 0; i < ITERATIONS; i++) __asm__ volatile("int $0x80");
  report("int/iret", rdtsc_low() - start);

  start = rdtsc_low();
  for (int i = 0; i < ITERATIONS; i++) (void)inb(POST_PORT);
  report("in-port", rdtsc_low() - start);

  start = rdtsc_low();
  for (int i = 0; i < ITERATIONS; i++) outb(POST_PORT, (u8)i);
  report("out-port", rdtsc_low() - start);

  start = rdtsc_low();
  for (int i = 0; i < ITERATIONS; i++) {
    u32 eax = 0, ebx, ecx = 0, edx;
    __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  }
  report("cpuid", rdtsc_low() - start);

  start = rdtsc_low();
  for (int i = 0; i < ITERATIONS; i++) __asm__ volatile("divl %%ecx" : : "a"(1), "d"(0), "c"(0));
  report("divide-error", rdtsc_low() - start);

  start = rdtsc_low();
  for (int i = 0; i < ITERATIONS; i++) {
    page_table[TEST_PAGE >> 12] &= ~PTE_PRESENT;
    invlpg(TEST_PAGE);
  }
  report("pte-update", rdtsc_low() - start);

  start = rdtsc_low();
  for (int i = 0; i < ITERATIONS; i++) {
    page_table[TEST_PAGE >> 12] &= ~PTE_PRESENT;
    invlpg(TEST_PAGE);
    *(volatile u32 *)TEST_PAGE = (u32)i;
  }
  report("page-fault", rdtsc_low() - start);

  serial_puts("microbench: done\n");
  guest_exit(EXIT_SUCCESS);
}
