/* Two-level paging: #PF error codes and CR2, WP, user/supervisor, A/D bits, INVLPG. */
        .include "common.inc"

        .set PD, 0x40000
        .set PT0, 0x41000

test_main:
        /* Identity-map 0-4 MiB as user read/write; then adjust a few test pages. */
        movl $PT0, %edi
        call identity_map
        movl $PT0 | 0x7, PD
        movl $0, PT0 + 0x300 * 4                /* 0x300000: not present */
        movl $0x301000 | 0x5, PT0 + 0x301 * 4   /* 0x301000: read-only */
        movl $0x303000 | 0x3, PT0 + 0x303 * 4   /* 0x303000: supervisor only */
        movl $0x4444, 0x304000
        movl $0x5555, 0x305000
        movl $PD, %eax
        movl %eax, %cr3
        movl %cr0, %eax
        orl $0x80000000, %eax
        movl %eax, %cr0

        /* Accessed and dirty bits. */
        movl PT0 + 0x302 * 4, %eax
        andl $0x60, %eax
        REPORT %eax                     /* 0 */
        movl 0x302000, %eax
        movl PT0 + 0x302 * 4, %eax
        andl $0x60, %eax
        REPORT %eax                     /* 0x20 */
        movl PD, %eax
        andl $0x60, %eax
        REPORT %eax                     /* 0x20: the PDE gets A, never D */
        movl %eax, 0x302004
        movl PT0 + 0x302 * 4, %eax
        andl $0x60, %eax
        REPORT %eax                     /* 0x60 */

        /* Not present: read, write, fetch, and a missing page table. */
        EXPECT_FAULT movl 0x300000, %eax        /* 14, 0, 0x300000 */
        EXPECT_FAULT movl %eax, 0x300008        /* 14, 2, 0x300008 */
        movl $0x300000, %ebx
        EXPECT_FAULT jmp *%ebx                  /* 14, 0, 0x300000 */
        EXPECT_FAULT movl 0x800000, %eax        /* 14, 0, 0x800000 */

        /* Supervisor writes to a read-only page succeed until CR0.WP is set. */
        movl $0x1234, 0x301000
        REPORT 0x301000                 /* 0x1234 */
        movl %cr0, %eax
        orl $0x10000, %eax
        movl %eax, %cr0
        EXPECT_FAULT movl %eax, 0x301004        /* 14, 3, 0x301004 */

        /* User accesses. */
        SETGATE idt+0x80*8, stubs+0x80*16, SEL_CODE0, 0xee
        ON_FAULT 1f
        TO_RING3 ring3_supervisor_page  /* 14, 5, 0x303000 */
1:      ON_FAULT 1f
        TO_RING3 ring3_readonly_page    /* 0x1234, then 14, 7, 0x301000 */
1:
        /* INVLPG drops a stale translation after the PTE changes. */
        REPORT 0x304000                 /* 0x4444 */
        movl $0x305000 | 0x7, PT0 + 0x304 * 4
        invlpg 0x304000
        REPORT 0x304000                 /* 0x5555 */
        jmp finish

ring3_supervisor_page:
        movw $SEL_DATA3, %ax
        movw %ax, %ds
        movl 0x303000, %eax
        REPORT $0xbad1

ring3_readonly_page:
        movw $SEL_DATA3, %ax
        movw %ax, %ds
        REPORT 0x301000
        movl %eax, 0x301000
        REPORT $0xbad2
