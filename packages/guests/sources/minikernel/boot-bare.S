/* Bare build entry: a Multiboot v1 kernel loaded at 1 MiB and linked at 3 GiB + 1 MiB. Runs at
   physical addresses until paging is on: maps the first 16 MiB both at 0 and at KERNEL_BASE, turns
   paging on, continues at the high address on its own stack. */
#include "mk.h"
#define PA(symbol) ((symbol) - KERNEL_BASE)
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory information */
#define BOOT_TABLES 4       /* 16 MiB */

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.section .bss
	.balign 4096
	.globl boot_pgdir
boot_pgdir:
	.skip 4096
boot_tables:
	.skip 4096 * BOOT_TABLES
boot_stack:
	.skip 8192
boot_stack_top:

	.text
	.globl _start
_start:
	mov %ebx, %esi                     /* multiboot information (physical) */
	mov $PA(boot_tables), %edi
	mov $(PTE_P | PTE_W), %eax
	mov $(1024 * BOOT_TABLES), %ecx
1:	stosl
	add $4096, %eax
	loop 1b
	mov $PA(boot_tables) + (PTE_P | PTE_W), %eax
	mov $PA(boot_pgdir), %edi
	xor %ecx, %ecx
2:	mov %eax, (%edi, %ecx, 4)
	mov %eax, KERNEL_FIRST_SLOT * 4(%edi, %ecx, 4)
	add $4096, %eax
	inc %ecx
	cmp $BOOT_TABLES, %ecx
	jne 2b
	mov %edi, %cr3
	mov %cr0, %eax
	or $0x80010000, %eax               /* PG | WP */
	mov %eax, %cr0
	mov $high, %eax
	jmp *%eax
high:
	mov $boot_stack_top, %esp
	push %esi
	call bare_start
3:	cli
	hlt
	jmp 3b
