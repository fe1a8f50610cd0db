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
	mov $0x3fb, %dx        /* LCR: 8N1 */
	mov $0x03, %al
	out %al, %dx
	mov $message, %si
next_char:
	lodsb
	test %al, %al
	jz done
	mov %al, %bl
	mov $0x3fd, %dx        /* LSR */
wait_thre:
	in %dx, %al
	test $0x20, %al        /* THRE */
	jz wait_thre
	mov $0x3f8, %dx        /* THR */
	mov %bl, %al
	out %al, %dx
	jmp next_char
done:
	mov $0, %al
	out %al, $0xf4         /* exit port: 0 = success */
halt:
	hlt
	jmp halt

message:
	.asciz "Hello from firmware!\r\n"

	.org 0xff0
reset_vector:
	ljmp $0xf000, $_start
	.org 0x1000
