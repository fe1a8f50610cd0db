/* escape: a kernel that looks everywhere a VMM could hide. With paging on it maps every
   guest-physical frame (identity with 4 KiB pages, and again through 4 MiB pages), checksums and
   pattern-tests all free RAM, points PTEs above its RAM and at the MMIO holes, fills the top of the
   linear address space (0xFFC00000-0xFFFFFFFF, where a BT VMM keeps its own area) and moves its GDT
   and IDT there, reads and edits its page tables through a self-mapping slot, sweeps all 1024 page-directory slots, and loads DPL-0 descriptors whose bases and
   limits span the whole 4 GiB (expand-down too). It prints checksums and fault summaries on COM1:
   deterministic, so a VMM must show it exactly what the bare CPU shows. */
#include "../common/gdt.h"
#include "../common/interrupts.h"
#include "../common/multiboot.h"
#include "../common/serial.h"
#include "escape.h"

#define PAGE 4096u
#define LARGE_PAGE 0x400000u
#define PTE_P 0x1u
#define PTE_W 0x2u
#define PDE_PS 0x80u
#define CR0_PG 0x80000000u
#define CR0_WP 0x00010000u
#define CR4_PSE 0x10u
#define CPUID_PSE (1u << 3)
#define MAX_RAM_TABLES 64u        /* identity-map up to 256 MiB with 4 KiB pages */
#define FREE_BASE 0x400000u       /* RAM from 4 MiB up is free: the kernel image ends below it */
#define ALIAS_BASE 0x80000000u    /* RAM again, through 4 MiB pages */
#define MMIO_WINDOW 0xa0000000u   /* 4 MiB pages onto the holes, one slot each */
#define TOP_SLOT 1023u            /* 0xFFC00000-0xFFFFFFFF */
#define TOP 0xffc00000u
#define SELF_SLOT 0x300u          /* the page directory maps itself here: 0xC0000000 shows every table */
#define SELF_WINDOW (SELF_SLOT << 22)
#define PTE_A 0x20u
#define PTE_D 0x40u

static u32 page_directory[1024] __attribute__((aligned(4096)));
static u32 ram_tables[MAX_RAM_TABLES][1024] __attribute__((aligned(4096)));
static u32 above_table[1024] __attribute__((aligned(4096)));
static u32 top_table[1024] __attribute__((aligned(4096)));
static u32 ram_end, ram_tables_used, have_pse;

/* Faults raised by access.S's helpers. */
static u32 fault_count, last_vector, last_error, last_cr2, int_count;

static void on_fault(struct frame *f) {
  u32 eip = f->eip;
  if (eip != (u32)read32_insn && eip != (u32)write32_insn && eip != (u32)read_fs32_insn && eip != (u32)load_fs_insn) {
    serial_puts("escape: unexpected exception ");
    serial_put_dec(f->vector);
    serial_puts(" at ");
    serial_put_hex(eip);
    serial_putc('\n');
    guest_exit(3);
  }
  fault_count++;
  last_vector = f->vector;
  last_error = f->error;
  if (f->vector == 14) __asm__ volatile("mov %%cr2, %0" : "=r"(last_cr2));
  f->eip = (u32)access_fixup;
}

static void on_int(struct frame *f) {
  (void)f;
  int_count++;
}

static void line(const char *name) {
  serial_puts("escape: ");
  serial_puts(name);
  serial_putc(':');
}

static void field(const char *name, u32 value) {
  serial_putc(' ');
  serial_puts(name);
  serial_putc('=');
  serial_put_hex(value);
}

/* One access through a helper, printed as its value or the fault it raised. */
static void show_access(const char *name, u32 value) {
  serial_putc(' ');
  serial_puts(name);
  serial_putc('=');
  if (fault_count) {
    serial_puts(last_vector == 14 ? "#PF(" : last_vector == 13 ? "#GP(" : last_vector == 12 ? "#SS(" : "#NP(");
    serial_put_hex(last_error);
    if (last_vector == 14) {
      serial_puts(",cr2=");
      serial_put_hex(last_cr2);
    }
    serial_putc(')');
  } else {
    serial_put_hex(value);
  }
  fault_count = 0;
}

