/* Program entry at USER_IMAGE: exec leaves the program number in EAX and its argument in EBX. */
	.section .text.start, "ax"
	.globl _start
_start:
	push %ebx
	push %eax
	call umain
	push %eax
	call exit
