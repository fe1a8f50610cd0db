/* Entering protected mode, descriptor queries, LDT, expand-down and limit checks, accessed bits. */
        .include "common.inc"

test_main:
        movl %cr0, %eax
        REPORT %eax                     /* 0x60000011 */
        str %ax
        movzwl %ax, %eax
        REPORT %eax                     /* 0x28 */
        sldt %ax
        movzwl %ax, %eax
        REPORT %eax                     /* 0 */
        sgdt scratch
        movzwl scratch, %eax
        REPORT %eax                     /* 0xff */

        sidt scratch
        movzwl scratch, %eax
        REPORT %eax                     /* 0x7ff */
        smsw %ax
        movzwl %ax, %eax
        REPORT %eax                     /* 0x11 */
        movw $0x9, %ax
        lmsw %ax                        /* sets TS */
        movl %cr0, %eax
        andl $0xf, %eax
        REPORT %eax                     /* 0x9 */
        clts
        movl %cr0, %eax
        andl $0xf, %eax
        REPORT %eax                     /* 0x1 */

        movl $SEL_CODE0, %ebx
        lar %ebx, %eax
        REPORT %eax                     /* 0x00c09b00: accessed by the far jump */
        REPORT_ZF
        movl $SEL_TSS0, %ebx
        lar %ebx, %eax
        REPORT %eax                     /* 0x00008b00: busy after LTR */
        REPORT_ZF
        movl $0x100, %ebx
        lar %ebx, %eax
        REPORT_ZF                       /* 0: beyond the GDT limit */
        movl $SEL_DATA0, %ebx
        lsl %ebx, %eax
        REPORT %eax                     /* 0xffffffff */
        movl $SEL_TSS0, %ebx
        lsl %ebx, %eax
        REPORT %eax                     /* 0x2068 */
        movw $SEL_CODE0, %ax
        verr %ax
        REPORT_ZF                       /* 1 */
        verw %ax
        REPORT_ZF                       /* 0: code is never writable */
        movw $SEL_DATA0, %ax
        verw %ax
        REPORT_ZF                       /* 1 */
        movw $0x10, %ax
        movw $0x03, %bx
        arpl %bx, %ax
        REPORT_ZF                       /* 1 */
        movzwl %ax, %eax
        REPORT %eax                     /* 0x13 */

        /* An LDT at 0x50000 whose entry 0 is a data segment at 0x60000. */
        movl $0x00000fff, 0x50000
        movl $0x00409206, 0x50004       /* base 0x060000, access 0x92, D/B */
        SETDESC 0x30, 0x50000, 0xf, 0x82, 0
        movw $0x30, %ax
        lldt %ax
        sldt %ax
        movzwl %ax, %eax
        REPORT %eax                     /* 0x30 */
        movw $0x04, %ax
        movw %ax, %fs
        movl $0x12345678, %fs:0x10
        REPORT 0x60010                  /* 0x12345678 */

        /* Expand-down: base 0x70000, limit 0xfff, B=1: offsets 0x1000..0xffffffff are valid. */
        SETDESC 0x38, 0x70000, 0xfff, 0x96, 4
        movw $0x38, %ax
        movw %ax, %gs
        movl $0xabcd, %gs:0x2000
        REPORT 0x72000                  /* 0xabcd */
        ON_FAULT 1f
        movl %gs:0x800, %eax
        REPORT $0xbad1
1:                                      /* #GP(0) reported */

        /* The accessed bit is set in memory when a selector is loaded. */
        SETDESC 0x40, 0x70000, 0xff, 0x92, 4
        movzbl gdt + 0x45, %eax
        REPORT %eax                     /* 0x92 */
        movw $0x40, %ax
        movw %ax, %es
        movzbl gdt + 0x45, %eax
        REPORT %eax                     /* 0x93 */
        movl %es:0xfc, %eax
        ON_FAULT 1f
        movl %es:0xfd, %eax             /* crosses the limit of 0xff */
        REPORT $0xbad2
1:
        jmp finish

scratch:
        .fill 8, 1, 0
