/* Long-mode entry, the 64-bit register file and addressing: REX, R8-R15, 64-bit arithmetic and its
 * flags, zero-extension of dword writes, byte registers with and without REX, RIP-relative operands
 * (with an immediate after them), MOVSXD, CDQE/CQO, wide MUL/IMUL/DIV, shifts and rotates, bit
 * scans and tests, CMPXCHG/XADD/BSWAP/CMOV/SETcc, string instructions, the stack and near branches.
 * Flags are reported masked to the ones the SDM defines for each instruction. */
        .include "common64.inc"

        .set ARITH, 0x8d5       /* OF SF ZF AF PF CF */
        .set ARITH_NO_AF, 0x8c5

test_main:
        mov %cs, %eax
        REPORT %eax
        movl $0xc0000080, %ecx
        rdmsr
        REPORT %eax                     /* EFER: SCE LME LMA NXE */
        movq %cr0, %rax
        REPORT %eax
        movq %cr4, %rax
        REPORT %eax

        /* 64-bit immediates and R8-R15. */
        movabsq $0x123456789abcdef0, %r8
        movabsq $0xfedcba9876543210, %r9
        movq %r8, %r10
        addq %r9, %r10
        REPORT64 %r10
        REPORT_FLAGS ARITH
        movq %r8, %r11
        subq %r9, %r11
        REPORT64 %r11
        REPORT_FLAGS ARITH
        movabsq $0x7fffffffffffffff, %r12
        incq %r12
        REPORT64 %r12
        REPORT_FLAGS ARITH
        movq $-1, %r13
        addq $1, %r13
        REPORT64 %r13
        REPORT_FLAGS ARITH
        stc
        movq $5, %r14
        adcq $-1, %r14
        REPORT64 %r14
        REPORT_FLAGS ARITH
        stc
        movq $0, %r15
        sbbq $0, %r15
        REPORT64 %r15
        REPORT_FLAGS ARITH
        movq %r8, %rax
        xorq %r9, %rax
        REPORT64 %rax
        REPORT_FLAGS ARITH
        andq $-16, %rax
        orq $0x0f, %rax
        REPORT64 %rax
        cmpq %r8, %r9
        REPORT_FLAGS ARITH
        negq %r8
        REPORT64 %r8
        REPORT_FLAGS ARITH
        notq %r8
        REPORT64 %r8

        /* Dword writes zero-extend; word and byte writes keep the rest. */
        movq $-1, %rax
        movl $0x12345678, %eax
        REPORT64 %rax
        movq $-1, %rbx
        movw $0x1234, %bx
        REPORT64 %rbx
        movq $-1, %rcx
        movb $0x56, %cl
        REPORT64 %rcx
        movq $-1, %rdx
        addl $1, %edx
        REPORT64 %rdx
        movabsq $0x1111222233334444, %rsi
        movb $0x99, %sil                /* REX: SIL, not DH */
        REPORT64 %rsi
        movabsq $0x5555666677778888, %rdx
        movb $0xaa, %dh                 /* no REX: DH */
        REPORT64 %rdx
        movb $0xbb, %r9b
        REPORT64 %r9
        xchgl %eax, %eax                /* 87 C0 would zero-extend; 90 is NOP */
        REPORT64 %rax

        /* RIP-relative operands, also with an immediate after the displacement. */
        leaq data64(%rip), %rax
        REPORT64 %rax
        movq data64(%rip), %rbx
        REPORT64 %rbx
        movl $0xcafef00d, data32(%rip)
        movl data32(%rip), %ecx
        REPORT %ecx
        addq $0x100, data64(%rip)
        movq data64(%rip), %rbx
        REPORT64 %rbx
        testl $0x80000000, data32(%rip)
        REPORT_FLAGS 0x8c5
        cmpw $0x1234, data32(%rip)
        REPORT_FLAGS ARITH
        movb $0x7f, data32 + 3(%rip)
        movl data32(%rip), %ecx
        REPORT %ecx

        /* SIB with R8-R15 as base and index; a 32-bit address size (67). */
        leaq table(%rip), %r13
        movq $3, %r12
        movq (%r13, %r12, 8), %rax
        REPORT64 %rax
        movq 8(%r13, %r12, 4), %rax
        REPORT64 %rax
        movq $-2, %r11
        movq 24(%r13, %r11, 8), %rax
        REPORT64 %rax
        movl $table, %ecx
        addr32 movl 4(%ecx), %eax
        REPORT %eax

        /* MOVSXD, CDQE, CQO, CWDE. */
        movl $0x80000001, %eax
        movslq %eax, %rbx
        REPORT64 %rbx
        cltq
        REPORT64 %rax
        cqto
        REPORT64 %rdx
        movw $0x8000, %ax
        cwtl
        REPORT64 %rax

        /* Wide multiply and divide. */
        movabsq $0x0123456789abcdef, %rax
        movabsq $0xfedcba9876543210, %rbx
        mulq %rbx
        REPORT64 %rax
        REPORT64 %rdx
        REPORT_FLAGS 0x801
        movabsq $-3, %rax
        movq $7, %rbx
        imulq %rbx
        REPORT64 %rax
        REPORT64 %rdx
        REPORT_FLAGS 0x801
        movabsq $0x7fffffffffffffff, %rax
        imulq $2, %rax, %rcx
        REPORT64 %rcx
        REPORT_FLAGS 0x801
        movq $-5, %rcx
        imulq $-7, %rcx
        REPORT64 %rcx
        REPORT_FLAGS 0x801
        movq $1, %rdx
        movq $5, %rax
        movq $3, %rbx
        divq %rbx
        REPORT64 %rax
        REPORT64 %rdx
        movq $-1, %rdx
        movq $-100, %rax
        movq $7, %rbx
        idivq %rbx
        REPORT64 %rax
        REPORT64 %rdx
        movl $0xffffffff, %eax
        movl $2, %ebx
        mull %ebx
        REPORT64 %rax
        REPORT64 %rdx

        /* Shifts and rotates on qwords (counts above 31). */
        movabsq $0x8000000080000001, %rax
        shlq $33, %rax
        REPORT64 %rax
        REPORT_FLAGS ARITH_NO_AF
        movabsq $0x8000000080000001, %rax
        shrq $1, %rax
        REPORT64 %rax
        REPORT_FLAGS ARITH_NO_AF
        movabsq $0x8000000080000001, %rax
        sarq $40, %rax
        REPORT64 %rax
        REPORT_FLAGS 0xc5
        movabsq $0x8000000080000001, %rax
        rolq $36, %rax
        REPORT64 %rax
        REPORT_FLAGS 0x1
        movabsq $0x8000000080000001, %rax
        rorq $1, %rax
        REPORT64 %rax
        REPORT_FLAGS 0x801
        stc
        movabsq $0x8000000080000001, %rax
        rclq $1, %rax
        REPORT64 %rax
        REPORT_FLAGS 0x801
        movabsq $0x8000000080000001, %rax
        movb $63, %cl
        shlq %cl, %rax
        REPORT64 %rax

        /* Bit scans and tests. */
        movabsq $0x0010000000000000, %rax
        bsfq %rax, %rbx
        REPORT64 %rbx
        bsrq %rax, %rcx
        REPORT64 %rcx
        movq $0x100, %rax
        btsq $40, %rax
        REPORT64 %rax
        REPORT_FLAGS 1
        btrq $8, %rax
        REPORT64 %rax
        REPORT_FLAGS 1
        movq $67, %rcx
        btsq %rcx, table(%rip)          /* bit 3 of the second qword */
        movq table + 8(%rip), %rax
        REPORT64 %rax
        REPORT_FLAGS 1

        /* CMPXCHG, XADD, BSWAP, CMOV, SETcc. */
        movq $5, %rax
        movq $5, scratch(%rip)
        movabsq $0x1234567890, %rbx
        lock cmpxchgq %rbx, scratch(%rip)
        REPORT_FLAGS 0x40
        movq scratch(%rip), %rcx
        REPORT64 %rcx
        cmpxchgq %rbx, scratch + 8(%rip)
        REPORT64 %rax
        movq $10, %rax
        lock xaddq %rax, scratch(%rip)
        REPORT64 %rax
        movq scratch(%rip), %rax
        REPORT64 %rax
        movabsq $0x0102030405060708, %rax
        bswapq %rax
        REPORT64 %rax
        movq $-1, %rdx
        xorl %ebx, %ebx
        cmovnzl %ebx, %edx              /* condition false: still zero-extends */
        REPORT64 %rdx
        movq $1, %rax
        cmpq $2, %rax
        setl %r10b
        setg %sil
        REPORT64 %r10
        REPORT64 %rsi

        /* String instructions with 64-bit counts and pointers. */
        leaq table(%rip), %rsi
        leaq scratch(%rip), %rdi
        movq $4, %rcx
        cld
        rep movsq
        REPORT64 %rcx
        movq scratch + 24(%rip), %rax
        REPORT64 %rax
        leaq scratch(%rip), %rdi
        movb $0xab, %al
        movq $5, %rcx
        rep stosb
        movq scratch(%rip), %rax
        REPORT64 %rax
        leaq table(%rip), %rsi
        leaq scratch(%rip), %rdi
        movq $32, %rcx
        repe cmpsb
        REPORT64 %rcx
        REPORT_FLAGS ARITH

        /* The stack and near branches are 64-bit. */
        movq %rsp, %rbp
        pushq $-2
        popq %rax
        REPORT64 %rax
        movq %rsp, %rax
        subq %rbp, %rax
        REPORT64 %rax
        pushw $0x1234
        movq %rsp, %rax
        subq %rbp, %rax
        REPORT64 %rax
        popw %ax
        call near_target
        REPORT64 %rax
        leaq far_jump_target(%rip), %rax
        pushq %rax
        ret
        REPORT $0xbad1
