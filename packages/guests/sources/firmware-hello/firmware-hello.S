/* A 4 KiB firmware ROM: the board maps it to end at 4 GiB and aliases it to end at 1 MiB. The CPU
   starts at the reset vector (physical FFFFFFF0, offset 0xff0 here), whose far jump reloads CS
   with F000 so execution continues in the alias at F000:F000. Prints on COM1 and exits 0. */
	.code16
	.text
	.globl _start
_start:
	cli
	mov $0xf000, %ax       /* the message lies in this ROM: DS = CS */
	mov %ax, %ds
#include "../common/serial-hello16.S"

message:
	.asciz "Hello from firmware!\r\n"

	.org 0xff0
reset_vector:
	ljmp $0xf000, $_start
	.org 0x1000
