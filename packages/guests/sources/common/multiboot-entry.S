/* Multiboot v1 header and entry: the loader leaves us in flat 32-bit protected mode, paging off,
   interrupts off, EAX = 0x2BADB002, EBX = the boot information block. */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory information */

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.section .bss
	.balign 16
boot_stack:
	.skip 8192
boot_stack_top:

	.text
	.globl _start
_start:
	mov $boot_stack_top, %esp
	push %ebx            /* multiboot info */
	push %eax            /* loader magic */
	call kmain
1:	cli
	hlt
	jmp 1b
