/* sensitive: runs every sensitive and privileged instruction of a 32-bit x86 at CPL 0 and at
   CPL 3 and prints what each did, or the exception it raised with the frame the CPU pushed, on
   COM1; then exits 0. Every value printed is deterministic, so a VMM's output can be compared
   byte for byte with the bare CPU's (Popek and Goldberg's equivalence). */
#include "../common/gdt.h"
#include "../common/interrupts.h"
#include "../common/paging.h"
#include "../common/pic-pit.h"
#include "../common/serial.h"
#include "sensitive.h"

#define EFLAGS_IF 0x200
#define EFLAGS_IOPL 0x3000
#define USER_EFLAGS (EFLAGS_IF | 0x2)
#define USER_EFLAGS_IOPL3 (EFLAGS_IOPL | EFLAGS_IF | 0x2)
#define CR4_TSD 0x4
#define IO_BITMAP_BYTES 0x80 /* ports 0-0x3ff; ports above lie beyond the TSS limit and fault */
#define COM1_LCR 0x3fb       /* the one port the I/O bitmap opens to ring 3 */
#define COM1_MCR 0x3fc
#define IRQ_TIMER 0
#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define OCW3_READ_IRR 0x0a

/* The 32-bit TSS with an I/O permission bitmap (a set bit denies the port) and its 0xff end byte. */
struct __attribute__((packed)) tss {
  u32 link, esp0, ss0, unused[22];
  u16 trap, iomap_base;
  u8 iomap[IO_BITMAP_BYTES], iomap_end;
};

/* What an interrupt handler saw: the frame's CS, EFLAGS, EIP and, from ring 3, SS:ESP. */
struct taken {
  u32 count, cs, eflags, eip, handler_eflags, from_user, ss, esp;
};

static struct tss tss;
static struct tss tss2;
static u8 kernel_stack[8192] __attribute__((aligned(16)));
static u64 ldt[2];
struct outcome last;
static probe_fn *current_probe;
static int probe_running;
static struct taken soft, timer;
extern u32 isr_table[];
extern void sti_hlt_probe(void), after_hlt(void);
extern u32 user_page_a[], user_page_b[];
extern char __user_start[];

enum show { REGS, EAX, NOTHING, DELTA, LAR };
struct ring {
  const char *name;
  u32 eflags; /* 0: CPL 0 */
};
static const struct ring cpl0 = { "cpl0", 0 }, cpl3 = { "cpl3", USER_EFLAGS }, cpl3_iopl3 = { "cpl3-iopl3", USER_EFLAGS_IOPL3 };

static void put_field(const char *name, u32 value) {
  serial_putc(' ');
  serial_puts(name);
  serial_putc('=');
  serial_put_hex(value);
}

static const char *vector_name(u32 vector) {
  static const char *const names[] = { "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP",
    "#SS", "#GP", "#PF" };
  return vector < sizeof names / sizeof names[0] ? names[vector] : "vector";
}

static void print_fault(void) {
  serial_putc(' ');
  serial_puts(vector_name(last.vector));
  put_field("err", last.error);
  put_field("cs", last.cs);
  put_field("eip", last.eip_offset);
  put_field("eflags", last.eflags);
  if (last.vector == 14) put_field("cr2", last.cr2);
  if (last.from_user) {
    put_field("ss", last.ss);
    put_field("esp", last.esp_offset);
  } else {
    put_field("esp", last.esp_offset);
  }
}

/* Runs one probe and prints "RING NAME: results" or the exception; returns whether it faulted. */
static u32 probe(const struct ring *ring, const char *name, probe_fn *fn, u32 arg, enum show show) {
  last = (struct outcome){ 0 };
  current_probe = fn;
  probe_running = 1;
  last.faulted = run_probe(fn, ring->eflags, arg, USER_DS);
  probe_running = 0;
  serial_puts(ring->name);
  serial_putc(' ');
  serial_puts(name);
  serial_putc(':');
  if (last.faulted) {
    print_fault();
  } else if (show == REGS) {
    put_field("eax", last.eax);
    put_field("edx", last.edx);
  } else if (show == EAX) {
    put_field("eax", last.eax);
  } else if (show == DELTA) {
    serial_puts(last.edx || last.eax ? " delta>0" : " delta=0");
  } else if (show == LAR) {
    /* Bits 19:16 of LAR's result are undefined (SDM), so they are masked; a failing LAR or LSL
       leaves its destination alone (shown as it was). */
    serial_puts(last.eax & 1 ? " lar=ok" : " lar=fail");
    put_field(last.eax & 1 ? "ar" : "dest", last.eax & 1 ? probe_out[0] & 0x00f0ff00 : probe_out[0]);
    serial_puts(last.eax & 2 ? " lsl=ok" : " lsl=fail");
    put_field(last.eax & 2 ? "limit" : "dest", probe_out[1]);
    serial_puts(last.eax & 4 ? " verr=ok" : " verr=fail");
    serial_puts(last.eax & 8 ? " verw=ok" : " verw=fail");
  } else {
    serial_puts(" ok");
  }
  serial_putc('\n');
  return last.faulted;
}

