/* Checks QEMU's TCG does not make (so this guest is not compared against it): a null data segment
 * used, an access beyond the SS limit, a reserved CR4 bit, PG without PE, NW without CD, LTR of a null
 * selector. */
        .include "common.inc"

test_main:
        SETDESC 0x48, 0, 0x20fff, 0x92, 0x4     /* data, byte-granular limit 0x20fff */

        xorl %eax, %eax
        movw %ax, %ds                   /* a null selector loads fine ... */
        movl $9f, %ss:fault_resume
        movl (%eax), %eax               /* ... and faults on use: 13, 0 */
9:      movw $SEL_DATA0, %ax
        movw %ax, %ds

        movw $0x48, %ax
        movw %ax, %ss
        movl $0x20000, %esp
        EXPECT_FAULT movl 0x1000(%esp), %eax    /* beyond the SS limit: 12, 0 */

        movl %cr4, %eax
        orl $0x2000, %eax
        EXPECT_FAULT movl %eax, %cr4    /* reserved CR4 bit: 13, 0 */
        movl %cr0, %eax
        andl $0xfffffffe, %eax
        orl $0x80000000, %eax
        EXPECT_FAULT movl %eax, %cr0    /* PG without PE: 13, 0 */
        movl %cr0, %eax
        andl $0xbfffffff, %eax
        orl $0x20000000, %eax
        EXPECT_FAULT movl %eax, %cr0    /* NW without CD: 13, 0 */
        xorw %ax, %ax
        EXPECT_FAULT ltr %ax            /* 13, 0 */
        jmp finish
