/* minikernel: one kernel source built twice. The core (mm, vm, proc, console) calls the machine only
   through `ops` (arch.h), filled by arch-bare.c (privileged instructions, PC devices) or arch-xen.c
   (Xen x86-32 PV hypercalls), the way Linux's paravirt_ops serves bare metal and Xen. */
#ifndef MK_H
#define MK_H

#ifndef __ASSEMBLER__
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int s32;
#endif

#define NULL ((void *)0)
#define PAGE_SIZE 4096
#define PAGE_SHIFT 12

/* The kernel sees all RAM at KERNEL_BASE + physical (pseudo-physical under Xen) address. */
#define KERNEL_BASE 0xC0000000
#define __va(pa) ((void *)((u32)(pa) + KERNEL_BASE))
#define __pa(va) ((u32)(va) - KERNEL_BASE)
#define KERNEL_FIRST_SLOT 768  /* page-directory slots 768.. map the kernel */
#define KERNEL_LAST_SLOT 1007  /* 1008..1023 belong to Xen's reserved region (0xFC000000..) */
#define FIXMAP_SLOT KERNEL_LAST_SLOT
#define FIXMAP_BASE ((u32)FIXMAP_SLOT << 22)
#define MAX_PAGES 32768        /* the direct map covers at most 128 MiB */

/* Page-table entry bits; COW is a software bit (one of the three the CPU leaves to the OS). */
#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_U 0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_COW 0x200

/* User address space: the program image, a heap grown by sbrk, a stack below USER_STACK_TOP. */
#define USER_IMAGE 0x00400000
#define USER_HEAP 0x10000000
#define USER_HEAP_MAX 0x20000000
#define USER_STACK_TOP 0x80000000
#define USER_STACK_PAGES 16
#define USER_TOP KERNEL_BASE

#ifdef MK_PV
/* Xen's flat selectors: kernel in ring 1, processes in ring 3. */
#define KERNEL_CS 0xe019
#define KERNEL_DS 0xe021
#define USER_CS 0xe02b
#define USER_DS 0xe033
#else
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_CS 0x1b
#define USER_DS 0x23
#endif

#ifndef __ASSEMBLER__
/* What traps.S pushes (segments, PUSHA, vector, error code) above what the CPU or Xen pushed. */
struct frame {
  u32 gs, fs, es, ds;
  u32 edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
  u32 vector, err;
  u32 eip, cs, eflags;
  u32 esp, ss; /* only when coming from ring 3 */
};
#endif
#define VECTOR_EVENT 0x100 /* PV: the event-channel upcall */
#define VECTOR_SYSCALL 0x80
#define VECTOR_SYSENTER 0x101 /* bare: a system call by SYSENTER, answered by SYSEXIT */

#ifndef __ASSEMBLER__
static inline int from_user(const struct frame *f) { return (f->cs & 3) == 3; }

/* lib.c */
void *memset(void *dst, int value, u32 n);
void *memcpy(void *dst, const void *src, u32 n);
int memcmp(const void *a, const void *b, u32 n);
u32 strlen(const char *s);
int strcmp(const char *a, const char *b);

/* console.c: the kernel's output, with "\n" sent as "\r\n" as a terminal expects. */
void kputs(const char *s);
void kwrite(const char *s, u32 n);
void kput_dec(u32 value);
void kput_hex(u32 value);
void kput_padded(const char *s, u32 width);
__attribute__((noreturn)) void panic(const char *why, u32 value);

/* mm.c: page frames (pseudo-physical frame numbers) and the direct map. */
struct boot_memory {
  u32 first_free_pfn;  /* first frame after the kernel and what the loader placed after it */
  u32 mapped_pfns;     /* frames the direct map covers at entry */
  u32 nr_pages;        /* frames of RAM */
  u32 *master_pgdir;   /* the kernel's page directory (virtual address) */
};
void mm_init(const struct boot_memory *boot);
u32 page_alloc(void);   /* zeroed frame with reference count 1; 0 when none is left */
void page_get(u32 pfn);
void page_put(u32 pfn);
u32 page_refs(u32 pfn);
u32 *master_pgdir(void);
u32 *fixmap(u32 index, u32 raw_pte); /* maps a raw entry at FIXMAP_BASE + index pages */
u32 free_pages(void);
static inline void *pfn_va(u32 pfn) { return __va(pfn << PAGE_SHIFT); }

/* vm.c: process address spaces. */
u32 vm_create(void);                     /* new page directory with the kernel mapped; its pfn */
u32 vm_fork(u32 parent_pgdir);           /* copy-on-write copy */
void vm_destroy(u32 pgdir);
struct proc;
int vm_fault(struct proc *p, u32 address, int write); /* 0 handled, -1 not a valid access */
int vm_user_range(struct proc *p, u32 address, u32 length, int write);
/* Writes the PTE of a (made present and writable) user page `count` times, each followed by INVLPG. */
int vm_rewrite_pte(struct proc *p, u32 address, u32 count);

/* proc.c */
void proc_start_init(void);
__attribute__((noreturn)) void scheduler(void);
void timer_tick(void);
void console_wakeup(void);
void trap(struct frame *f);
#endif

#endif
