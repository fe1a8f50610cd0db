/* Faults while delivering faults: serial delivery (benign then contributory), #DF through a task gate,
 * and a triple fault (shutdown). */
        .include "common.inc"

        .set TSS_DF, 0x23000

test_main:
        /* #UD through a not-present gate: #NP(6 * 8 + IDT + EXT) is delivered instead. */
        movb $0x0e, idt + 6 * 8 + 5
        ON_FAULT 1f
        ud2                             /* 11, 0x33 */
        REPORT $0xbad1
1:
        /* #DF runs in its own task; #GP through a not-present gate raises #NP, a second contributory
         * exception. */
        movl $TSS_DF, %edi
        movl $df_task, %eax
        xorl %ecx, %ecx
        movl $0x35000, %edx
        xorl %ebx, %ebx
        call init_tss32
        SETDESC 0x30, TSS_DF, 0x67, 0x89, 0
        SETGATE idt+8*8, 0, 0x30, 0x85
        movb $0x0e, idt + 13 * 8 + 5
        movw $0x100, %ax
        movw %ax, %ds                   /* #GP(0x100) -> #NP(0x6b) -> #DF */
        REPORT $0xbad2
        jmp finish

df_task:
        popl %eax
        REPORT %eax                     /* #DF error code 0 */
        str %ax
        movzwl %ax, %eax
        REPORT %eax                     /* 0x30 */
        pushfl
        popl %eax
        andl $0x4000, %eax
        REPORT %eax                     /* NT 0x4000 */
        movzwl TSS_DF, %eax
        REPORT %eax                     /* back link 0x28 */
        /* An empty IDT: #UD -> #GP -> #DF -> shutdown. */
        movw $0, empty_idt
        lidt empty_idt
        REPORT $0x7f
        ud2
        REPORT $0xbad3
        jmp finish

empty_idt:
        .fill 6, 1, 0
