/* Compatibility mode: IRETQ to 32-bit ring-3 code (the 32-bit interpreter, IA-32e paging), an INT
 * from it through the 64-bit IDT (a 64-bit frame with the 32-bit RIP and RSP), a #PF from it, a far
 * return from 64-bit ring 0 to 32-bit ring-0 code and a far jump back, and the upper register
 * halves 64-bit code sees afterwards for registers the 32-bit code did not write. */
        .include "common64.inc"

test_main:
        movabsq $0x1122334455667788, %r12
        SETGATE64 0x80, (stubs+0x80*16), 0xee
        movq $from_compat, handler_table + 0x80 * 8
        movq $pf_compat, handler_table + 14 * 8
        pushq $SEL_DATA3
        pushq $STACK3_TOP - 0x10
        pushq $0x3202
        pushq $SEL_CODE32_3
        pushq $user32
        iretq

from_compat:
        movq %rsp, %r8
        movq (%r8), %r9                 /* RIP */
        movq 8(%r8), %r10               /* CS */
        movq 24(%r8), %r11              /* RSP */
        movq 32(%r8), %r13              /* SS */
        REPORT64 %r9
        REPORT64 %r10
        REPORT64 %r11
        REPORT64 %r13
        REPORT64 %r12
        movq %rbx, %rax
        REPORT %eax
        /* Back to compatibility mode at the next user instruction. */
        iretq

pf_compat:
        movq (%rsp), %r9
        REPORT64 %r9
        /* Ring 0, 64-bit: a far return to 32-bit ring-0 code, which far-jumps back. */
        movq $SEL_DATA0, %rax
        movw %ax, %ds
        movq $STACK0_TOP, %rsp
        pushq $SEL_CODE32
        pushq $kernel32
        lretq

        .code32
user32:
        movl $0x3232, %ebx
        movl $0x32323232, %eax
        OUT_REPORT
        movw %cs, %ax
        movzwl %ax, %eax
        OUT_REPORT
        movl %esp, %eax
        OUT_REPORT
        int $0x80
        movl $0x5a5a, %eax
        OUT_REPORT
        /* IRET to ring 3 nulled DS (DPL 0): a ring-3 data segment first (QEMU would not fault on the
         * null one, the SDM does), then a read past the mapped 4 MiB: #PF from compatibility mode. */
        movw $SEL_DATA3, %ax
        movw %ax, %ds
        movl 0x500000, %eax
        movl $0xbad5, %eax
        OUT_REPORT
kernel32:
        movl $0x4b333200, %eax
        OUT_REPORT
        movw %cs, %ax
        movzwl %ax, %eax
        OUT_REPORT
        ljmpl $SEL_CODE64, $back64
        .code64
back64:
        mov %cs, %eax
        REPORT %eax
        jmp finish
