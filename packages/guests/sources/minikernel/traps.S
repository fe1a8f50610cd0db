/* Trap entry and exit, the same frame on both builds (struct frame in mk.h). Bare metal enters
   through IDT interrupt gates and leaves with IRET; under Xen the same stubs are registered with
   set_trap_table (events masked on entry) and leave through the iret hypercall, which restores
   the event mask from the saved EFLAGS.IF as IRET restores IF. */
#include "mk.h"

.macro stub name, vector, has_error=0
	.globl \name
\name:
	.if \has_error == 0
	push $0
	.endif
	push $\vector
	jmp trap_common
.endm

	.text
	stub trap_de, 0
	stub trap_db, 1
	stub trap_nmi, 2
	stub trap_bp, 3
	stub trap_of, 4
	stub trap_br, 5
	stub trap_ud, 6
	stub trap_nm, 7
	stub trap_df, 8, 1
	stub trap_ts, 10, 1
	stub trap_np, 11, 1
	stub trap_ss, 12, 1
	stub trap_gp, 13, 1
	stub trap_pf, 14, 1
	stub trap_mf, 16
	stub trap_ac, 17, 1
	stub trap_syscall, VECTOR_SYSCALL
#ifdef MK_PV
	stub trap_event, VECTOR_EVENT
#else
	/* IRQ 0-15 after the 8259s are moved to vectors 32-47. */
	.irp irq, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	stub trap_irq\irq, 32+\irq
	.endr
#endif

#ifndef MK_PV
/* SYSENTER lands on the stack IA32_SYSENTER_ESP names, &tss.esp0: the word there is the current
   process's kernel stack top. The frame is the one an interrupt from ring 3 leaves, with the
   caller's ESP and EIP from ECX and EDX (syscall.h); SYSENTER cleared IF, ring 3 always has it. */
	.globl sysenter_entry
sysenter_entry:
	mov (%esp), %esp
	push $USER_DS
	push %ecx
	pushf
	orl $0x200, (%esp)
	push $USER_CS
	push %edx
	push $0
	push $VECTOR_SYSENTER
	jmp trap_common
#endif

trap_common:
	pusha
	push %ds
	push %es
	push %fs
	push %gs
	mov $KERNEL_DS, %ax
	mov %ax, %ds
	mov %ax, %es
	push %esp
	call trap
	add $4, %esp
	.globl trap_return
trap_return:
	pop %gs
	pop %fs
	pop %es
	pop %ds
	popa
	add $8, %esp
#ifdef MK_PV
	push %eax          /* iret hypercall frame: EAX, EIP, CS, EFLAGS [, ESP, SS] */
	mov $23, %eax      /* __HYPERVISOR_iret */
	int $0x82
#else
	cmpl $VECTOR_SYSENTER, -8(%esp)   /* the vector slot just popped */
	je 1f
	iret
	/* SYSEXIT takes EIP from EDX and ESP from ECX; EFLAGS goes back with IF clear, and STI's
	   one-instruction shadow sets it only as SYSEXIT leaves. */
1:	mov (%esp), %edx
	mov 12(%esp), %ecx
	andl $~0x200, 8(%esp)
	push 8(%esp)
	popf
	sti
	sysexit
#endif

/* swtch(save, new): saves the callee-saved registers and ESP, continues on another kernel stack. */
	.globl swtch
swtch:
	mov 4(%esp), %eax
	mov 8(%esp), %edx
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, (%eax)
	mov %edx, %esp
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret
