/* Port I/O and the few privileged instructions every guest needs. */
#ifndef RV_IO_H
#define RV_IO_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

static inline void outb(u16 port, u8 value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void sti(void) { __asm__ volatile("sti"); }
static inline void cli(void) { __asm__ volatile("cli"); }
static inline void hlt(void) { __asm__ volatile("hlt"); }
/* Enable interrupts and halt in one step: STI's one-instruction shadow means no IRQ is lost between. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt; cli"); }

/* The exit port (0xf4, QEMU isa-debug-exit at kvm-unit-tests' address): 0 = success, else a failure code. */
#define EXIT_PORT 0xf4
#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1
__attribute__((noreturn)) void guest_exit(u8 code);

#endif