static void print_taken(const char *what, const struct taken *t) {
  serial_puts(what);
  serial_putc(':');
  put_field("count", t->count);
  put_field("cs", t->cs);
  put_field("eflags", t->eflags);
  put_field("handler-if", t->handler_eflags & EFLAGS_IF);
  if (t->from_user) {
    put_field("ss", t->ss);
    put_field("esp", t->esp);
  }
  serial_putc('\n');
}

static u32 read_eflags(void) {
  u32 eflags;
  __asm__ volatile("pushf; pop %0" : "=r"(eflags));
  return eflags;
}

static void record(struct taken *t, const struct frame *f) {
  t->count++;
  t->cs = f->cs;
  t->eflags = f->eflags;
  t->eip = f->eip;
  t->handler_eflags = read_eflags();
  t->from_user = f->cs & 3;
  t->ss = t->from_user ? f->user_ss : 0;
  t->esp = t->from_user ? (u32)user_stack_top - f->user_esp : 0;
}

/* Exceptions: a probe's is recorded and the probe abandoned; any other is a failure. */
static void on_exception(struct frame *f) {
  if (!probe_running) {
    serial_puts("sensitive: unexpected ");
    serial_puts(vector_name(f->vector));
    put_field("eip", f->eip);
    put_field("err", f->error);
    serial_putc('\n');
    guest_exit(3);
  }
  last.vector = f->vector;
  last.error = f->error;
  last.cs = f->cs;
  last.eip_offset = f->eip - (u32)current_probe;
  last.eflags = f->eflags;
  if (f->vector == 14) __asm__ volatile("mov %%cr2, %0" : "=r"(last.cr2));
  last.from_user = f->cs & 3;
  if (last.from_user) {
    last.ss = f->user_ss;
    /* How far below the user stack top the probe was. */
    last.esp_offset = (u32)user_stack_top - f->user_esp;
  } else {
    /* At CPL 0 no SS:ESP is pushed: the interrupted ESP is just above the saved EFLAGS. */
    last.esp_offset = probe_entry_esp - (u32)&f->user_esp;
  }
  resume_kernel(1);
}

/* INT 0x80 from user_trampoline: the probe returned. */
static void on_probe_done(struct frame *f) {
  last.eax = f->eax;
  last.edx = f->edx;
  resume_kernel(0);
}

static void on_soft_interrupt(struct frame *f) { record(&soft, f); }

static void on_timer(struct frame *f) {
  record(&timer, f);
  tick_flag = 1;
}

