/* One stub per vector: push a zero error code where the CPU pushes none, push the vector, and
   enter C with a struct frame pointer (interrupts.h). */
#define KERNEL_DS 0x10

.macro stub vector
	.globl isr\vector
isr\vector:
	.if (\vector == 8 || (\vector >= 10 && \vector <= 14) || \vector == 17)
	.else
	push $0
	.endif
	push $\vector
	jmp isr_common
.endm

	.text
.altmacro
.macro stubs from, to
	stub %\from
	.if \to-\from
	stubs %(\from+1), \to
	.endif
.endm
	stubs 0, 63
	stub 128

isr_common:
	pusha
	push %ds
	push %es
	push %fs
	push %gs
	mov $KERNEL_DS, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	mov %ax, %gs
	push %esp
	call interrupt_dispatch
	add $4, %esp
	pop %gs
	pop %fs
	pop %es
	pop %ds
	popa
	add $8, %esp
	iret

	.section .rodata
	.globl isr_table
isr_table:
.macro entries from, to
	.long isr\from
	.if \to-\from
	entries %(\from+1), \to
	.endif
.endm
	entries 0, 63
