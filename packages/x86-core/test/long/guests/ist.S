/* 64-bit interrupt delivery: an IST stack (from ring 0 and from ring 3), RSP0 on a privilege change
 * with SS loaded null (RPL 0), RSP aligned down to 16 bytes, the 64-bit frame (RIP CS RFLAGS RSP SS),
 * IF cleared by an interrupt gate and kept by a trap gate, IRETQ back to both rings, an IDT limit
 * too short (#GP(vector*8+2)), a DPL-0 gate from ring 3 (#GP) and a non-present gate (#NP). */
        .include "common64.inc"

        /* Reports the frame at the top of the handler's stack and RSP itself (RSP - frame base). */
        .macro REPORT_FRAME live_ss=1
        movq %rsp, %r8
        movq (%r8), %r9
        movq 8(%r8), %r10
        movq 16(%r8), %r11
        movq 24(%r8), %r12
        movq 32(%r8), %r13
        REPORT64 %r8
        REPORT64 %r9
        REPORT64 %r10
        REPORT64 %r11
        REPORT64 %r12
        REPORT64 %r13
        .if \live_ss
        mov %ss, %eax
        REPORT %eax
        .endif
        REPORT_FLAGS 0x200
        .endm

test_main:
        SETGATE64 0x40, ist_handler, 0xee, 1
        SETGATE64 0x41, plain_handler, 0xef, 0
        SETGATE64 0x42, plain_handler, 0x8e, 0
        SETGATE64 0x43, plain_handler, 0x6e, 0       /* not present */
        /* Ring 0, IST: RSP from TSS.IST1 even without a privilege change. */
        sti
        movq $0x2ffff3, %rsp                            /* odd RSP: the IST one is used anyway */
        int $0x40
        movq $STACK0_TOP, %rsp
        /* Ring 0, no IST, misaligned RSP: aligned down to 16 before the pushes; trap gate keeps IF. */
        movq $STACK0_TOP - 0x107, %rsp
        int $0x41
        movq $STACK0_TOP, %rsp
        cli
        /* A gate past the IDT limit and a non-present one. */
        movw $0x41 * 16 + 15, idt_limit(%rip)
        lidt idt_limit(%rip)
        EXPECT_FAULT int $0x42
        lidt idt_desc(%rip)
        EXPECT_FAULT int $0x43
        /* Ring 3: INT to the IST gate, then to a DPL-0 gate (#GP delivered on RSP0). */
        TO_RING3 user, 0x3202
user:
        movq $0x123457, %rsp
        int $0x40
        REPORT $0x3333
        movq $gp_from_ring3, handler_table + 13 * 8
        int $0x42
        REPORT $0xbad4
gp_from_ring3:
        movq $0, handler_table + 13 * 8
        REPORT_FRAME
        jmp finish

/* SS is not reported here: at an unchanged CPL the SDM leaves it alone, QEMU loads it null. */
ist_handler:
        REPORT $0x15700000
        REPORT_FRAME 0
        iretq

plain_handler:
        REPORT $0x41410000
        REPORT_FRAME
        iretq

        .balign 8
idt_limit:
        .word 0
        .quad IDT64