static void setup_descriptors(void) {
  gdt_set(TSS2_SEL >> 3, gdt_descriptor((u32)&tss2, 103, 0x89, 0x0));
  gdt_set(LDT_SEL >> 3, gdt_descriptor((u32)ldt, sizeof ldt - 1, 0x82, 0x0));
  u32 gate = (u32)gate_target;
  u64 gate_low = (gate & 0xffff) | (u64)KERNEL_CS << 16 | 1ull << 32 /* one parameter */;
  u64 gate_high = (u64)(gate >> 16) << 48;
  gdt_set(GATE3_SEL >> 3, gate_low | gate_high | (u64)0xec << 40); /* P, DPL 3, 32-bit call gate */
  gdt_set(CONFORMING_SEL >> 3, gdt_descriptor(0, 0xfffff, 0x9e, 0xc));
  gdt_set(DATA1_SEL >> 3, gdt_descriptor(0, 0xfffff, 0xb2, 0xc));
  gdt_set(XONLY_SEL >> 3, gdt_descriptor(0, 0xfffff, 0xf8, 0xc));
  gdt_set(ABSENT_SEL >> 3, gdt_descriptor(0, 0xfffff, 0x72, 0xc));
  gdt_set(EXPDOWN_SEL >> 3, gdt_descriptor(0, 0xfff, 0xf6, 0x4));
  gdt_set(GATE0_SEL >> 3, gate_low | gate_high | (u64)0x8c << 40); /* P, DPL 0 */
  ldt[1] = gdt_descriptor(0, 0xfffff, 0xf2, 0xc);
  __asm__ volatile("lldt %w0" : : "r"(LDT_SEL));

  tss.ss0 = KERNEL_DS;
  tss.esp0 = (u32)(kernel_stack + sizeof kernel_stack);
  tss.iomap_base = __builtin_offsetof(struct tss, iomap);
  for (u32 i = 0; i < IO_BITMAP_BYTES; i++) tss.iomap[i] = 0xff;
  tss.iomap[COM1_LCR / 8] &= (u8)~(1 << (COM1_LCR % 8));
  tss.iomap_end = 0xff;
  tss2 = (struct tss){ 0 };
  tss2.ss0 = KERNEL_DS;
  tss2.esp0 = tss.esp0;
  tss2.iomap_base = 104;
  gdt_set_tss((u32)&tss, sizeof tss - 1);
  __asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
}

static void setup_interrupts(void) {
  idt_init();
  for (u8 vector = 0; vector < IRQ_BASE; vector++) set_handler(vector, on_exception, 0);
  idt_set_gate(3, 0xee);  /* INT3 and INTO reach their handlers from ring 3 */
  idt_set_gate(4, 0xee);
  idt_set_gate(VEC_TRAP3, 0xef);
  idt_set_gate(VEC_INTR0, 0x8e);
  idt_set_gate(VEC_ABSENT, 0x6e);
  idt_set_gate(VEC_INTR3, 0xee);
  set_handler(VEC_TRAP3, on_soft_interrupt, 0);
  set_handler(VEC_INTR0, on_soft_interrupt, 0);
  set_handler(VEC_INTR3, on_soft_interrupt, 0);
  set_handler(SYSCALL_VECTOR, on_probe_done, 1);
  set_handler(IRQ_BASE + IRQ_TIMER, on_timer, 0);
  pic_remap(IRQ_BASE); /* every line masked until a timer test */
}

static const u32 selectors[] = { 0x00, KERNEL_CS, KERNEL_DS, USER_CS, USER_DS, TSS_SEL, TSS2_SEL, LDT_SEL, GATE3_SEL | 3,
  CONFORMING_SEL, DATA1_SEL, DATA1_SEL | 3, XONLY_SEL | 3, ABSENT_SEL | 3, EXPDOWN_SEL | 3, GATE0_SEL, 0x78, 0x80,
  LDT_DATA_SEL, 0x17 };
static const u32 data_selectors[] = { 0x00, KERNEL_DS, USER_DS, CONFORMING_SEL, DATA1_SEL, DATA1_SEL | 3, XONLY_SEL | 3,
  ABSENT_SEL | 3, EXPDOWN_SEL | 3, LDT_DATA_SEL, 0x17, 0x80, TSS_SEL, GATE3_SEL | 3 };
static const u32 stack_selectors[] = { KERNEL_DS, USER_DS & ~3u, USER_DS, 0x00, DATA1_SEL, LDT_DATA_SEL, ABSENT_SEL | 3 };

static void put_name_sel(char *buffer, const char *prefix, u32 selector) {
  while (*prefix) *buffer++ = *prefix++;
  for (int shift = 12; shift >= 0; shift -= 4) *buffer++ = "0123456789abcdef"[(selector >> shift) & 0xf];
  *buffer = 0;
}

