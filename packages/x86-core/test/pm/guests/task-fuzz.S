/* Random task switches (a fixed xorshift32 sequence): JMP, CALL and INT through a task gate to a TSS
 * whose CS, SS, DS, ES, FS, GS, LDT and EFLAGS are drawn from a pool of good, bad and null selectors.
 * The new task starts at `land` (INT 0x7f reports CS, flags, SS:ESP, TR and LDTR); #DF, #TS, #NP, #SS
 * and #GP go through task gates to handler tasks that report vector and error code, so faults after
 * the commit point never depend on half-loaded segment registers. Compared against QEMU. */
        .include "common.inc"

        .set ROUNDS, 1000
        .set LDT, 0x50000
        .set TSS_B, 0x23000
        .set TSS_H, 0x23100             /* handler TSSs, 0x80 apart, in the order of handler_vectors */
        .set SEL_B, 0x30

test_main:
        /* Ring 1/2 code and stacks, an LDT with a few fixed entries. */
        SETDESC 0x50, 0, 0xfffff, 0xda, 0xc     /* code, DPL 2 */
        SETDESC 0x58, 0, 0xfffff, 0xba, 0xc     /* code, DPL 1 */
        SETDESC 0x70, 0, 0xfffff, 0xb2, 0xc     /* data, DPL 1 */
        SETDESC 0x78, 0, 0xfffff, 0xd2, 0xc     /* data, DPL 2 */
        SETDESC 0x80, LDT, 0x1f, 0x82, 0
        movl $0x0000ffff, LDT + 0x00    /* 0x04: data, DPL 3 */
        movl $0x00cff200, LDT + 0x04
        movl $0x0000ffff, LDT + 0x08    /* 0x0c: code, DPL 3 */
        movl $0x00cffa00, LDT + 0x0c
        movl $0x0000ffff, LDT + 0x10    /* 0x14: data, not present */
        movl $0x00cf7200, LDT + 0x14
        movl $0x0000ffff, LDT + 0x18    /* 0x1c: data, DPL 0 */
        movl $0x00cf9200, LDT + 0x1c
        SETDESC SEL_B, TSS_B, 0x67, 0x89, 0
        SETGATE idt+0x61*8, 0, SEL_B, 0x85
        SETGATE idt+0x7f*8, stubs+0x7f*16, SEL_CODE0, 0xee
        movl $landed, handler_table + 0x7f * 4
        movl $ROUNDS, round

next_round:
        call reset_tasks
        call randomize_tss_b
        ON_FAULT 1f
        RANDOM
        andl $3, %eax
        REPORT %eax                     /* 0 JMP, 1 CALL, 2/3 INT through the task gate */
        cmpl $1, %eax
        jb 2f
        je 3f
        int $0x61
        REPORT $0xbad1
2:      ljmp $SEL_B, $0
        REPORT $0xbad2
3:      lcall $SEL_B, $0
        REPORT $0xbad3
1:      decl round
        jnz next_round
        jmp finish

/* INT 0x7f at `land`, in the new task: where it arrived and in which state. */
landed:
        REPORT FRAME + 4                /* CS */
        movl FRAME + 8, %eax
        andl $0x7600, %eax
        REPORT %eax                     /* IF DF IOPL NT */
        testl $3, FRAME + 4
        jz 1f
        REPORT FRAME + 12               /* ESP */
        REPORT FRAME + 16               /* SS */
1:      str %ax
        movzwl %ax, %eax
        REPORT %eax
        sldt %ax
        movzwl %ax, %eax
        REPORT %eax
        jmp isr_resume

        .balign 16
land:
        int $0x7f

/* A handler task: report its vector and the error code on its stack, then resume the rounds. */
        .irp vector, 8, 10, 11, 12, 13
fault_task_\vector:
        REPORT $(0xf0000000 | \vector)
        popl %eax
        REPORT %eax
        jmp isr_resume
        .endr

/* Every TSS available again, handler TSSs fresh, TR back on TSS0, NT clear, task gates in the IDT. */
reset_tasks:
        pushfl
        andl $~0x4000, (%esp)
        popfl
        movb $0x89, gdt + SEL_TSS0 + 5
        movb $0x89, gdt + SEL_B + 5
        movw $SEL_TSS0, %ax
        ltr %ax
        xorl %esi, %esi