static void flush_tlb(void) {
  u32 cr3;
  __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

/* Order-sensitive checksum of [start, end) read through linear addresses. */
static u32 checksum(u32 start, u32 end) {
  u32 sum = 0;
  for (const volatile u32 *p = (const volatile u32 *)start; (u32)p < end && (u32)p >= start; p++) {
    sum = ((sum << 1) | (sum >> 31)) ^ *p;
  }
  return sum;
}

static u32 pattern(u32 physical) { return physical * 0x9e3779b1u ^ 0x5a5a5a5au; }

/* Every dword of the page at `linear` := value (REP STOSD). */
static void fill_page(u32 linear, u32 value) {
  u32 count = PAGE / 4;
  __asm__ volatile("cld; rep stosl" : "+D"(linear), "+c"(count) : "a"(value) : "memory");
}

/* Whether every dword of the page at `linear` equals value (REPE SCASD). */
static u32 page_holds(u32 linear, u32 value) {
  u32 count = PAGE / 4;
  u8 equal;
  __asm__ volatile("cld; repe scasl; sete %2" : "+D"(linear), "+c"(count), "=q"(equal) : "a"(value) : "memory", "cc");
  return equal;
}

static void paging_init(void) {
  ram_tables_used = (ram_end + LARGE_PAGE - 1) / LARGE_PAGE;
  if (ram_tables_used > MAX_RAM_TABLES) ram_tables_used = MAX_RAM_TABLES;
  for (u32 t = 0; t < ram_tables_used; t++) {
    for (u32 e = 0; e < 1024; e++) {
      u32 address = t * LARGE_PAGE + e * PAGE;
      /* Frames past the end of RAM in the last table stay mapped: PTEs above RAM. */
      ram_tables[t][e] = address == 0 ? 0 : address | PTE_P | PTE_W;
    }
    page_directory[t] = (u32)ram_tables[t] | PTE_P | PTE_W;
  }
  /* The 4 MiB just above the identity map, page by page. */
  for (u32 e = 0; e < 1024; e++) above_table[e] = (ram_tables_used * LARGE_PAGE + e * PAGE) | PTE_P | PTE_W;
  page_directory[ram_tables_used] = (u32)above_table | PTE_P | PTE_W;
  if (have_pse) {
    for (u32 t = 0; t < ram_tables_used; t++) page_directory[(ALIAS_BASE >> 22) + t] = (t * LARGE_PAGE) | PDE_PS | PTE_P | PTE_W;
    static const u32 holes[] = { 0xc0000000u, 0xd0000000u, 0xfec00000u, 0xffc00000u };
    for (u32 i = 0; i < sizeof holes / sizeof holes[0]; i++) page_directory[(MMIO_WINDOW >> 22) + i] = holes[i] | PDE_PS | PTE_P | PTE_W;
  }
  page_directory[SELF_SLOT] = (u32)page_directory | PTE_P | PTE_W;
  u32 cr0, cr4;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  if (have_pse) __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_PSE));
  __asm__ volatile("mov %0, %%cr3" : : "r"(page_directory) : "memory");
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | CR0_PG | CR0_WP) : "memory");
}

/* All RAM below and above the kernel image: read, written with a pattern through the identity
   map, read back through the 4 MiB alias. */
static void whole_ram(void) {
  line("ram");
  field("bytes", ram_end);
  field("identity-tables", ram_tables_used);
  field("pse", have_pse);
  serial_putc('\n');
  u32 mapped_end = ram_tables_used * LARGE_PAGE < ram_end ? ram_tables_used * LARGE_PAGE : ram_end;
  line("low-ram");
  field("sum", checksum(PAGE, 0xa0000));
  serial_putc('\n');
  /* The 640 KiB-1 MiB hole is device space (each read leaves the CPU): one dword per page. */
  u32 hole = 0;
  for (u32 a = 0xa0000; a < 0x100000; a += PAGE) hole = ((hole << 1) | (hole >> 31)) ^ read32(a);
  line("legacy-hole");
  field("sum", hole);
  serial_putc('\n');
  /* Fresh RAM reads as zeros; then each page gets its own value through the identity map and is
     checked dword by dword through the 4 MiB alias (the identity map without PSE). */
  u32 nonzero = 0, bad = 0, sum = 0;
  for (u32 a = FREE_BASE; a < mapped_end; a += PAGE) nonzero += !page_holds(a, 0);
  for (u32 a = FREE_BASE; a < mapped_end; a += PAGE) fill_page(a, pattern(a));
  u32 view = have_pse ? ALIAS_BASE : 0;
  for (u32 a = FREE_BASE; a < mapped_end; a += PAGE) {
    bad += !page_holds(view + a, pattern(a));
    sum = ((sum << 1) | (sum >> 31)) ^ read32(view + a + PAGE - 4);
  }
  line("free-ram");
  field("pages", (mapped_end - FREE_BASE) / PAGE);
  field("nonzero-before", nonzero);
  field("pattern-mismatches", bad);
  field("sum", sum);
  serial_putc('\n');
}

