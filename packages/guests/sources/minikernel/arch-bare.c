/* The bare-metal operations: GDT, TSS and IDT of our own, CR3/INVLPG/CR2, the 8259s and the PIT
   (IRQ 0 at 100 Hz), COM1 with receive interrupts (IRQ 4), virtio-blk, ACPI soft-off. */
#include "arch.h"
#include "bare.h"
#include "syscall.h"

#define COM1 0x3f8
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define IER_RDA 0x01
#define PIC1 0x20
#define PIC2 0xa0
#define PIT_HZ 1193182
#define TICK_HZ 100
#define ACPI_PM1A_CONTROL 0x604  /* the board's PM block at 0x600 (PIIX4 layout) */
#define ACPI_SLP_S5 ((5 << 10) | (1 << 13)) /* SLP_TYP = \_S5's 5, SLP_EN */
#define EXIT_PORT 0xf4
#define EXIT_UNHANDLED_EXCEPTION 3
#define CPUID_SEP (1 << 11)
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

extern char _end[];
extern u32 boot_pgdir[];
extern void trap_de(void), trap_db(void), trap_nmi(void), trap_bp(void), trap_of(void), trap_br(void),
    trap_ud(void), trap_nm(void), trap_df(void), trap_ts(void), trap_np(void), trap_ss(void),
    trap_gp(void), trap_pf(void), trap_mf(void), trap_ac(void), trap_syscall(void);
extern void trap_irq0(void), trap_irq1(void), trap_irq2(void), trap_irq3(void), trap_irq4(void),
    trap_irq5(void), trap_irq6(void), trap_irq7(void), trap_irq8(void), trap_irq9(void),
    trap_irq10(void), trap_irq11(void), trap_irq12(void), trap_irq13(void), trap_irq14(void),
    trap_irq15(void);
extern void sysenter_entry(void);

static u64 gdt[6];
static u64 idt[256];
static struct {
  u32 link, esp0, ss0, unused[22];
  u16 trap, iomap;
} __attribute__((packed)) tss;

static u64 descriptor(u32 base, u32 limit, u8 access, u8 flags) {
  return (limit & 0xffffull) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40)
      | ((u64)((limit >> 16) & 0xf) << 48) | ((u64)(flags & 0xf) << 52) | ((u64)(base >> 24) << 56);
}

static void set_gate(u32 vector, void (*handler)(void), u32 dpl) {
  u32 offset = (u32)handler;
  /* Interrupt gates: the kernel runs with IF clear. */
  idt[vector] = (offset & 0xffff) | ((u64)KERNEL_CS << 16) | ((u64)(0x8e | dpl << 5) << 40)
      | ((u64)(offset >> 16) << 48);
}

static void cpu_tables(void) {
  gdt[1] = descriptor(0, 0xfffff, 0x9a, 0xc);
  gdt[2] = descriptor(0, 0xfffff, 0x92, 0xc);
  gdt[3] = descriptor(0, 0xfffff, 0xfa, 0xc);
  gdt[4] = descriptor(0, 0xfffff, 0xf2, 0xc);
  tss.ss0 = KERNEL_DS;
  tss.iomap = sizeof tss; /* no I/O bitmap: ring 3 has no ports */
  gdt[5] = descriptor((u32)&tss, sizeof tss - 1, 0x89, 0);
  struct __attribute__((packed)) { u16 limit; u32 base; } gdtr = { sizeof gdt - 1, (u32)gdt };
  __asm__ volatile("lgdt %0\n\tljmp %1, $1f\n1:\n\t"
                   "mov %2, %%ax\n\tmov %%ax, %%ds\n\tmov %%ax, %%es\n\tmov %%ax, %%ss\n\t"
                   "xor %%eax, %%eax\n\tmov %%ax, %%fs\n\tmov %%ax, %%gs\n\t"
                   "mov $0x28, %%ax\n\tltr %%ax"
                   : : "m"(gdtr), "i"(KERNEL_CS), "i"(KERNEL_DS) : "eax", "memory");
  static void (*const exceptions[18])(void) = {
    trap_de, trap_db, trap_nmi, trap_bp, trap_of, trap_br, trap_ud, trap_nm, trap_df, NULL,
    trap_ts, trap_np, trap_ss, trap_gp, trap_pf, NULL, trap_mf, trap_ac,
  };
  static void (*const irqs[16])(void) = {
    trap_irq0, trap_irq1, trap_irq2, trap_irq3, trap_irq4, trap_irq5, trap_irq6, trap_irq7,
    trap_irq8, trap_irq9, trap_irq10, trap_irq11, trap_irq12, trap_irq13, trap_irq14, trap_irq15,
  };
  for (u32 v = 0; v < 18; v++)
    if (exceptions[v]) set_gate(v, exceptions[v], v == 3 || v == 4 ? 3 : 0);
  for (u32 irq = 0; irq < 16; irq++) set_gate(32 + irq, irqs[irq], 0);
  set_gate(VECTOR_SYSCALL, trap_syscall, 3);
  struct __attribute__((packed)) { u16 limit; u32 base; } idtr = { sizeof idt - 1, (u32)idt };
  __asm__ volatile("lidt %0" : : "m"(idtr));
}

