/* Starting probes at CPL 0 or CPL 3 and getting back to the kernel, whatever they did (sensitive.h). */
#define KERNEL_DS 0x10
#define USER_CS 0x1b
#define USER_DS 0x23

	.data
	.balign 4
kernel_esp: .long 0
	.globl probe_entry_esp, gate_out
probe_entry_esp: .long 0
gate_out: .long 0, 0, 0, 0, 0

	.text
	.globl run_probe, resume_kernel, gate_target, sti_hlt_probe, after_hlt
/* u32 run_probe(probe_fn *fn, u32 eflags, u32 arg, u32 user_ds) */
run_probe:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, kernel_esp
	mov 20(%esp), %ebx
	mov 24(%esp), %ecx
	mov 28(%esp), %esi
	mov 32(%esp), %edx
	test %ecx, %ecx
	jnz 1f
	lea -4(%esp), %eax
	mov %eax, probe_entry_esp
	call *%ebx
	mov %eax, %ss:last+4
	mov %edx, %ss:last+8
	push $0
	call resume_kernel
	/* CPL 3: IRET to user_trampoline on the user stack with the data segments the caller chose
	   (IRET to an outer level nulls those the new CPL may not use). */
1:	mov %dx, %ds
	mov %dx, %es
	mov %dx, %fs
	mov %dx, %gs
	push $USER_DS
	push $user_stack_top
	push %ecx
	push $USER_CS
	push $user_trampoline
	iret

/* void resume_kernel(u32 faulted): back to run_probe's caller, from any stack and segments. */
resume_kernel:
	mov 4(%esp), %eax
	mov %ss:kernel_esp, %esp
	mov $KERNEL_DS, %ecx
	mov %cx, %ds
	mov %cx, %es
	mov %cx, %fs
	mov %cx, %gs
	push $2
	popf
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret

/* Ring-0 target of both call gates (one parameter): records CS now, the caller's CS, the
   parameter and, after a privilege change, the caller's SS:ESP the CPU pushed on the TSS stack. */
gate_target:
	mov %cs, %eax
	mov %eax, gate_out
	mov 4(%esp), %eax
	mov %eax, gate_out+4
	mov 8(%esp), %eax
	mov %eax, gate_out+8
	xor %eax, %eax
	xor %edx, %edx
	testl $3, 4(%esp)
	jz 1f
	mov 16(%esp), %eax
	mov 12(%esp), %edx
1:	mov %eax, gate_out+12
	mov %edx, gate_out+16
	lret $4

/* STI; HLT with the timer's IRQ already pending: STI's shadow covers HLT, so the interrupt is
   taken after HLT (saved EIP = after_hlt). */
sti_hlt_probe:
	sti
	hlt
after_hlt:
	cli
	ret