/* PTEs pointing past RAM: every page of the 4 MiB above the identity map, read, then written and read. */
static void above_ram(void) {
  u32 base = ram_tables_used * LARGE_PAGE, sum = 0, faults = 0, all_ones = 0;
  for (u32 e = 0; e < 1024; e++) {
    u32 v = read32(base + e * PAGE);
    if (fault_count) faults++;
    fault_count = 0;
    if (v == 0xffffffffu) all_ones++;
    sum = ((sum << 1) | (sum >> 31)) ^ v;
  }
  line("above-ram");
  field("physical", base);
  field("sum", sum);
  field("all-ones", all_ones);
  field("faults", faults);
  show_access("write-read", (write32(base, 0x12345678), read32(base)));
  serial_putc('\n');
}

/* 4 MiB pages onto the MMIO holes: the PCI hole, the virtio-mmio slots, the I/O APIC and local
   APIC addresses (0xFEC00000, 0xFEE00000), the firmware window below 4 GiB. Reads only: devices may answer. */
static void mmio_holes(void) {
  if (!have_pse) return;
  static const char *const names[] = { "pci-hole", "virtio-slot0", "ioapic", "lapic", "firmware" };
  static const u32 windows[] = { 0, LARGE_PAGE, 2 * LARGE_PAGE, 2 * LARGE_PAGE + 0x200000, 3 * LARGE_PAGE + 0x3ffff0 };
  line("mmio");
  for (u32 i = 0; i < 5; i++) show_access(names[i], read32(MMIO_WINDOW + windows[i]));
  serial_putc('\n');
}

/* The top 4 MiB of linear space, first as one 4 MiB page, then page by page. */
static void top_of_linear(void) {
  u32 physical = (ram_tables_used * LARGE_PAGE < ram_end ? ram_tables_used * LARGE_PAGE : ram_end) - LARGE_PAGE;
  physical &= ~(LARGE_PAGE - 1);
  if (have_pse) {
    page_directory[TOP_SLOT] = physical | PDE_PS | PTE_P | PTE_W;
    flush_tlb();
    for (u32 a = TOP; a != 0; a += PAGE) fill_page(a, ~pattern(a));
    u32 bad = 0;
    for (u32 a = 0; a < LARGE_PAGE; a += PAGE) bad += !page_holds(physical + a, ~pattern(TOP + a));
    line("top-large-page");
    field("physical", physical);
    field("mismatches", bad);
    field("last-dword", read32(0xfffffffcu));
    serial_putc('\n');
  }
  for (u32 e = 0; e < 1024; e++) top_table[e] = (physical + e * PAGE) | PTE_P | PTE_W;
  top_table[1022] &= ~PTE_W;
  page_directory[TOP_SLOT] = (u32)top_table | PTE_P | PTE_W;
  flush_tlb();
  line("top-pages");
  show_access("last-dword", read32(0xfffffffcu));
  show_access("wrapping-dword", read32(0xfffffffeu)); /* bytes FFFFFFFE-FFFFFFFF and 0-1: page 0 is absent */
  show_access("read-only-write", write32(0xffffe000u, 1));
  top_table[1023] = 0;
  flush_tlb();
  show_access("absent-read", read32(0xfffff000u));
  top_table[1023] = (physical + 1023 * PAGE) | PTE_P | PTE_W;
  flush_tlb();
  show_access("present-again", read32(0xfffff000u));
  serial_putc('\n');
}

