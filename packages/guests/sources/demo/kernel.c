/* Ringvisor demo: a small multiboot kernel with paging, a TSS and a ring-3 shell that reaches the
   kernel through an INT 0x80 gate. Timer (IRQ 0) and serial receive (IRQ 4) are interrupt driven. */
#include "../common/cmos.h"
#include "../common/gdt.h"
#include "../common/interrupts.h"
#include "../common/multiboot.h"
#include "../common/pic-pit.h"
#include "../common/serial.h"
#include "demo.h"

#define IRQ_TIMER 0
#define IRQ_COM1 4
#define RX_BUFFER_SIZE 64
#define EFLAGS_IF 0x200

/* The 32-bit TSS: only SS0:ESP0 matter (the stack ring 3 interrupts switch to). */
struct tss {
  u32 link, esp0, ss0, unused[22];
  u16 trap, iomap_base;
};

static struct tss tss;
static u8 kernel_stack[4096] __attribute__((aligned(16)));
static volatile u32 ticks;
static u32 memory_kib;
static const char *memory_source = "multiboot";
static volatile u8 rx_buffer[RX_BUFFER_SIZE];
static volatile u32 rx_head, rx_tail;

static void timer_tick(struct frame *frame) {
  (void)frame;
  ticks++;
}

static void serial_receive(struct frame *frame) {
  (void)frame;
  int c;
  while ((c = serial_getc_nowait()) >= 0) {
    if (rx_head - rx_tail < RX_BUFFER_SIZE) rx_buffer[rx_head++ % RX_BUFFER_SIZE] = (u8)c;
  }
}

static void print_info(void) {
  print_cpu_model();
  serial_puts("Memory: ");
  serial_put_dec(memory_kib / 1024);
  serial_puts(" MiB (from ");
  serial_puts(memory_source);
  serial_puts(")\nTimer: ");
  serial_put_dec(ticks);
  serial_puts(" ticks at 100 Hz (");
  serial_put_dec(ticks / TICK_HZ);
  serial_puts(" s)\n");
}

static void syscall(struct frame *frame) {
  switch (frame->eax) {
  case SYS_WRITE:
    if (!is_user_range(frame->ebx, frame->ecx)) {
      frame->eax = (u32)-1;
      return;
    }
    for (u32 i = 0; i < frame->ecx; i++) serial_putc(((const char *)frame->ebx)[i]);
    frame->eax = frame->ecx;
    return;
  case SYS_GETCHAR:
    frame->eax = rx_tail == rx_head ? (u32)-1 : rx_buffer[rx_tail++ % RX_BUFFER_SIZE];
    return;
  case SYS_WAIT:
    sti_hlt();
    frame->eax = ticks;
    return;
  case SYS_TICKS:
    frame->eax = ticks;
    return;
  case SYS_PUT_DEC:
    serial_put_dec(frame->ebx);
    return;
  case SYS_INFO:
    print_info();
    return;
  case SYS_POWEROFF:
    guest_exit(EXIT_SUCCESS);
  default:
    frame->eax = (u32)-1;
  }
}

static void setup_tss(void) {
  tss.ss0 = KERNEL_DS;
  tss.esp0 = (u32)(kernel_stack + sizeof kernel_stack);
  tss.iomap_base = sizeof tss; /* no I/O bitmap: ring 3 port access faults */
  gdt_set_tss((u32)&tss, sizeof tss - 1);
  __asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
}

static __attribute__((noreturn)) void enter_ring3(void (*entry)(void), u32 stack_top) {
  __asm__ volatile(
      "mov %0, %%ds\n\t"
      "mov %0, %%es\n\t"
      "mov %0, %%fs\n\t"
      "mov %0, %%gs\n\t"
      "pushl %0\n\t"   /* SS */
      "pushl %1\n\t"   /* ESP */
      "pushl %2\n\t"   /* EFLAGS: interrupts on */
      "pushl %3\n\t"   /* CS */
      "pushl %4\n\t"   /* EIP */
      "iret"
      : : "r"(USER_DS), "r"(stack_top), "i"(EFLAGS_IF | 0x2), "i"(USER_CS), "r"(entry));
  __builtin_unreachable();
}

void kmain(u32 magic, const struct multiboot_info *info) {
  serial_init(1);
  gdt_init();
  setup_tss();
  idt_init();
  pic_remap(IRQ_BASE);
  set_handler(IRQ_BASE + IRQ_TIMER, timer_tick, 0);
  set_handler(IRQ_BASE + IRQ_COM1, serial_receive, 0);
  set_handler(SYSCALL_VECTOR, syscall, 1);
  if (magic == MULTIBOOT_BOOTLOADER_MAGIC && (info->flags & MB_INFO_MEMORY)) {
    memory_kib = 1024 + info->mem_upper;
  } else {
    memory_kib = cmos_memory_kib();
    memory_source = "CMOS";
  }
  paging_init();
  pit_set_frequency(TICK_HZ);
  pic_unmask(IRQ_TIMER);
  pic_unmask(IRQ_COM1);

  /* A tenth of a second of timer interrupts, so the banner shows the timer running. */
  while (ticks < TICK_HZ / 10) sti_hlt();
  serial_puts("\nRingvisor demo\n");
  print_info();
  serial_puts("Paging on, entering the ring-3 shell\n");
  enter_ring3(user_main, (u32)(user_stack + USER_STACK_SIZE));
}
