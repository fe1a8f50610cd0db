/* The user programs (built from user/ at USER_IMAGE), embedded for exec to page in on demand. */
	.section .rodata
	.balign 4096
	.globl user_image
user_image:
	.incbin USER_IMAGE_FILE
user_image_end:
	.balign 4
	.globl user_image_size
user_image_size:
	.long user_image_end - user_image
