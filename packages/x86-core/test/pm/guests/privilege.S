/* More privilege rules: a 16-bit gate from ring 3, a same-level call gate, conforming handlers, RET to
 * an outer ring, POPF/CLI at CPL 3, and error codes naming LDT selectors (TI bit). */
        .include "common.inc"

test_main:
        SETGATE idt+0x80*8, stubs+0x80*16, SEL_CODE0, 0xee

        /* A 16-bit interrupt gate from ring 3: IP, CS, FLAGS, SP, SS as words on the ring-0 stack. */
        SETGATE idt+0x60*8, stubs+0x60*16, SEL_CODE0, 0xe6
        ON_FAULT 1f
        TO_RING3 ring3_int60
1:      xorl %eax, %eax
        cmpw $after_int60, FRAME
        sete %al
        REPORT %eax                     /* 1: the return IP */
        movzwl FRAME + 2, %eax
        REPORT %eax                     /* CS 0x1b */
        movzwl FRAME + 4, %eax
        REPORT %eax                     /* FLAGS 0x2 */
        movzwl FRAME + 6, %eax
        REPORT %eax                     /* SP 0x8000: the low half of ESP 0x38000 */
        movzwl FRAME + 8, %eax
        REPORT %eax                     /* SS 0x23 */

        /* A call gate at the same level pushes CS:EIP on the current stack. */
        SETGATE gdt+0x30, same_level, SEL_CODE0, 0x8c
        movl %esp, %ebp
        lcall $0x30, $0
        subl %esp, %ebp
        REPORT %ebp                     /* 0: RET popped what the call pushed */

        /* An interrupt gate to conforming code runs the handler at CPL 3 on the ring-3 stack. */
        SETDESC 0x38, 0, 0xfffff, 0x9e, 0xc
        SETGATE idt+0x61*8, conforming_handler, 0x38, 0xee
        ON_FAULT 1f
        TO_RING3 ring3_int61            /* 0x3b, 0x38000 - 12, then INT 0x80 */
1:
        /* RET far to ring 3 nulls ES (DPL 0) and keeps DS (DPL 3). */
        movw $SEL_DATA3, %ax
        movw %ax, %ds
        movw $SEL_DATA0, %ax
        movw %ax, %es
        ON_FAULT 1f
        pushl $SEL_DATA3
        pushl $STACK3_TOP
        pushl $SEL_CODE3
        pushl $ring3_segments
        lret
1:      movw $SEL_DATA0, %ax
        movw %ax, %ds

        /* POPF at CPL 3: IF and IOPL stay at IOPL 0; IF follows at IOPL 3, IOPL never. */
        ON_FAULT 1f
        TO_RING3 ring3_popf
1:      ON_FAULT 1f
        TO_RING3 ring3_popf, 0x3002
1:      ON_FAULT 1f
        TO_RING3 ring3_cli              /* 13, 0 */
1:
        /* Selectors into the LDT: error codes carry TI. */
        movl $0x0000ffff, 0x50000       /* 0x04: flat data, DPL 0 */
        movl $0x00cf9200, 0x50004
        movl $0x0000ffff, 0x50008       /* 0x0c: not present */
        movl $0x00cf1200, 0x5000c
        SETDESC 0x40, 0x50000, 0xf, 0x82, 0
        movw $0x40, %ax
        lldt %ax
        movw $0x04, %ax
        movw %ax, %fs
        movw $0x14, %ax
        EXPECT_FAULT movw %ax, %fs      /* beyond the LDT limit: 13, 0x14 */
        movw $0x0c, %ax
        EXPECT_FAULT movw %ax, %fs      /* not present: 11, 0x0c */
        xorw %ax, %ax
        lldt %ax
        movw $0x04, %ax
        EXPECT_FAULT movw %ax, %fs      /* no LDT: 13, 0x04 */
        jmp finish

same_level:
        REPORT_SEG %cs                  /* 0x08 */
        lret

conforming_handler:
        REPORT_SEG %cs                  /* 0x3b: CPL stays 3 */
        movl %esp, %eax
        REPORT %eax                     /* 0x38000 - 12 */
        int $0x80

ring3_int60:
        int $0x60
after_int60:
        REPORT $0xbad1

ring3_int61:
        int $0x61
        REPORT $0xbad2

ring3_segments:
        REPORT_SEG %es                  /* 0 */
        REPORT_SEG %ds                  /* 0x23 */
        int $0x80

ring3_popf:
        pushl $0x0202
        popfl
        pushfl
        popl %eax
        andl $0x3200, %eax
        REPORT %eax                     /* 0 at IOPL 0; 0x3200 at IOPL 3 */
        int $0x80

ring3_cli:
        cli
        REPORT $0xbad3
