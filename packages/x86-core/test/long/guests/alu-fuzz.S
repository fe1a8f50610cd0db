/* Random operands through the 64-bit arithmetic (QEMU is the reference): for 300 fixed xorshift64
 * draws of two operands, a count and input flags, each instruction's result and the flags the SDM
 * defines for it are reported, at 64, 32 (zero-extending), 16 and 8 bits (REX byte registers). */
        .include "common64.inc"

        .set ITERATIONS, 300

        /* The wide forms: RDX:RAX op r9; reports RAX, RDX and flags & mask. */
        .macro WIDE mask, insn:vararg
        movq %r8, %rax
        movq %r9, %rdx
        pushq %r11
        popfq
        \insn
        REPORT64 %rax
        REPORT64 %rdx
        REPORT_FLAGS \mask
        .endm

        .set ALL, 0x8d5
        .set NO_AF, 0x8c5
        .set SZPC, 0xc5

test_main:
        movl $ITERATIONS, %r15d
next_draw:
        RANDOM_OPERANDS
        testb $1, %cl                   /* half the draws: small b, so shifts of b and narrow ops vary */
        jz 1f
        movsbq %r9b, %r9
1:
        OP ALL, addq %r9, %r10
        OP ALL, subq %r9, %r10
        OP ALL, adcq %r9, %r10
        OP ALL, sbbq %r9, %r10
        OP NO_AF, andq %r9, %r10
        OP NO_AF, orq %r9, %r10
        OP NO_AF, xorq %r9, %r10
        OP ALL, cmpq %r9, %r10
        OP NO_AF, testq %r9, %r10
        OP ALL, negq %r10
        OP ALL, notq %r10
        OP ALL, incq %r10
        OP ALL, decq %r10
        OP ALL, addq $-0x55, %r10
        OP ALL, addl %r9d, %r10d
        OP ALL, subl %r9d, %r10d
        OP ALL, sbbw %r9w, %r10w
        OP ALL, adcb %r9b, %r10b
        OP ALL, cmpb %r9b, %r10b
        OP SZPC, shlq %cl, %r10
        OP SZPC, shrq %cl, %r10
        OP SZPC, sarq %cl, %r10
        OP 0x801, shlq $1, %r10
        OP 0x801, shrq $1, %r10
        OP 0x1, rolq %cl, %r10
        OP 0x1, rorq %cl, %r10
        OP 0x801, rclq $1, %r10
        OP 0x801, rcrq $1, %r10
        OP 0x1, rclq %cl, %r10
        OP 0x1, rcrq %cl, %r10
        OP SZPC, shll %cl, %r10d
        OP SZPC, sarw %cl, %r10w
        OP 0x801, imulq %r9, %r10
        OP 0x801, imull %r9d, %r10d
        OP 0x801, imulq $-0x1234567, %r9, %r10
        OP 0x1, btq %r9, %r10
        OP 0x1, btsq %r9, %r10
        OP 0x1, btrq %r9, %r10
        OP 0x1, btcq %r9, %r10
        OP 0x40, bsfq %r9, %r10
        OP 0x40, bsrq %r9, %r10
        OP 0, bswapq %r10
        OP 0, movslq %r9d, %r10
        OP 0, movsbq %r9b, %r10
        OP 0, movzwq %r9w, %r10
        OP 0, cmovlq %r9, %r10
        OP 0, cmovbl %r9d, %r10d
        OP 0, leaq 0x7f(%r9, %r10, 8), %r10
        OP 0, leal -1(%r9, %r10, 2), %r10d
        WIDE 0x801, mulq %r9
        WIDE 0x801, imulq %r9
        WIDE 0x801, mull %r9d
        WIDE 0, cqto
        WIDE 0, cltq
        /* Division without overflow: RDX = 0 (unsigned), RDX = sign of RAX (signed). */
        movq %r8, %rax
        xorl %edx, %edx
        divq %r9
        REPORT64 %rax
        REPORT64 %rdx
        movq %r8, %rax
        cqto
        idivq %r9
        REPORT64 %rax
        REPORT64 %rdx
        decl %r15d
        jnz next_draw
        jmp finish

        .balign 8
seed64:
        .quad 0x9e3779b97f4a7c15
