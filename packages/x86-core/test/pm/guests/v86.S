/* Virtual-8086 mode: entry through IRET, segment loads, INT n through a ring-0 gate and back, and the
 * IOPL-sensitive instructions (#GP(0) when IOPL < 3). */
        .include "common.inc"

        .set V86_CS, LOAD >> 4

        /* IRET into v86 mode at `label` (in this image) with SS:SP 0700:1000 and the given IOPL bits. */
        .macro TO_V86 label, iopl=0
        pushl $0                        /* GS */
        pushl $0                        /* FS */
        pushl $0                        /* DS */
        pushl $0                        /* ES */
        pushl $0x700                    /* SS */
        pushl $0x1000                   /* ESP */
        pushl $(0x20002 | \iopl)        /* EFLAGS: VM */
        pushl $V86_CS
        pushl $(\label - _start)
        iret
        .endm

        .macro V86_FAULT label
        ON_FAULT 1f
        TO_V86 \label
1:
        .endm

test_main:
        movl $0x4141, 0x410
        SETGATE idt+0x31*8, stubs+0x31*16, SEL_CODE0, 0xee
        SETGATE idt+0x32*8, stubs+0x32*16, SEL_CODE0, 0xee
        movl $return_to_v86, handler_table + 0x31 * 4

        /* IOPL 0: INT n faults #GP(0) into the ring-0 handler with a v86 frame. */
        ON_FAULT 1f
        TO_V86 v86_first
1:      REPORT FRAME + 8                /* CS 0x100 */
        movl FRAME + 12, %eax
        andl $0x20000, %eax
        REPORT %eax                     /* VM 0x20000 */
        REPORT FRAME + 20               /* SS 0x700 */
        REPORT FRAME + 28               /* DS 0x40 */

        V86_FAULT v86_cli               /* 13, 0 */
        V86_FAULT v86_sti               /* 13, 0 */
        V86_FAULT v86_pushf             /* 13, 0 */
        V86_FAULT v86_popf              /* 13, 0 */
        V86_FAULT v86_iret              /* 13, 0 */
        /* INT3 is not IOPL-sensitive: with a DPL-3 gate it reaches ring 0 at IOPL 0. */
        SETGATE idt+3*8, stubs+3*16, SEL_CODE0, 0xee
        V86_FAULT v86_int3              /* 3 */
        REPORT FRAME + 4                /* CS 0x100 */

        /* IOPL 3: all of them work, INT 0x31 reaches ring 0 and IRETs back to v86. */
        ON_FAULT 1f
        TO_V86 v86_iopl3, 0x3000
1:      REPORT FRAME + 4                /* back in ring 0 through INT 0x32: CS 0x100 */
        jmp finish

/* Handler for INT 0x31 from v86: check the frame, then IRET back into v86 mode. */
return_to_v86:
        REPORT FRAME + 4                /* CS 0x100 */
        movl FRAME + 8, %eax
        andl $0x23000, %eax
        REPORT %eax                     /* VM | IOPL 3 */
        REPORT FRAME + 24               /* DS 0x40 */
        movw %cs, %ax
        movzwl %ax, %eax
        REPORT %eax                     /* 0x08 */
        popal
        addl $4, %esp
        iret

        .code16
v86_first:
        movw $0x40, %ax
        movw %ax, %ds
        movl 0x10, %eax
        OUT_REPORT                      /* 0x4141 from linear 0x410 */
        int $0x30
        hlt

v86_cli:
        cli
        hlt
v86_sti:
        sti
        hlt
v86_pushf:
        pushf
        hlt
v86_popf:
        popf
        hlt
v86_iret:
        iret
        hlt
v86_int3:
        int3
        hlt

v86_iopl3:
        movw $0x40, %ax
        movw %ax, %ds
        cli
        sti
        pushfl
        popl %eax
        andl $0x3000, %eax
        OUT_REPORT                      /* 0x3000 */
        pushf
        pushw %cs
        pushw $(1f - _start)
        iret
        hlt
1:      movl $0x1e7, %eax
        OUT_REPORT
        int $0x31
        movl $0x31, %eax
        OUT_REPORT                      /* back in v86 after the ring-0 handler's IRET */
        int $0x32
        hlt
        .code32