static void wrmsr(u32 msr, u32 value) { __asm__ volatile("wrmsr" : : "c"(msr), "a"(value), "d"(0)); }

/* SYSENTER where CPUID says the CPU has it (SEP; the Pentium Pro's early steppings set the bit
   without the instruction). Its stack MSR points at tss.esp0, which the entry stub dereferences. */
static int sysenter_ready;
static void sysenter_init(void) {
  u32 max, signature, b, c, features;
  __asm__ volatile("cpuid" : "=a"(max), "=b"(b), "=c"(c), "=d"(features) : "a"(0));
  if (max < 1) return;
  __asm__ volatile("cpuid" : "=a"(signature), "=b"(b), "=c"(c), "=d"(features) : "a"(1));
  u32 family = signature >> 8 & 0xf, model = signature >> 4 & 0xf, stepping = signature & 0xf;
  if (!(features & CPUID_SEP) || (family == 6 && model < 3 && stepping < 3)) return;
  wrmsr(MSR_SYSENTER_CS, KERNEL_CS);
  wrmsr(MSR_SYSENTER_ESP, (u32)&tss.esp0);
  wrmsr(MSR_SYSENTER_EIP, (u32)sysenter_entry);
  sysenter_ready = 1;
}

/* COM1 stays as the firmware left it (115200 8N1, as SeaBIOS and the board's hand-off program it):
   reprogramming the FIFO would drop input that arrived before the kernel got here. */
static void serial_init(void) {
  outb(COM1 + 1, 0);
  outb(COM1 + 4, 0x0b); /* DTR, RTS, OUT2 (gates the IRQ line) */
}

static void bare_console_write(const char *s, u32 n) {
  for (u32 i = 0; i < n; i++) {
    while (!(inb(COM1 + 5) & LSR_THRE)) {
    }
    outb(COM1, (u8)s[i]);
  }
}

/* A byte if one is waiting; otherwise the receive interrupt is armed and the reader sleeps. The
   interrupt handler disarms it again, so unread input never keeps the line asserted. */
static int bare_console_getc(void) {
  if (inb(COM1 + 5) & LSR_DR) return inb(COM1);
  outb(COM1 + 1, IER_RDA);
  return -1;
}

static void pic_pit_init(void) {
  outb(PIC1, 0x11); outb(PIC2, 0x11);     /* ICW1: edge, cascade, ICW4 */
  outb(PIC1 + 1, 32); outb(PIC2 + 1, 40); /* ICW2: vectors */
  outb(PIC1 + 1, 4); outb(PIC2 + 1, 2);   /* ICW3: slave on IRQ 2 */
  outb(PIC1 + 1, 1); outb(PIC2 + 1, 1);   /* ICW4: 8086 mode */
  outb(PIC1 + 1, (u8)~(1 << 0 | 1 << 4)); /* timer and COM1 */
  outb(PIC2 + 1, 0xff);
  u32 divisor = (PIT_HZ + TICK_HZ / 2) / TICK_HZ;
  outb(0x43, 0x34); /* counter 0, lobyte/hibyte, rate generator */
  outb(0x40, (u8)divisor);
  outb(0x40, (u8)(divisor >> 8));
}

static void bare_interrupt(struct frame *f) {
  u32 irq = f->vector - 32;
  if (irq == 0) timer_tick();
  if (irq == 4) {
    outb(COM1 + 1, 0);
    console_wakeup();
  }
  if (irq >= 8) outb(PIC2, 0x20);
  outb(PIC1, 0x20);
}