/* The unprivileged sensitive instructions: they run everywhere, and what they show depends on CPL. */
static void sensitive_unprivileged(const struct ring *r) {
  char name[32];
  probe(r, "sgdt", p_sgdt, 0, REGS);
  probe(r, "sidt", p_sidt, 0, REGS);
  probe(r, "sldt", p_sldt, 0, EAX);
  probe(r, "str", p_str, 0, EAX);
  probe(r, "smsw", p_smsw, 0, EAX);
  probe(r, "pushf", p_pushf, 0, EAX);
  probe(r, "popf-flip-if-iopl", p_popf, 0, REGS);
  probe(r, "iret-flip-if-iopl", p_iret_flags, 0, REGS);
  for (u32 i = 0; i < sizeof selectors / sizeof selectors[0]; i++) {
    put_name_sel(name, "lar-lsl-verr-verw-", selectors[i]);
    probe(r, name, p_lar_lsl_verr_verw, selectors[i], LAR);
  }
  probe(r, "mov-cs-ss", p_sregs, 0, REGS);
  probe(r, "push-cs-ss", p_push_sreg, 0, REGS);
  for (u32 i = 0; i < sizeof data_selectors / sizeof data_selectors[0]; i++) {
    put_name_sel(name, "mov-ds-", data_selectors[i]);
    probe(r, name, p_load_ds, data_selectors[i], EAX);
  }
  for (u32 i = 0; i < sizeof stack_selectors / sizeof stack_selectors[0]; i++) {
    put_name_sel(name, "mov-ss-", stack_selectors[i]);
    probe(r, name, p_load_ss, stack_selectors[i], EAX);
  }
  static const u32 pop_selectors[] = { KERNEL_DS, USER_DS, 0x00 };
  for (u32 i = 0; i < sizeof pop_selectors / sizeof pop_selectors[0]; i++) {
    put_name_sel(name, "pop-ds-", pop_selectors[i]);
    probe(r, name, p_pop_ds, pop_selectors[i], EAX);
    put_name_sel(name, "pop-ss-", pop_selectors[i]);
    probe(r, name, p_pop_ss, pop_selectors[i], EAX);
  }
  probe(r, "ljmp-kernel-cs", p_far_jmp_kernel, 0, EAX);
  probe(r, "lcall-conforming", p_far_call_conforming, 0, REGS);
  gate_out[0] = gate_out[1] = gate_out[2] = gate_out[3] = gate_out[4] = 0;
  if (!probe(r, "lcall-gate-dpl3", p_call_gate, GATE3_SEL | 3, EAX)) {
    serial_puts(r->name);
    serial_puts(" gate-dpl3-frame:");
    put_field("cs", gate_out[0]);
    put_field("caller-cs", gate_out[1]);
    put_field("param", gate_out[2]);
    put_field("caller-ss", gate_out[3]);
    put_field("caller-esp", gate_out[3] ? (u32)user_stack_top - gate_out[4] : 0);
    serial_putc('\n');
  }
  probe(r, "lcall-gate-dpl0", p_call_gate, GATE0_SEL, EAX);
  if (r->eflags) probe(r, "ljmp-gate-dpl3", p_jmp_gate, GATE3_SEL | 3, EAX);
  probe(r, "lret-kernel-cs", p_far_ret_kernel, 0, EAX);
  static const u32 vectors[] = { VEC_TRAP3, VEC_INTR0, VEC_ABSENT, VEC_INTR3 };
  for (u32 i = 0; i < 4; i++) {
    soft = (struct taken){ 0 };
    put_name_sel(name, "int-", vectors[i]);
    if (!probe(r, name, p_int, vectors[i], NOTHING)) print_taken("  taken", &soft);
  }
  probe(r, "int3", p_int3, 0, NOTHING);
  probe(r, "into", p_into, 0, NOTHING);
  probe(r, "iret-same-cpl", p_iret_same, 0, EAX);
  probe(r, "iret-kernel-cs", p_iret_kernel, 0, EAX);
  probe(r, "cpuid-0", p_cpuid, 0, NOTHING);
  serial_puts("  regs:");
  for (int i = 0; i < 4; i++) put_field("r", probe_out[i]);
  serial_puts("\n");
  probe(r, "cpuid-1", p_cpuid, 1, NOTHING);
  serial_puts("  regs:");
  for (int i = 0; i < 4; i++) put_field("r", probe_out[i]);
  serial_puts("\n");
}

