/* Xen PV build entry. The domain builder reads the ELF notes below, loads the image at VIRT_BASE,
   maps it with the start_info, console and xenstore pages, the page tables and a boot stack, and
   enters _start in ring 1 with ESI = start_info (virtual) and events masked. */
#include "mk.h"

.macro elfnote type, directive, value
	.pushsection .note.Xen, "a"
	.balign 4
	.long 2f - 1f, 4f - 3f, \type
1:	.asciz "Xen"
2:	.balign 4
	.ifc \directive,.asciz
3:	.asciz "\value"
	.else
3:	.long \value
	.endif
4:	.balign 4
	.popsection
.endm
	elfnote 6, .asciz, "minikernel"             /* GUEST_OS */
	elfnote 5, .asciz, "xen-3.0"                /* XEN_VERSION */
	elfnote 8, .asciz, "generic"                /* LOADER */
	elfnote 3, .long, KERNEL_BASE               /* VIRT_BASE */
	elfnote 4, .long, KERNEL_BASE               /* PADDR_OFFSET: p_paddr holds virtual addresses */
	elfnote 1, .long, _start                    /* ENTRY */
	elfnote 2, .long, hypercall_page            /* HYPERCALL_PAGE */
	elfnote 9, .asciz, "no"                     /* PAE_MODE: 2-level page tables */
	elfnote 10, .asciz, "!writable_page_tables" /* FEATURES */

	.section .bss
	.balign 16
boot_stack:
	.skip 8192
boot_stack_top:

	.text
	.globl _start
_start:
	cld
	mov %esp, %eax                /* the builder's boot stack: the last page it laid out */
	mov $boot_stack_top, %esp
	push %eax
	push %esi
	call xen_start
1:	jmp 1b

	/* Xen could not load the segment registers of a frame we returned to. */
	.globl xen_failsafe
xen_failsafe:
	call xen_failsafe_callback

	.balign 4096
	.globl hypercall_page
hypercall_page:
	.skip 4096