static u32 bare_make_pte(u32 pfn, u32 flags) { return pfn << PAGE_SHIFT | flags; }
static u32 bare_pte_pfn(u32 pte) { return pte >> PAGE_SHIFT; }
static void bare_set_pte(u32 *entry, u32 value) { *(volatile u32 *)entry = value; }
static void bare_lazy_mmu(int on) { (void)on; }
static void bare_invlpg(u32 address) { __asm__ volatile("invlpg (%0)" : : "r"(address) : "memory"); }
static void bare_load_pgdir(u32 pfn) { __asm__ volatile("mov %0, %%cr3" : : "r"(pfn << PAGE_SHIFT) : "memory"); }
static void bare_flush_tlb(void) {
  u32 cr3;
  __asm__ volatile("mov %%cr3, %0\n\tmov %0, %%cr3" : "=r"(cr3) : : "memory");
}
static void bare_pin_table(u32 pfn, int level) { (void)pfn, (void)level; }
static void bare_unpin_table(u32 pfn) { (void)pfn; }
static void bare_set_kernel_stack(u32 top) { tss.esp0 = top; }
static u32 bare_fault_address(void) {
  u32 cr2;
  __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
  return cr2;
}
static void bare_idle(void) { __asm__ volatile("sti; hlt; cli" : : : "memory"); }

__attribute__((noreturn)) static void bare_poweroff(int crash) {
  if (crash) outb(EXIT_PORT, EXIT_UNHANDLED_EXCEPTION);
  else outw(ACPI_PM1A_CONTROL, ACPI_SLP_S5);
  for (;;) __asm__ volatile("cli; hlt");
}

/* The nanobenchmarks' privileged steps on real hardware: the UART's line status register, the
   POST port, and control-register writes that leave the value as it was; whether SYSENTER works. */
static int bare_bench(u32 op, u32 count) {
  u32 cr;
  switch (op) {
  case BENCH_IN:
    for (u32 i = 0; i < count; i++) (void)inb(COM1 + 5);
    return 0;
  case BENCH_OUT:
    for (u32 i = 0; i < count; i++) outb(0x80, 0);
    return 0;
  case BENCH_CR0:
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr));
    for (u32 i = 0; i < count; i++) __asm__ volatile("mov %0, %%cr0" : : "r"(cr) : "memory");
    return 0;
  case BENCH_CR4:
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr));
    for (u32 i = 0; i < count; i++) __asm__ volatile("mov %0, %%cr4" : : "r"(cr) : "memory");
    return 0;
  case BENCH_SYSENTER: return sysenter_ready ? 0 : -1;
  }
  return -1;
}

static const struct arch_ops bare_ops = {
  .make_pte = bare_make_pte,
  .pte_pfn = bare_pte_pfn,
  .set_pte = bare_set_pte,
  .set_pde = bare_set_pte,
  .lazy_mmu = bare_lazy_mmu,
  .invlpg = bare_invlpg,
  .flush_tlb = bare_flush_tlb,
  .pin_table = bare_pin_table,
  .unpin_table = bare_unpin_table,
  .load_pgdir = bare_load_pgdir,
  .set_kernel_stack = bare_set_kernel_stack,
  .fault_address = bare_fault_address,
  .idle = bare_idle,
  .interrupt = bare_interrupt,
  .console_write = bare_console_write,
  .console_getc = bare_console_getc,
  .disk_sectors = virtio_blk_sectors,
  .disk_rw = virtio_blk_rw,
  .poweroff = bare_poweroff,
  .bench = bare_bench,
};
const struct arch_ops *ops = &bare_ops;

struct multiboot_info {
  u32 flags, mem_lower, mem_upper;
};

void bare_start(u32 info_address);
void bare_start(u32 info_address) {
  const struct multiboot_info *info = __va(info_address);
  u32 bytes = info->flags & 1 ? (info->mem_upper + 1024) * 1024 : 16 << 20;
  cpu_tables();
  sysenter_init();
  serial_init();
  struct boot_memory boot = {
    .first_free_pfn = (__pa(_end) + PAGE_SIZE - 1) >> PAGE_SHIFT,
    .mapped_pfns = 4096, /* boot-bare.S maps 16 MiB */
    .nr_pages = bytes >> PAGE_SHIFT,
    .master_pgdir = boot_pgdir,
  };
  if (boot.mapped_pfns > boot.nr_pages) boot.mapped_pfns = boot.nr_pages;
  kmain(&boot);
}

void arch_late_init(void) {
  /* The identity map of the first 16 MiB was only for turning paging on. */
  for (u32 slot = 0; slot < 4; slot++) boot_pgdir[slot] = 0;
  bare_flush_tlb();
  pic_pit_init();
  virtio_blk_probe();
}
