/* Real-mode serial hello, shared by the flat and firmware hellos: sets COM1 to 8N1, prints the
   NUL-terminated string at DS:message, polling the LSR's THRE bit before each byte, then writes 0
   (success) to the exit port 0xf4 and halts. The includer sets up DS and defines `message`. */
	mov $0x3fb, %dx        /* LCR: 8 data bits, no parity, 1 stop bit (power-on is 5 bits) */
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
	test $0x20, %al        /* THRE: the transmitter can take a byte */
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

