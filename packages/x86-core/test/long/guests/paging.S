/* 4-level paging and canonical addresses in 64-bit mode: #PF error codes and CR2 (not present, write
 * to read-only with CR0.WP, user access to a supervisor page, reserved bit, NX fetch), A and D bits,
 * the high-canonical alias of the image, a 2 MiB and a 1 GiB page, and #GP(0) for non-canonical data
 * addresses and jump targets (QEMU accepts a non-canonical LSTAR in WRMSR, which the SDM
 * makes #GP(0): test/long/long-mode.test.ts checks that one). */
        .include "common64.inc"

        .set PDPT_1G, 1                 /* PDPT_LOW slot 1: 1-2 GiB as one 1 GiB page of 0-1 GiB */

test_main:
        /* Not present (page 0): a read, then a write. */
        EXPECT_FAULT movq 0x10, %rax
        EXPECT_FAULT movl $1, 0x20
        /* A high address with nothing mapped. */
        movabsq $0x00007f0000001000, %rbx
        EXPECT_FAULT movq (%rbx), %rax
        movabsq $0xffff800000000008, %rbx
        EXPECT_FAULT movb $1, (%rbx)

        /* Read-only page (PT0 slot 0x50) with CR0.WP: supervisor write faults with P|W. */
        andq $~2, PT0 + 0x50 * 8
        invlpg 0x50000
        movq 0x50000, %rax
        EXPECT_FAULT movq %rax, 0x50008

        /* A and D: read 0x51000, write 0x52000; report the PTE low bytes. */
        andq $~0x60, PT0 + 0x51 * 8
        andq $~0x60, PT0 + 0x52 * 8
        invlpg 0x51000
        invlpg 0x52000
        movq 0x51000, %rax
        movq %rax, 0x52000
        movl PT0 + 0x51 * 8, %eax
        andl $0x67, %eax
        REPORT %eax
        movl PT0 + 0x52 * 8, %eax
        andl $0x67, %eax
        REPORT %eax

        /* Reserved bit (bit 51) in a PTE: #PF with RSVD. */
        movl $0x80000, PT0 + 0x53 * 8 + 4
        invlpg 0x53000
        EXPECT_FAULT movq 0x53000, %rax

        /* NX: a fetch from a page with XD faults with I/D; a read is fine. */
        movl $0xc3, 0x54000             /* ret */
        orl $0x80000000, PT0 + 0x54 * 8 + 4
        invlpg 0x54000
        movq 0x54000, %rax
        REPORT %eax
        movq $0x54000, %rax
        EXPECT_FAULT call *%rax

        /* The high-canonical alias of the image and the 2 MiB page. */
        movabsq $KERNEL_ALIAS + 0x55000, %rbx
        movq $0x1122334455667788, %rax
        movq %rax, (%rbx)
        movq 0x55000, %rcx
        REPORT64 %rcx
        movq $0x123456789, %rax
        movq %rax, 0x300008
        movq 0x300008, %rcx
        REPORT64 %rcx
        movl PD0 + 8, %eax
        andl $0xe7, %eax
        REPORT %eax

        /* A 1 GiB page: 1-2 GiB maps 0-1 GiB. */
        movl $0x83, PDPT_LOW + PDPT_1G * 8
        movl $0x40055000, %ebx
        movq (%rbx), %rcx
        REPORT64 %rcx
        movl PDPT_LOW + PDPT_1G * 8, %eax
        andl $0xe7, %eax
        REPORT %eax

        /* Ring 3: a supervisor page (the 2 MiB one) faults with P|U; a user page reads. */
        movq $ring3_fault, handler_table + 14 * 8
        TO_RING3 user_code
user_code:
        movq 0x55000, %rax
        movq 0x300000, %rax
        REPORT $0xbad2
ring3_fault:
        movq $0, handler_table + 14 * 8
        movq (%rsp), %r8                /* RIP of the faulting instruction, CS, SS */
        movq 8(%rsp), %r9
        movq 32(%rsp), %r10
        REPORT64 %r8
        REPORT64 %r9
        REPORT64 %r10
        movq $user_code, %rax
        cmpq %rax, (%rsp)
        REPORT_FLAGS 0x40
        movq $back0, (%rsp)
        movq $SEL_CODE64, 8(%rsp)
        movq $SEL_DATA0, 32(%rsp)
        movq $STACK0_TOP, 24(%rsp)
        iretq
back0:
        /* Non-canonical data addresses and jump targets: #GP(0). */
        movabsq $0x0000800000000000, %rbx
        EXPECT_FAULT movq (%rbx), %rax
        movabsq $0xfff0000000000000, %rbx
        EXPECT_FAULT movl %eax, 8(%rbx)
        movabsq $0x00007ffffffffffc, %rbx
        EXPECT_FAULT movq (%rbx), %rax
        movabsq $0x0000800000000000, %rax
        EXPECT_FAULT jmp *%rax
        movabsq $0x1234567800000000, %rax
        EXPECT_FAULT pushq (%rax)
        jmp finish
