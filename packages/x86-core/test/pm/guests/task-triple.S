/* A triple fault raised inside an instruction: JMP to a TSS whose CS is a data segment faults #TS after
 * the switch commits; with an empty IDT that escalates to #GP, #DF and shutdown. */
        .include "common.inc"

        .set TSS_B, 0x23000

test_main:
        movl $TSS_B, %edi
        movl $finish, %eax
        xorl %ecx, %ecx
        movl $0x34000, %edx
        xorl %ebx, %ebx
        call init_tss32
        movw $SEL_DATA0, TSS_B + 0x4c   /* CS: a data segment */
        SETDESC 0x30, TSS_B, 0x67, 0x89, 0
        movw $0, empty_idt
        lidt empty_idt
        REPORT $0x7f
        ljmp $0x30, $0
        REPORT $0xbad1
        jmp finish

empty_idt:
        .fill 6, 1, 0