/* The privileged instructions: they work at CPL 0 and raise #GP(0) at CPL 3. */
static void privileged(const struct ring *r) {
  int kernel = r->eflags == 0;
  probe(r, "mov-from-cr0", p_mov_from_cr0, 0, EAX);
  probe(r, "mov-from-cr2", p_mov_from_cr2, 0, EAX);
  probe(r, "mov-from-cr3", p_mov_from_cr3, 0, EAX);
  probe(r, "mov-from-cr4", p_mov_from_cr4, 0, EAX);
  probe(r, "mov-to-cr3", p_mov_to_cr3, 0, NOTHING);
  probe(r, "mov-from-dr7", p_mov_from_dr7, 0, EAX);
  probe(r, "mov-to-dr7", p_mov_to_dr7, 0, EAX);
  probe(r, "lgdt", p_lgdt, 0, NOTHING);
  probe(r, "lidt", p_lidt, 0, NOTHING);
  probe(r, "lldt", p_lldt, 0, EAX);
  probe(r, "ltr-busy", p_ltr, TSS_SEL, EAX);
  probe(r, "cli", p_cli, 0, EAX);
  probe(r, "sti", p_sti, 0, EAX);
  if (!kernel) probe(r, "hlt", p_hlt, 0, NOTHING);
  probe(r, "in-3fb", p_in, COM1_LCR, EAX);
  probe(r, "out-3fb", p_out, COM1_LCR, NOTHING);
  if (!kernel) {
    probe(r, "in-3fc", p_in, COM1_MCR, EAX);
    probe(r, "out-3fc", p_out, COM1_MCR, NOTHING);
    probe(r, "in-402", p_in, 0x402, EAX);
  }
  probe(r, "invlpg", p_invlpg, (u32)user_page_a, NOTHING);
  probe(r, "wbinvd", p_wbinvd, 0, NOTHING);
  probe(r, "rdmsr-tsc", p_rdmsr, 0x10, NOTHING);
  probe(r, "wrmsr-bios-sign-id", p_wrmsr, 0x8b, NOTHING);
  probe(r, "rdtsc", p_rdtsc, 0, DELTA);
  probe(r, "clts", p_clts, 0, NOTHING);
  probe(r, "lmsw", p_lmsw, 0, NOTHING);
}

/* Exceptions whose frames differ by privilege: no SS:ESP from CPL 0, a stack switch from CPL 3. */
static void faults(const struct ring *r) {
  probe(r, "divide-error", p_divide_error, 0, NOTHING);
  probe(r, "ud2", p_ud2, 0, NOTHING);
  probe(r, "read-page-0", p_read, 0x10, EAX);
  probe(r, "read-kernel-page", p_read, (u32)&tss, EAX);
  probe(r, "write-kernel-page", p_write, (u32)&tss2.unused[0], NOTHING);
  probe(r, "read-user-page", p_read, (u32)__user_start, NOTHING);
}

static void mask_timer(void) { outb(PIC1_DATA, inb(PIC1_DATA) | 1 << IRQ_TIMER); }

/* The PIT's IRQ 0 taken in user mode, in kernel mode, and by HLT after STI with it pending. */
static void timer_interrupts(void) {
  pit_set_frequency(100);
  timer = (struct taken){ 0 };
  tick_flag = 0;
  pic_unmask(IRQ_TIMER);
  probe(&cpl3, "wait-for-timer", p_wait_tick, 0, NOTHING);
  mask_timer();
  timer.eflags &= EFLAGS_IF | EFLAGS_IOPL; /* the arithmetic flags depend on where it struck */
  print_taken("cpl3 timer", &timer);

  timer = (struct taken){ 0 };
  tick_flag = 0;
  pic_unmask(IRQ_TIMER);
  while (!tick_flag) sti_hlt();
  mask_timer();
  timer.eflags &= EFLAGS_IF | EFLAGS_IOPL;
  print_taken("cpl0 timer", &timer);

  timer = (struct taken){ 0 };
  tick_flag = 0;
  pic_unmask(IRQ_TIMER);
  do outb(PIC1_CMD, OCW3_READ_IRR);
  while (!(inb(PIC1_CMD) & 1 << IRQ_TIMER));
  sti_hlt_probe();
  mask_timer();
  serial_puts("cpl0 sti-hlt-pending:");
  put_field("count", timer.count);
  put_field("eip", timer.eip - (u32)sti_hlt_probe);
  serial_putc('\n');
}

static u32 read_cr4(void) {
  u32 cr4;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  return cr4;
}

static void write_cr4(u32 cr4) { __asm__ volatile("mov %0, %%cr4" : : "r"(cr4)); }

