/* A page fault while delivering a page fault is a double fault (here through a task gate). */
        .include "common.inc"

        .set PD, 0x40000
        .set PT0, 0x41000
        .set TSS_DF, 0x23000
        .set BAD_STACK_TOP, 0x50000     /* its page 0x4f000 is not present */

test_main:
        movl $PT0, %edi
        call identity_map
        movl $PT0 | 0x7, PD
        movl $0, PT0 + 0x4f * 4
        movl $PD, %eax
        movl %eax, %cr3
        movl %cr0, %eax
        orl $0x80000000, %eax
        movl %eax, %cr0

        movl $TSS_DF, %edi
        movl $df_task, %eax
        movl $PD, %ecx
        movl $0x35000, %edx
        xorl %ebx, %ebx
        call init_tss32
        SETDESC 0x30, TSS_DF, 0x67, 0x89, 0
        SETGATE idt+8*8, 0, 0x30, 0x85
        SETGATE idt+0x80*8, stubs+0x80*16, SEL_CODE0, 0xee
        movl $BAD_STACK_TOP, TSS0 + 4
        TO_RING3 ring3_int80

ring3_int80:
        int $0x80                       /* #PF pushing on the ring-0 stack, again delivering it: #DF */
        REPORT $0xbad1

df_task:
        popl %eax
        REPORT %eax                     /* 0 */
        movl %cr2, %eax
        REPORT %eax                     /* 0x4fffc */
        movzwl TSS0 + 0x4c, %eax
        REPORT %eax                     /* the interrupted task's CS: 0x1b */
        jmp finish
