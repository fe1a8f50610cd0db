/* Probes: one sensitive or privileged instruction each, in the user pages so the same bytes run
   at CPL 0 and at CPL 3 (sensitive.h gives the convention: argument in ESI, results in EAX, EDX
   and probe_out). Whatever they raise is caught by the kernel (kernel.c). */
#define CONFORMING_SEL 0x48
#define LDT_SEL 0x38
#define MARK 0xdeadbeef     /* a destination's value before an instruction that may leave it alone */

	.data
	.balign 4
	.globl probe_out, saved_cr3, tick_flag
probe_out: .long 0, 0, 0, 0, 0, 0, 0, 0
saved_cr3: .long 0
tick_flag: .long 0
far_ptr: .long 0, 0        /* offset, selector: the memory operand of indirect far CALL/JMP */

	.bss
	.balign 4096
	.globl user_stack_top, user_page_a, user_page_b
user_page_a: .skip 4096
user_page_b: .skip 4096
	.skip 4096
user_stack_top:

	.text
.macro probe name
	.globl \name
	.type \name, @function
\name:
.endm

	/* Ring 3 starts here (runner.S); INT 0x80 hands the results back to the kernel. */
probe user_trampoline
	call *%ebx
	int $0x80
	ud2

/* Descriptor-table and machine-status stores: unprivileged, and they show the real tables. */
.macro table_register_store name, insn
probe \name
	sub $8, %esp
	\insn (%esp)
	movzwl (%esp), %edx
	mov 2(%esp), %eax
	add $8, %esp
	ret
.endm
	table_register_store p_sgdt, sgdt
	table_register_store p_sidt, sidt
probe p_sldt
	mov $0xffffffff, %eax
	sldt %eax
	ret
probe p_str
	mov $0xffffffff, %eax
	str %eax
	ret
/* SMSW into a 16-bit register: a 32-bit destination's high half is undefined (SDM). */
probe p_smsw
	mov $0xffffffff, %eax
	smsw %ax
	ret

/* EFLAGS: PUSHF shows IF and IOPL; POPF and IRET change them only as far as CPL and IOPL allow. */
probe p_pushf
	xor %eax, %eax
	pushf
	pop %eax
	ret
probe p_popf
	pushf
	pop %edx
	mov %edx, %eax
	xor $0x3200, %eax       /* flip IF and both IOPL bits */
	push %eax
	popf
	pushf
	pop %eax
	ret
probe p_iret_flags
	pushf
	pop %edx
	mov %edx, %eax
	xor $0x3200, %eax
	push %eax
	push %cs
	push $1f
	iret
1:	pushf
	pop %eax
	ret

/* LAR, LSL, VERR, VERW on the selector in ESI: EAX bit 0..3 = ZF of each, probe_out = LAR, LSL. */
probe p_lar_lsl_verr_verw
	xor %ebx, %ebx
	mov $MARK, %eax
	lar %esi, %eax
	jnz 1f
	or $1, %ebx
1:	mov %eax, probe_out
	mov $MARK, %eax
	lsl %esi, %eax
	jnz 2f
	or $2, %ebx
2:	mov %eax, probe_out+4
	verr %si
	jnz 3f
	or $4, %ebx
3:	verw %si
	jnz 4f
	or $8, %ebx
4:	mov %ebx, %eax
	ret

/* Segment registers: the RPL of CS and SS is the CPL. */
probe p_sregs
	mov %cs, %eax
	mov %ss, %edx
	mov %ds, %ecx
	mov %ecx, %ss:probe_out
	ret
/* PUSH Sreg with a 32-bit operand: the slot's high half is the processor's choice (SDM), so the
   slot is filled with MARK first and the whole dword shown. */
probe p_push_sreg
	push $MARK
	pop %eax
	push %cs
	pop %eax
	push $MARK
	pop %edx
	push %ss
	pop %edx
	ret
probe p_load_ds
	mov %ds, %ecx
	mov %si, %ds
	mov %ds, %eax
	mov %cx, %ds
	ret
probe p_load_ss
	mov %ss, %ecx
	mov %si, %ss
	mov %ss, %eax
	mov %cx, %ss
	ret
probe p_pop_ds
	mov %ds, %ecx
	push %esi
	pop %ds
	mov %ds, %eax
	mov %cx, %ds
	ret
probe p_pop_ss
	mov %ss, %ecx
	push %esi
	pop %ss
	mov %ss, %eax
	mov %cx, %ss
	ret
probe p_read_ds_es
	mov %ds, %eax
	mov %es, %edx
	mov %fs, %ecx
	mov %ecx, %ss:probe_out
	mov %gs, %ecx
	mov %ecx, %ss:probe_out+4
	ret

