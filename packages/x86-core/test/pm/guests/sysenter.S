/* SYSENTER/SYSEXIT: CPUID's SEP bit, the MSRs read back, #GP(0) with SYSENTER_CS 0 (both
 * instructions) and for SYSEXIT at CPL 3, one observed round trip (selectors, stack, flags: IF
 * cleared on the way in, EFLAGS untouched on the way out, ECX/EDX as ESP/EIP), then 1000 round trips
 * through a SYSENTER_CS with RPL bits set (CS and SS take RPL 0 in, RPL 3 out). */
        .include "common.inc"
        .set MSR_CS, 0x174
        .set MSR_ESP, 0x175
        .set MSR_EIP, 0x176
        .set SYSENTER_STACK, 0x2f000

        .macro SETMSR msr, value
        movl $\msr, %ecx
        movl $\value, %eax
        xorl %edx, %edx
        wrmsr
        .endm

test_main:
        SETGATE idt+0x80*8, stubs+0x80*16, SEL_CODE0, 0xee
        movl $1, %eax
        cpuid
        andl $0x800, %edx
        REPORT %edx                     /* 0x800: SEP */

        SETMSR MSR_ESP, 0x12345678
        SETMSR MSR_EIP, 0x9abcdef0
        movl $MSR_ESP, %ecx
        rdmsr
        REPORT %eax                     /* 0x12345678 */
        REPORT %edx                     /* 0 */
        movl $MSR_EIP, %ecx
        rdmsr
        REPORT %eax                     /* 0x9abcdef0 */

        /* SYSENTER_CS 0: both are #GP(0), SYSENTER from any ring. */
        SETMSR MSR_CS, 0
        EXPECT_FAULT sysexit            /* 13, 0 */
        EXPECT_FAULT sysenter           /* 13, 0 */
        ON_FAULT 1f
        TO_RING3 ring3_sysenter         /* 13, 0 */
1:
        SETMSR MSR_CS, SEL_CODE0
        SETMSR MSR_ESP, SYSENTER_STACK
        SETMSR MSR_EIP, entry_observe
        ON_FAULT 1f
        TO_RING3 ring3_sysexit          /* 13, 0: SYSEXIT at CPL 3 */
1:
        ON_FAULT 1f
        TO_RING3 ring3_observe, 0xa93   /* OF SF AF CF IF */
1:
        SETMSR MSR_CS, SEL_CODE0 | 3
        SETMSR MSR_EIP, entry_count
        ON_FAULT 1f
        TO_RING3 ring3_loop
1:
        /* SYSENTER at CPL 0 works too; SYSEXIT returns to ring 3 whatever ring entered. */
        SETMSR MSR_EIP, entry_count
        xorl %ebx, %ebx
        ON_FAULT 1f
        movl $STACK3_TOP, %ecx
        movl $ring3_after_ring0, %edx
        sysenter
1:
        jmp finish

ring3_sysenter:
        sysenter
        REPORT $0xbad1

ring3_sysexit:
        sysexit
        REPORT $0xbad2

ring3_observe:
        movl $0x37000, %ecx             /* the stack SYSEXIT will load */
        movl $back_observe, %edx
        sysenter
        REPORT $0xbad3
back_observe:
        pushfl
        popl %eax
        REPORT %eax                     /* 0x8d7: as the kernel left them */
        REPORT_SEG %cs                  /* 0x1b */
        REPORT_SEG %ss                  /* 0x23 */
        movl %esp, %eax
        REPORT %eax                     /* 0x37000 */
        int $0x80

entry_observe:
        pushfl
        popl %eax
        REPORT %eax                     /* 0x893: IF cleared */
        REPORT_SEG %cs                  /* 0x08 */
        REPORT_SEG %ss                  /* 0x10 */
        REPORT_SEG %ds                  /* 0: untouched (IRET to ring 3 nulled it) */
        movl %esp, %eax
        REPORT %eax                     /* SYSENTER_STACK */
        REPORT %ecx                     /* 0x37000 */
        pushl $0x8d7                    /* flags to carry out: OF SF ZF AF PF CF, IF clear */
        popfl
        sysexit

ring3_loop:
        movl $1000, %edi
        xorl %ebx, %ebx
1:      movl %esp, %ecx
        movl $2f, %edx
        sysenter
2:      decl %edi
        jnz 1b
        REPORT %ebx                     /* 1000 */
        movl %esp, %eax
        REPORT %eax                     /* STACK3_TOP */
        REPORT_SEG %cs                  /* 0x1b */
        REPORT_SEG %ss                  /* 0x23 */
        int $0x80

entry_count:
        incl %ebx
        sysexit

ring3_after_ring0:
        REPORT %ebx                     /* 1 */
        REPORT_SEG %cs                  /* 0x1b */
        int $0x80