1:      movl %esi, %edi
        shll $7, %edi
        addl $TSS_H, %edi
        movl handler_entries(, %esi, 4), %eax
        xorl %ecx, %ecx
        movl $0x35000, %edx
        xorl %ebx, %ebx
        call init_tss32
        movzbl handler_selectors(%esi), %eax
        movl %edi, %ebx
        movl $0x67, %ecx
        movl $0x89, %edx
        call set_desc
        movzbl handler_vectors(%esi), %eax
        movzbl handler_selectors(%esi), %ecx
        shll $16, %ecx
        movl %ecx, idt(, %eax, 8)
        movl $0x8500, idt + 4(, %eax, 8)
        incl %esi
        cmpl $5, %esi
        jb 1b
        ret

handler_vectors:
        .byte 8, 10, 11, 12, 13
handler_selectors:
        .byte 0x38, 0x40, 0x48, 0x60, 0x68
handler_entries:
        .long fault_task_8, fault_task_10, fault_task_11, fault_task_12, fault_task_13

/* TSS_B: EIP `land`, random ring r with CS/SS of that ring (each now and then from the pool), data
 * segments and LDT from the pool, random flags; SS0:ESP0 a good ring-0 stack for INT 0x7f. */
randomize_tss_b:
        movl $TSS_B, %edi
        movl $land, %eax
        xorl %ecx, %ecx
        movl $0x2a000, %edx
        movl $0x80, %ebx
        call init_tss32
        movl $0x2e000, TSS_B + 4
        movl $SEL_DATA0, TSS_B + 8
        RANDOM
        movl %eax, %ecx
        andl $3, %ecx
        movzbl ring_code(%ecx), %ebx
        orl %ecx, %ebx
        testl $0x1c, %eax
        jnz 1f
        call pool_selector
1:      movw %bx, TSS_B + 0x4c          /* CS */
        RANDOM
        movl %eax, %edx
        movzbl ring_data(%ecx), %ebx
        orl %ecx, %ebx
        testl $0x1c, %edx
        jnz 1f
        call pool_selector
1:      movw %bx, TSS_B + 0x50          /* SS */
        .irp offset, 0x48, 0x54, 0x58, 0x5c
        call pool_selector
        movw %bx, TSS_B + \offset       /* ES DS FS GS */
        .endr
        RANDOM
        testl $0x7, %eax
        jnz 1f
        call pool_selector
        movw %bx, TSS_B + 0x60          /* LDT */
1:      RANDOM
        andl $0x3ed5, %eax
        orl $2, %eax
        movl %eax, TSS_B + 0x24         /* EFLAGS */
        movzwl TSS_B + 0x4c, %eax
        shll $16, %eax
        movw TSS_B + 0x50, %ax
        REPORT %eax                     /* CS:SS */
        movzwl TSS_B + 0x54, %eax
        shll $16, %eax
        movw TSS_B + 0x48, %ax
        REPORT %eax                     /* DS:ES */
        movzwl TSS_B + 0x58, %eax
        shll $16, %eax
        movw TSS_B + 0x5c, %ax
        REPORT %eax                     /* FS:GS */
        movzwl TSS_B + 0x60, %eax
        REPORT %eax                     /* LDT */
        ret

/* ebx = one of 16 selectors: rings' code and data, LDT entries, null, a TSS, out of range, RPL odd. */
pool_selector:
        pushl %eax
        RANDOM
        andl $15, %eax
        movzwl pool(, %eax, 2), %ebx
        popl %eax
        ret

pool:
        .word SEL_CODE0, SEL_DATA0, SEL_CODE3, SEL_DATA3, 0x5a, 0x59, 0x71, 0x7a
        .word 0x07, 0x0f, 0x14, 0x1c, 0, SEL_TSS0, 0x1f8, 0x13
ring_code:
        .byte SEL_CODE0, 0x58, 0x50, SEL_CODE3 & ~3
ring_data:
        .byte SEL_DATA0, 0x70, 0x78, SEL_DATA3 & ~3
round:
        .long 0