far_jump_target:
        movq $KERNEL_ALIAS + high_code, %rax
        jmp *%rax
back_low:
        movq $3, %rcx
        xorl %eax, %eax
1:      addq %rcx, %rax
        loop 1b
        REPORT64 %rax
        /* ENTER with a nesting level: frame pointer, copied link, RSP; LEAVE undoes it. */
        movq %rsp, %rbp
        movq %rsp, %rbx
        enter $0x20, $2
        movq %rbx, %rax
        subq %rsp, %rax
        REPORT64 %rax
        movq %rbx, %rax
        subq %rbp, %rax
        REPORT64 %rax
        movq 0x20(%rsp), %rax          /* the frame pointer pushed last */
        subq %rbx, %rax
        REPORT64 %rax
        leave
        cmpq %rsp, %rbx
        REPORT_FLAGS 0x40
        /* Stores across a page boundary (dword, word, qword; through the high alias too), read back whole. */
        movl $0x50ff0, %edi
        movq $0, (%rdi)
        movq $0, 8(%rdi)
        movq $0, 16(%rdi)
        movl $0x44332211, 0xe(%rdi)
        movw $0x6655, 0xc(%rdi)
        movabsq $KERNEL_ALIAS + 0x50ff0, %rsi
        movabsq $0xccbbaa9988776655, %rax
        movq %rax, 0x13(%rsi)
        movq (%rdi), %rax
        REPORT64 %rax
        movq 8(%rdi), %rax
        REPORT64 %rax
        movq 16(%rdi), %rax
        REPORT64 %rax
        movl 0xd(%rsi), %eax
        REPORT %eax
        jmp finish

near_target:
        movq (%rsp), %rax
        leaq after_call(%rip), %rbx
        subq %rbx, %rax
        ret
after_call:

/* Runs at KERNEL_ALIAS + high_code: RIP above 2^63, RIP-relative reaches the alias of the data. */
high_code:
        leaq data64(%rip), %rax
        REPORT64 %rax
        movq data64(%rip), %rbx
        REPORT64 %rbx
        call 1f
1:      popq %rax
        REPORT64 %rax
        movq $back_low, %rax
        jmp *%rax

        .balign 8
data64:
        .quad 0x0807060504030201
data32:
        .long 0x80001234
        .balign 8
table:
        .quad 0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0x4444444444444444
scratch:
        .fill 8, 8, 0
