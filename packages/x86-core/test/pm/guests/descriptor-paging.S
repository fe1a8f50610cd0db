/* Descriptor-table reads and accessed-bit writes are linear supervisor accesses through paging: an LDT
 * in a not-present page faults on the segment load (#PF 0), one in a read-only page (CR0.WP set)
 * faults when the CPU sets the accessed bit of a descriptor that lacks it (#PF 3 at the access byte). */
        .include "common.inc"

        .set PD, 0x40000
        .set PT0, 0x41000

test_main:
        movl $PT0, %edi
        call identity_map
        movl $PT0 | 0x7, PD
        movl $0x00000fff, 0x306000      /* LDT entry 0: data at 0x60000, not accessed */
        movl $0x00409206, 0x306004
        movl $0x306000 | 0x5, PT0 + 0x306 * 4   /* read-only */
        movl $0, PT0 + 0x307 * 4                /* not present */
        movl $PD, %eax
        movl %eax, %cr3
        movl %cr0, %eax
        orl $0x80010000, %eax           /* PG, WP */
        movl %eax, %cr0
        SETDESC 0x30, 0x306000, 0xf, 0x82, 0
        SETDESC 0x38, 0x307000, 0xf, 0x82, 0

        movw $0x38, %ax
        lldt %ax
        movw $0x04, %ax
        EXPECT_FAULT movw %ax, %fs      /* 14, 0, 0x307000 */
        movw $0x30, %ax
        lldt %ax
        movw $0x04, %ax
        EXPECT_FAULT movw %ax, %fs      /* 14, 3, 0x306005 */
        movl $0x306000 | 0x7, PT0 + 0x306 * 4
        invlpg 0x306000
        movw $0x04, %ax
        movw %ax, %fs
        movzbl 0x306005, %eax
        REPORT %eax                     /* 0x93: accessed once writable */
        jmp finish