struct __attribute__((packed)) table_register {
  u16 limit;
  u32 base;
};

static void copy(u32 to, u32 from, u32 bytes) {
  for (u32 i = 0; i < bytes; i++) ((volatile u8 *)to)[i] = ((const volatile u8 *)from)[i];
}

static void load_tables(const struct table_register *gdtr, const struct table_register *idtr) {
  __asm__ volatile(
      "lgdt %0\n\t"
      "lidt %1\n\t"
      "ljmp %2, $1f\n"
      "1:\n\t"
      "mov %3, %%ax\n\t"
      "mov %%ax, %%ds\n\t"
      "mov %%ax, %%es\n\t"
      "mov %%ax, %%ss"
      : : "m"(*gdtr), "m"(*idtr), "i"(KERNEL_CS), "i"(KERNEL_DS) : "eax", "memory");
}

/* The GDT and IDT moved into the top page: interrupts and faults still reach their handlers. */
static void tables_at_top(void) {
  struct table_register gdtr, idtr, top_gdtr, top_idtr;
  __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
  top_idtr = (struct table_register){ idtr.limit, 0xfffff000u };
  top_gdtr = (struct table_register){ gdtr.limit, 0xfffff800u };
  copy(top_idtr.base, idtr.base, idtr.limit + 1u);
  copy(top_gdtr.base, gdtr.base, gdtr.limit + 1u);
  load_tables(&top_gdtr, &top_idtr);
  struct table_register now;
  __asm__ volatile("sgdt %0" : "=m"(now));
  line("tables-at-top");
  field("gdt", now.base);
  __asm__ volatile("int $0x80");
  field("int", int_count);
  show_access("page-0", read32(0x10));
  load_tables(&gdtr, &idtr);
  serial_putc('\n');
}

/* The linear address of the PTE that maps `linear`, through the self-mapping slot. */
static u32 pte_window(u32 linear) { return SELF_WINDOW + (linear >> 12) * 4; }

/* The guest's page tables seen and edited through its own linear window: the accessed and dirty
   bits the CPU set, and a PTE rewritten by an ordinary store, flushed with INVLPG. */
static void page_tables(void) {
  u32 above = ram_tables_used * LARGE_PAGE;
  line("page-tables");
  field("self-pde", read32(pte_window(SELF_WINDOW + SELF_SLOT * PAGE)) & 0xfffu);
  field("pde-0", read32(pte_window(SELF_WINDOW)) & 0xfffu);
  field("pte-written", read32(pte_window(above)) & (PTE_A | PTE_D));
  field("pte-read", read32(pte_window(above + PAGE)) & (PTE_A | PTE_D));
  /* Between the kernel image and FREE_BASE: mapped, never accessed. */
  field("pte-untouched", read32(pte_window(FREE_BASE - PAGE)) & (PTE_A | PTE_D));
  if (have_pse) {
    /* Alias slot 0 (RAM below FREE_BASE) is not used yet; slot 1 was only read. */
    u32 alias_pdes = SELF_WINDOW + SELF_SLOT * PAGE + (ALIAS_BASE >> 22) * 4;
    field("alias-pde-untouched", read32(alias_pdes) & 0xfffu);
    field("alias-pde-read", read32(alias_pdes + 4) & 0xfffu);
  }
  /* Point the PTE of one free page at the next frame, with a plain store into the window. */
  u32 page = FREE_BASE + 16 * PAGE, saved = read32(pte_window(page));
  write32(page, 0x0a0a0a0a);
  write32(page + PAGE, 0x0b0b0b0b);
  write32(pte_window(page), (page + PAGE) | PTE_P | PTE_W);
  __asm__ volatile("invlpg (%0)" : : "r"(page) : "memory");
  field("remapped", read32(page));
  write32(pte_window(page), saved);
  __asm__ volatile("invlpg (%0)" : : "r"(page) : "memory");
  field("restored", read32(page));
  /* Clear the PTE: the next access faults at that address. */
  write32(pte_window(page), 0);
  __asm__ volatile("invlpg (%0)" : : "r"(page) : "memory");
  show_access("cleared", read32(page + 8));
  write32(pte_window(page), saved);
  __asm__ volatile("invlpg (%0)" : : "r"(page) : "memory");
  serial_putc('\n');
}

