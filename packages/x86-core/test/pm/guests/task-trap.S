/* The TSS T bit: a #DB trap (DR6.BT) in the new task before its first instruction. */
        .include "common.inc"

        .set TSS_B, 0x23000

test_main:
        movl $TSS_B, %edi
        movl $task_trap, %eax
        xorl %ecx, %ecx
        movl $0x34000, %edx
        xorl %ebx, %ebx
        call init_tss32
        movw $1, TSS_B + 0x64
        SETDESC 0x30, TSS_B, 0x67, 0x89, 0
        movl $db_handler, handler_table + 1 * 4
        ljmp $0x30, $0
        str %ax
        movzwl %ax, %eax
        REPORT %eax                     /* 0x28 */
        jmp finish

db_handler:
        movl %dr6, %eax
        andl $0x8000, %eax
        REPORT %eax                     /* 0x8000 */
        xorl %eax, %eax
        cmpl $task_trap, FRAME
        sete %al
        REPORT %eax                     /* 1: EIP is the task's first instruction */
        popal
        addl $4, %esp
        iret

task_trap:
        str %ax
        movzwl %ax, %eax
        REPORT %eax                     /* 0x30 */
        ljmp $0x28, $0