/* Far transfers. */
probe p_far_jmp_kernel
	ljmp $0x08, $1f
1:	mov %cs, %eax
	ret
probe p_far_call_conforming
	lcall $CONFORMING_SEL, $conforming_target
	mov %cs, %edx
	ret
conforming_target:
	mov %cs, %eax
	lret
/* CALL through the gate in ESI with one parameter; the ring-0 target (runner.S) fills gate_out. */
probe p_call_gate
	movl $0, far_ptr
	mov %esi, far_ptr+4
	push $0x1234abcd
	lcall *far_ptr
	mov %cs, %eax
	ret
probe p_jmp_gate
	movl $0, far_ptr
	mov %esi, far_ptr+4
	ljmp *far_ptr
probe p_far_ret_kernel
	push $0x08
	push $1f
	lret
1:	mov %cs, %eax
	ret

/* Software interrupts: INT n to the vector in ESI, INT3, INTO with OF set. */
probe p_int
	cmp $0x30, %esi
	jne 1f
	int $0x30
	ret
1:	cmp $0x31, %esi
	jne 2f
	int $0x31
	ret
2:	cmp $0x32, %esi
	jne 3f
	int $0x32
	ret
3:	int $0x33
	ret
probe p_int3
	int3
	ret
probe p_into
	mov $0x7f, %al
	add $1, %al
	into
	ret
probe p_iret_same
	pushf
	push %cs
	push $1f
	iret
1:	mov %cs, %eax
	ret
probe p_iret_kernel
	pushf
	push $0x08
	push $1f
	iret
1:	mov %cs, %eax
	ret

/* Privileged instructions: at CPL 3 each raises #GP(0). */
probe p_mov_from_cr0
	mov %cr0, %eax
	ret
probe p_mov_from_cr2
	mov %cr2, %eax
	ret
probe p_mov_from_cr3
	mov %cr3, %eax
	ret
probe p_mov_from_cr4
	mov %cr4, %eax
	ret
probe p_mov_to_cr3
	mov saved_cr3, %eax
	mov %eax, %cr3
	ret
probe p_mov_from_dr7
	mov %dr7, %eax
	ret
probe p_mov_to_dr7
	mov $0x400, %eax
	mov %eax, %dr7
	mov %dr7, %eax
	ret
probe p_lgdt
	sub $8, %esp
	sgdt (%esp)
	lgdt (%esp)
	add $8, %esp
	ret
probe p_lidt
	sub $8, %esp
	sidt (%esp)
	lidt (%esp)
	add $8, %esp
	ret
probe p_lldt
	mov $LDT_SEL, %eax
	lldt %ax
	sldt %eax
	ret
probe p_ltr
	ltr %si
	str %eax
	ret
probe p_cli
	cli
	pushf
	pop %eax
	ret
probe p_sti
	sti
	pushf
	pop %eax
	ret
probe p_hlt
	hlt
	ret
probe p_in
	mov %esi, %edx
	xor %eax, %eax
	in %dx, %al
	ret
probe p_out
	mov %esi, %edx
	mov $0x03, %al
	out %al, %dx
	ret
probe p_invlpg
	invlpg (%esi)
	ret
probe p_wbinvd
	wbinvd
	ret
probe p_rdmsr
	mov %esi, %ecx
	rdmsr
	ret
probe p_wrmsr
	mov %esi, %ecx
	xor %eax, %eax
	xor %edx, %edx
	wrmsr
	ret
/* Two RDTSCs: EDX:EAX = their difference (raw counts differ between runs and strategies). */
probe p_rdtsc
	rdtsc
	mov %eax, %ecx
	mov %edx, %ebx
	rdtsc
	sub %ecx, %eax
	sbb %ebx, %edx
	ret
probe p_clts
	clts
	ret
probe p_lmsw
	smsw %ax
	lmsw %ax
	ret
probe p_cpuid
	mov %esi, %eax
	xor %ecx, %ecx
	cpuid
	mov %eax, probe_out
	mov %ebx, probe_out+4
	mov %ecx, probe_out+8
	mov %edx, probe_out+12
	ret

/* Faults whose frames depend on privilege. */
probe p_divide_error
	xor %edx, %edx
	mov $1, %eax
	xor %ecx, %ecx
	div %ecx
	ret
probe p_ud2
	ud2
	ret
probe p_read
	mov (%esi), %eax
	ret
probe p_write
	movl $0x5a5a5a5a, (%esi)
	ret
/* Spins with interrupts on until the timer handler sets tick_flag. */
probe p_wait_tick
1:	cmpl $0, tick_flag
	je 1b
	ret
