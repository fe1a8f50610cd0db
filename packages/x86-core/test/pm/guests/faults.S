/* #GP, #SS, #NP and #TS with their error codes: segment loads, gates, far jumps, inner stacks from the
 * TSS, system instructions. (Checks QEMU does not model are in strict.S.) */
        .include "common.inc"

test_main:
        SETGATE idt+0x80*8, stubs+0x80*16, SEL_CODE0, 0xee
        SETDESC 0x30, 0, 0xfffff, 0x98, 0xc     /* execute-only code */
        SETDESC 0x38, 0, 0xfffff, 0x90, 0xc     /* read-only data */
        SETDESC 0x40, 0, 0xfffff, 0x12, 0xc     /* writable data, not present */
        SETDESC 0x48, 0, 0xfffff, 0x92, 0xc     /* ring-0 data */
        SETDESC 0x68, 0, 0xfffff, 0x1a, 0xc     /* code, not present */
        SETDESC 0x70, 0, 0xfff, 0x9a, 0x4       /* code, limit 0xfff */

        /* Data segment loads. */
        movw $0x100, %ax
        EXPECT_FAULT movw %ax, %ds      /* beyond the GDT limit: 13, 0x100 */
        movw $0x30, %ax
        EXPECT_FAULT movw %ax, %ds      /* execute-only code: 13, 0x30 */
        movw $0x40, %ax
        EXPECT_FAULT movw %ax, %es      /* not present: 11, 0x40 */

        /* Stack segment loads and limits. */
        xorl %eax, %eax
        EXPECT_FAULT movw %ax, %ss      /* null: 13, 0 */
        movw $0x38, %ax
        EXPECT_FAULT movw %ax, %ss      /* read-only: 13, 0x38 */
        movw $0x40, %ax
        EXPECT_FAULT movw %ax, %ss      /* not present: 12, 0x40 */
        movw $0x13, %ax
        EXPECT_FAULT movw %ax, %ss      /* RPL 3 at CPL 0: 13, 0x10 */

        /* IDT: beyond the limit, not present, wrong type, null and non-code target. */
        movw $0x1ff, small_idt
        movl $idt, small_idt + 2
        lidt small_idt
        EXPECT_FAULT int $0x50          /* 13, 0x282 */
        lidt idt_desc
        movb $0x0e, idt + 0x51 * 8 + 5
        EXPECT_FAULT int $0x51          /* 11, 0x28a */
        movb $0x8c, idt + 0x52 * 8 + 5
        EXPECT_FAULT int $0x52          /* 13, 0x292 */
        movw $0, idt + 0x53 * 8 + 2
        EXPECT_FAULT int $0x53          /* 13, 0 */
        movw $SEL_DATA0, idt + 0x54 * 8 + 2
        EXPECT_FAULT int $0x54          /* 13, 0x10 */

        /* Far jumps. */
        EXPECT_FAULT ljmp $SEL_DATA0, $0        /* 13, 0x10 */
        EXPECT_FAULT ljmp $0x68, $0             /* 11, 0x68 */
        EXPECT_FAULT ljmp $0x70, $0x2000        /* beyond CS limit: 13, 0 */

        /* #TS through a call gate to ring 1 whose TSS SS1 is unusable. */
        SETDESC 0x50, 0, 0xfffff, 0xba, 0xc     /* ring-1 code */
        SETDESC 0x60, 0, 0xfffff, 0xb2, 0xc     /* ring-1 data */
        SETGATE gdt+0x58, ring1_target, 0x50, 0xec, 0
        movl $0x28000, TSS0 + 12        /* ESP1 */
        movl $0, TSS0 + 16              /* SS1 null */
        ON_FAULT 1f
        TO_RING3 ring3_call_ring1       /* 10, 0 */
1:      movl $0x13, TSS0 + 16           /* SS1 with RPL 3 */
        ON_FAULT 1f
        TO_RING3 ring3_call_ring1       /* 10, 0x10 */
1:      movl $0x48, TSS0 + 16           /* SS1 DPL 0 */
        ON_FAULT 1f
        TO_RING3 ring3_call_ring1       /* 10, 0x48 */
1:      movl $0x61, TSS0 + 16
        ON_FAULT 1f
        TO_RING3 ring3_call_ring1       /* reports CS 0x51, SS 0x61, then INT 0x80 */
1:
        /* LTR / LLDT type checks. */
        movw $SEL_DATA0, %ax
        EXPECT_FAULT ltr %ax            /* 13, 0x10 */
        movw $SEL_TSS0, %ax
        EXPECT_FAULT lldt %ax           /* 13, 0x28 */

        /* Privileged instructions at CPL 3. */
        ON_FAULT 1f
        TO_RING3 ring3_privileged       /* 13, 0 */
1:      jmp finish

ring1_target:
        REPORT_SEG %cs
        REPORT_SEG %ss
        lret

ring3_call_ring1:
        lcall $0x5b, $0
        int $0x80

ring3_privileged:
        movl %cr0, %eax
        REPORT $0xbad1

small_idt:
        .fill 6, 1, 0