/* Every page-directory slot: its first and last dword. */
static void sweep(void) {
  u32 faults = 0, sum = 0, mapped = 0;
  for (u32 slot = 0; slot < 1024; slot++) {
    u32 first = read32(slot << 22), first_faulted = fault_count;
    fault_count = 0;
    u32 last = read32((slot << 22) + LARGE_PAGE - 4), last_faulted = fault_count;
    fault_count = 0;
    faults += first_faulted + last_faulted;
    if (!first_faulted || !last_faulted) mapped++;
    sum = ((sum << 1) | (sum >> 31)) ^ first ^ (last * 3);
  }
  line("sweep");
  field("slots-mapped", mapped);
  field("faults", faults);
  field("sum", sum);
  serial_putc('\n');
}

/* DPL-0 data descriptors over the whole 4 GiB: flat, based high (wrapping), a window on the top
   4 MiB, expand-down, and based above zero so offsets wrap to page 0. */
static void segments(void) {
  enum { FLAT = 6, HIGH_BASE, TOP_WINDOW, EXPAND_DOWN, WRAP };
  gdt_set(FLAT, gdt_descriptor(0, 0xfffff, 0x92, 0xc));
  gdt_set(HIGH_BASE, gdt_descriptor(0x80000000u, 0xfffff, 0x92, 0xc));
  gdt_set(TOP_WINDOW, gdt_descriptor(TOP, 0x3ff, 0x92, 0xc));
  gdt_set(EXPAND_DOWN, gdt_descriptor(0, 0x7ffff, 0x96, 0xc));
  gdt_set(WRAP, gdt_descriptor(0x10000000u, 0xfffff, 0x92, 0xc));
  static const struct { u32 index; const char *name; u32 offset; } reads[] = {
    { FLAT, "flat-top", 0xfffffffcu },
    { HIGH_BASE, "high-base-top", 0x7ffffffcu },
    { HIGH_BASE, "high-base-wrap", 0x80000010u },
    { TOP_WINDOW, "window-last", 0x3ffffcu },
    { TOP_WINDOW, "window-beyond", 0x400000u },
    { EXPAND_DOWN, "expand-down-low", 0x7ffffffcu },
    { EXPAND_DOWN, "expand-down-high", 0xfffffffcu },
    { WRAP, "wrap-to-page-0", 0xf0000010u },
  };
  line("segments");
  for (u32 i = 0; i < sizeof reads / sizeof reads[0]; i++) {
    load_fs(reads[i].index << 3);
    show_access(reads[i].name, read_fs32(reads[i].offset));
  }
  show_access("beyond-gdt", load_fs(0x80));
  show_access("null-read", (load_fs(0), read_fs32(0x1000)));
  serial_putc('\n');
}

static u32 cpuid_edx(u32 leaf) {
  u32 a = leaf, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  return d;
}

void kmain(u32 magic, const struct multiboot_info *info) {
  serial_init(0);
  gdt_init();
  idt_init();
  for (u8 vector = 11; vector <= 14; vector++) set_handler(vector, on_fault, 0);
  set_handler(SYSCALL_VECTOR, on_int, 0);
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(info->flags & MB_INFO_MEMORY)) {
    serial_puts("escape: no multiboot memory information\n");
    guest_exit(EXIT_FAILURE);
  }
  ram_end = (1024 + info->mem_upper) * 1024;
  if (ram_end < 2 * FREE_BASE || (u32)(top_table + 1024) > FREE_BASE) {
    serial_puts("escape: needs 8 MiB of RAM and a kernel image below 4 MiB\n");
    guest_exit(EXIT_FAILURE);
  }
  have_pse = (cpuid_edx(1) & CPUID_PSE) != 0;
  paging_init();
  serial_puts("escape: start\n");
  whole_ram();
  above_ram();
  mmio_holes();
  top_of_linear();
  tables_at_top();
  page_tables();
  sweep();
  segments();
  serial_puts("escape: done\n");
  guest_exit(EXIT_SUCCESS);
}
