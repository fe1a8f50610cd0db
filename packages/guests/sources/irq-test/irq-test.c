/* Interrupt test (multiboot ELF): programs the PIC and the PIT (IRQ 0 at 100 Hz), counts timer
   ticks across one RTC second read from CMOS, prints the count and exits 0 when it is 100 ± 10
   (2 when not, 4 when the RTC never ticks). */
#include "../common/cmos.h"
#include "../common/gdt.h"
#include "../common/interrupts.h"
#include "../common/pic-pit.h"
#include "../common/serial.h"

#define TICK_HZ 100
#define TOLERANCE 10
/* Give up when the RTC second has not changed after three seconds' worth of ticks. */
#define MAX_WAIT_TICKS (3 * TICK_HZ)

static volatile u32 ticks;

static void timer_tick(struct frame *frame) {
  (void)frame;
  ticks++;
}

/* Halts until the RTC's seconds differ from `from`; returns the new value, or -1 on timeout. */
static int wait_second_change(u32 from) {
  u32 start = ticks;
  for (;;) {
    u32 now = rtc_seconds();
    if (now != from) return (int)now;
    if (ticks - start > MAX_WAIT_TICKS) return -1;
    sti_hlt();
  }
}

void kmain(void) {
  serial_init(0);
  gdt_init();
  idt_init();
  pic_remap(IRQ_BASE);
  set_handler(IRQ_BASE + 0, timer_tick, 0);
  pit_set_frequency(TICK_HZ);
  pic_unmask(0);
  serial_puts("irq-test: PIT at 100 Hz against one RTC second\n");

  int first = wait_second_change(rtc_seconds());
  u32 start = ticks;
  int second = first < 0 ? -1 : wait_second_change((u32)first);
  cli();
  if (second < 0) {
    serial_puts("irq-test: FAIL, the RTC seconds did not change (ticks ");
    serial_put_dec(ticks);
    serial_puts(")\n");
    guest_exit(4);
  }
  u32 counted = ticks - start;
  serial_puts("irq-test: ");
  serial_put_dec(counted);
  serial_puts(" ticks in one RTC second\n");
  int ok = counted >= TICK_HZ - TOLERANCE && counted <= TICK_HZ + TOLERANCE;
  serial_puts(ok ? "irq-test: PASS\n" : "irq-test: FAIL\n");
  guest_exit(ok ? EXIT_SUCCESS : 2);
}
