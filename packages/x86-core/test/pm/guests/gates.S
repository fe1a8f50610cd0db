/* Interrupt and trap gates, ring 0 <-> 3 through IRET, INT and call gates, TSS stack switch. */
        .include "common.inc"

test_main:
        /* An interrupt gate clears IF, a trap gate keeps it; both see IF set in the pushed EFLAGS. */
        movl $report_if, handler_table + 0x41 * 4
        movl $report_if, handler_table + 0x42 * 4
        SETGATE idt+0x42*8, stubs+0x42*16, SEL_CODE0, 0x8f
        sti
        int $0x41                       /* 0x41, 0x200, 0 */
        int $0x42                       /* 0x42, 0x200, 0x200 */
        cli

        /* Ring 3 through IRET; back through INT 0x80 (a DPL-3 gate) onto the TSS's ring-0 stack. */
        SETGATE idt+0x80*8, stubs+0x80*16, SEL_CODE0, 0xee
        ON_FAULT 1f
        TO_RING3 ring3_a
1:      REPORT FRAME + 4                /* CS 0x1b */
        REPORT FRAME + 12               /* ESP 0x38000 */
        REPORT FRAME + 16               /* SS 0x23 */
        REPORT saved_regs + 12          /* ring-0 ESP at PUSHAD: 0x30000 - 20 - 4 */

        /* INT n from ring 3 through a DPL-0 gate: #GP(n * 8 + 2). INT3 likewise. */
        ON_FAULT 1f
        TO_RING3 ring3_int81
1:      ON_FAULT 1f
        TO_RING3 ring3_int3
1:
        /* A 32-bit call gate (DPL 3) to ring 0 copying two parameters; RET 8 back to ring 3. */
        SETGATE gdt+0x30, callgate_target, SEL_CODE0, 0xec, 2
        ON_FAULT 1f
        TO_RING3 ring3_call
1:
        /* A conforming ring-0 segment runs at CPL 3; a direct call to non-conforming ring 0 faults. */
        SETDESC 0x38, 0, 0xfffff, 0x9e, 0xc
        ON_FAULT 1f
        TO_RING3 ring3_conforming
1:
        /* IRET to ring 3 nulls DS when it holds a DPL-0 data segment; ring 3 cannot load it again. */
        ON_FAULT 1f
        TO_RING3 ring3_segments
1:      jmp finish

report_if:
        movl FRAME + 8, %eax
        andl $0x200, %eax
        OUT_REPORT
        pushfl
        popl %eax
        andl $0x200, %eax
        OUT_REPORT
        popal
        addl $4, %esp
        iret

callgate_target:
        REPORT_SEG %cs                  /* 0x08 */
        REPORT_SEG %ss                  /* 0x10 */
        /* REPORT pushes EAX first: frame offsets below are one dword further. */
        REPORT 8(%esp)                  /* caller CS 0x1b */
        REPORT 12(%esp)                 /* first parameter (pushed last) 0x2222 */
        REPORT 16(%esp)                 /* 0x1111 */
        REPORT 20(%esp)                 /* caller ESP 0x38000 - 8 */
        REPORT 24(%esp)                 /* caller SS 0x23 */
        movl %esp, %eax
        REPORT %eax                     /* 0x30000 - 24 */
        lret $8

conforming_target:
        REPORT_SEG %cs                  /* 0x3b: CPL stays 3 */
        lret

ring3_a:
        REPORT_SEG %cs                  /* 0x1b */
        REPORT_SEG %ss                  /* 0x23 */
        int $0x80

ring3_int81:
        int $0x81                       /* 13, 0x40a */
        REPORT $0xbad1

ring3_int3:
        int3                            /* 13, 0x1a */
        REPORT $0xbad2

ring3_call:
        pushl $0x1111
        pushl $0x2222
        lcall $0x33, $0
        movl %esp, %eax
        REPORT %eax                     /* 0x38000: RET 8 released the parameters */
        int $0x80

ring3_conforming:
        lcall $0x3b, $conforming_target
        lcall $SEL_CODE0, $conforming_target    /* 13, 0x08 */
        REPORT $0xbad3

ring3_segments:
        REPORT_SEG %ds                  /* 0 */
        movw $SEL_DATA3, %ax
        movw %ax, %ds                   /* allowed */
        movw $SEL_DATA0, %ax
        movw %ax, %es                   /* 13, 0x10 */
        REPORT $0xbad4