/* CR4.TSD makes RDTSC privileged. */
static void time_stamp_disable(void) {
  u32 cr4 = read_cr4();
  write_cr4(cr4 | CR4_TSD);
  probe(&cpl0, "rdtsc-tsd", p_rdtsc, 0, DELTA);
  probe(&cpl3, "rdtsc-tsd", p_rdtsc, 0, DELTA);
  write_cr4(cr4);
  probe(&cpl3, "rdtsc-no-tsd", p_rdtsc, 0, DELTA);
}

/* LTR marks the new TSS busy; STR and LAR show it. */
static void task_register(void) {
  probe(&cpl0, "ltr-available", p_ltr, TSS2_SEL, EAX);
  probe(&cpl0, "lar-lsl-verr-verw-0030", p_lar_lsl_verr_verw, TSS2_SEL, LAR);
  probe(&cpl0, "str", p_str, 0, EAX);
  gdt_set_tss((u32)&tss, sizeof tss - 1);
  __asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
  gdt_set(TSS2_SEL >> 3, gdt_descriptor((u32)&tss2, 103, 0x89, 0x0));
  probe(&cpl0, "str", p_str, 0, EAX);
}

/* INVLPG after pointing page A's PTE at page B's frame: the next access sees B. */
static void invalidate_page(void) {
  user_page_a[0] = 0x11111111;
  user_page_b[0] = 0x22222222;
  u32 *pte = paging_pte((u32)user_page_a);
  u32 original = *pte;
  *pte = (u32)user_page_b | (original & 0xfff);
  probe(&cpl0, "invlpg-remapped", p_invlpg, (u32)user_page_a, NOTHING);
  probe(&cpl3, "read-remapped", p_read, (u32)user_page_a, EAX);
  *pte = original;
  probe(&cpl0, "invlpg-restored", p_invlpg, (u32)user_page_a, NOTHING);
  probe(&cpl3, "read-restored", p_read, (u32)user_page_a, EAX);
}

/* IRET to ring 3 nulls the data segment registers the new CPL may not use. */
static void outer_iret(void) {
  static const u32 entry_ds[] = { USER_DS, KERNEL_DS, CONFORMING_SEL };
  char name[32];
  for (u32 i = 0; i < 3; i++) {
    last = (struct outcome){ 0 };
    current_probe = p_read_ds_es;
    probe_running = 1;
    last.faulted = run_probe(p_read_ds_es, USER_EFLAGS, 0, entry_ds[i]);
    probe_running = 0;
    put_name_sel(name, "cpl3 iret-with-ds-", entry_ds[i]);
    serial_puts(name);
    serial_putc(':');
    if (last.faulted) {
      print_fault();
    } else {
      put_field("ds", last.eax);
      put_field("es", last.edx);
      put_field("fs", probe_out[0]);
      put_field("gs", probe_out[1]);
    }
    serial_putc('\n');
  }
}

void kmain(void) {
  serial_init(0);
  gdt_init();
  setup_descriptors();
  setup_interrupts();
  paging_init();
  __asm__ volatile("mov %%cr3, %0" : "=r"(saved_cr3));
  serial_puts("sensitive: start\n");
  serial_puts("== unprivileged\n");
  sensitive_unprivileged(&cpl0);
  sensitive_unprivileged(&cpl3);
  serial_puts("== iopl\n");
  probe(&cpl3_iopl3, "pushf", p_pushf, 0, EAX);
  probe(&cpl3_iopl3, "popf-flip-if-iopl", p_popf, 0, REGS);
  probe(&cpl3_iopl3, "iret-flip-if-iopl", p_iret_flags, 0, REGS);
  probe(&cpl3_iopl3, "cli", p_cli, 0, EAX);
  probe(&cpl3_iopl3, "sti", p_sti, 0, EAX);
  probe(&cpl3_iopl3, "in-3fc", p_in, COM1_MCR, EAX);
  probe(&cpl3_iopl3, "in-402", p_in, 0x402, EAX);
  probe(&cpl3_iopl3, "hlt", p_hlt, 0, NOTHING);
  outer_iret();
  serial_puts("== privileged\n");
  privileged(&cpl0);
  privileged(&cpl3);
  time_stamp_disable();
  task_register();
  invalidate_page();
  serial_puts("== faults\n");
  faults(&cpl0);
  faults(&cpl3);
  serial_puts("== interrupts\n");
  timer_interrupts();
  serial_puts("sensitive: done\n");
  guest_exit(EXIT_SUCCESS);
}
