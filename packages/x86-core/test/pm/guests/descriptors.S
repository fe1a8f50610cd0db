/* Random descriptors and selectors (a fixed xorshift32 sequence): segment loads into ES and SS, LAR,
 * LSL, VERR and VERW, each reported as its fault (vector, error code) or its result. Compared against
 * QEMU rather than against a hand-written list. */
        .include "common.inc"

        .set LDT, 0x50000
        .set ROUNDS, 1000

test_main:
        SETDESC 0x80, LDT, 0x1f, 0x82, 0        /* a 4-entry LDT */
        movw $0x80, %ax
        lldt %ax
        movl $ROUNDS, round

next_round:
        /* Fresh random descriptors in GDT slots 0x30-0x78 and all four LDT slots. */
        movl $gdt + 0x30, %edi
1:      RANDOM
        movl %eax, (%edi)
        RANDOM
        movl %eax, 4(%edi)
        addl $8, %edi
        cmpl $gdt + 0x80, %edi
        jb 1b
        movl $LDT, %edi
1:      RANDOM
        movl %eax, (%edi)
        RANDOM
        movl %eax, 4(%edi)
        addl $8, %edi
        cmpl $LDT + 0x20, %edi
        jb 1b

        /* A selector among GDT 0x30-0x7f and the LDT, with a random RPL. */
        call random_selector
        movl %ebx, selector
        REPORT %ebx

        ON_FAULT 2f
        movw %bx, %es
        REPORT $0xe5                    /* loaded */
2:      movw $SEL_DATA0, %ax
        movw %ax, %es

        movl selector, %ebx
        ON_FAULT 2f
        movw %bx, %ss
        movw $SEL_DATA0, %ax            /* back to the real stack before anything pushes */
        movw %ax, %ss
        REPORT $0x55                    /* loaded */
2:
        movl selector, %ebx
        xorl %eax, %eax
        lar %ebx, %eax
        REPORT_ZF
        REPORT %eax
        xorl %eax, %eax
        lsl %ebx, %eax
        REPORT_ZF
        REPORT %eax
        verr %bx
        REPORT_ZF
        verw %bx
        REPORT_ZF

        decl round
        jnz next_round
        jmp finish

round:
        .long 0
selector:
        .long 0
