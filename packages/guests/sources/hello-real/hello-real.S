/* Real-mode serial hello: a flat binary loaded at 0000:7C00 (boot-sector convention). Sets COM1
   to 8N1 and prints a line, polling the LSR's THRE bit before each byte, then writes 0 (success) to the exit
   port 0xf4. */
	.code16
	.text
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7c00, %sp
#include "../common/serial-hello16.S"

message:
	.asciz "Hello from real mode!\r\n"
