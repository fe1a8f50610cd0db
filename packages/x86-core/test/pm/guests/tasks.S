/* Task switches: JMP, CALL + IRET (NT, back link), task gates in the IDT and GDT, busy bits, a 16-bit
 * TSS, LDT and CR3 loads, and the #TS/#GP checks. */
        .include "common.inc"

        .set TSS_B, 0x23000
        .set TSS_BAD, 0x23100
        .set TSS16, 0x23200
        .set TSS_H, 0x23300
        .set PD_A, 0x40000
        .set PD_B, 0x42000
        .set PT_A, 0x41000
        .set PT_B, 0x43000

        .macro REPORT_STR
        str %ax
        movzwl %ax, %eax
        REPORT %eax
        .endm

        /* Reports LAR's access byte of `sel` (0x89 available TSS, 0x8b busy). */
        .macro REPORT_TSS_TYPE sel
        movl $\sel, %ebx
        lar %ebx, %eax
        shrl $8, %eax
        movzbl %al, %eax
        REPORT %eax
        .endm

        .macro REPORT_NT
        pushfl
        popl %eax
        andl $0x4000, %eax
        REPORT %eax
        .endm

        /* TSS_B starts at `entry` with flat ring-0 segments, LDT 0x48, CR3 `cr3` and ESP 0x34000. */
        .macro INIT_TSS_B entry, cr3=0
        movl $TSS_B, %edi
        movl $\entry, %eax
        movl $\cr3, %ecx
        movl $0x34000, %edx
        movl $0x48, %ebx
        call init_tss32
        .endm

test_main:
        SETDESC 0x30, TSS_B, 0x67, 0x89, 0
        SETDESC 0x38, TSS_BAD, 0x50, 0x89, 0
        SETDESC 0x40, TSS16, 0x2b, 0x81, 0
        SETDESC 0x48, 0x50000, 0xf, 0x82, 0
        movl $0x00000fff, 0x50000       /* LDT entry 0: data at 0x60000 */
        movl $0x00409206, 0x50004
        movl $0x77, 0x60000
        SETGATE gdt+0x50, 0, 0x30, 0x85         /* task gate to TSS_B */
        SETGATE idt+0x40*8, 0, 0x30, 0x85

        /* JMP to a TSS: the old task becomes available, registers come back on return. */
        INIT_TSS_B task_jmp
        movl $0xfeed, %ebp
        ljmp $0x30, $0
        REPORT_STR                      /* 0x28 */
        REPORT_TSS_TYPE 0x30            /* 0x89 */
        REPORT %ebp                     /* 0xfeed */

        /* CALL to a TSS: NT and the back link; IRET returns and frees the called task. */
        INIT_TSS_B task_call
        lcall $0x30, $0
        REPORT_NT                       /* 0 */
        REPORT_TSS_TYPE 0x30            /* 0x89 */

        /* A task gate in the IDT. */
        INIT_TSS_B task_int
        int $0x40
        REPORT_STR                      /* 0x28 */

        /* A task gate in the GDT, reached by JMP: no NT. */
        INIT_TSS_B task_gate_jmp
        ljmp $0x50, $0
        REPORT_STR                      /* 0x28 */

        /* A 16-bit TSS. */
        movw $task16, TSS16 + 0x0e      /* IP */
        movw $0x2, TSS16 + 0x10         /* FLAGS */
        movw $0x4000, TSS16 + 0x1a      /* SP */
        movw $SEL_DATA0, TSS16 + 0x22   /* ES */
        movw $SEL_CODE0, TSS16 + 0x24   /* CS */
        movw $SEL_DATA0, TSS16 + 0x26   /* SS */
        movw $SEL_DATA0, TSS16 + 0x28   /* DS */
        lcall $0x40, $0
        REPORT_STR                      /* 0x28 */
        REPORT_TSS_TYPE 0x40            /* 0x81 */

        /* #TS for a TSS below the minimum limit, #GP for a busy one. */
        EXPECT_FAULT ljmp $0x38, $0     /* 10, 0x38 */
        EXPECT_FAULT ljmp $0x28, $0     /* 13, 0x28 */

        /* IRET with NT to a back link naming an available TSS: #TS(back link). */
        movw $0x30, TSS0
        pushfl
        orl $0x4000, (%esp)
        popfl
        EXPECT_FAULT iret               /* 10, 0x30 */
        pushfl
        andl $~0x4000, (%esp)
        popfl

        /* CR3 comes from the new TSS: TSS_B's directory maps 0x300000 elsewhere. */
        movl $PT_A, %edi
        call identity_map
        movl $PT_B, %edi
        call identity_map
        movl $0x310000 | 0x7, PT_B + 0x300 * 4
        movl $PT_A | 0x7, PD_A
        movl $PT_B | 0x7, PD_B
        movl $0x1111, 0x300000
        movl $0x2222, 0x310000
        movl $PD_A, %eax
        movl %eax, %cr3
        movl %eax, TSS0 + 0x1c
        movl %cr0, %eax
        orl $0x80000000, %eax
        movl %eax, %cr0
        INIT_TSS_B task_cr3, PD_B
        ljmp $0x30, $0
        REPORT 0x300000                 /* 0x1111 */
        movl %cr3, %eax
        REPORT %eax                     /* PD_A */

        /* A fault after the commit point belongs to the new task, whose segment registers are not all
         * loaded yet: #TS goes through a task gate to a handler task. CS from the TSS is data. */
        INIT_TSS_B task_never, PD_A
        movw $SEL_DATA0, TSS_B + 0x4c
        movl $TSS_H, %edi
        movl $ts_task, %eax
        movl $PD_A, %ecx
        movl $0x35000, %edx
        xorl %ebx, %ebx
        call init_tss32
        SETDESC 0x58, TSS_H, 0x67, 0x89, 0
        SETGATE idt+10*8, 0, 0x58, 0x85
        ljmp $0x30, $0
        REPORT $0xbad1

ts_task:
        popl %eax
        REPORT %eax                     /* #TS error code 0x10 */
        REPORT_STR                      /* 0x58 */
        movzwl TSS_H, %eax
        REPORT %eax                     /* back link 0x30 */
        jmp finish

task_jmp:
        REPORT_STR                      /* 0x30 */
        sldt %ax
        movzwl %ax, %eax
        REPORT %eax                     /* 0x48 */
        REPORT_TSS_TYPE 0x28            /* 0x89 */
        REPORT_TSS_TYPE 0x30            /* 0x8b */
        REPORT_NT                       /* 0 */
        movw $0x04, %ax
        movw %ax, %fs
        REPORT %fs:0                    /* 0x77: through the task's LDT */
        ljmp $0x28, $0

task_call:
        REPORT_NT                       /* 0x4000 */
        movzwl TSS_B, %eax
        REPORT %eax                     /* back link 0x28 */
        REPORT_TSS_TYPE 0x28            /* 0x8b: the caller stays busy */
        iret

task_int:
        REPORT_NT                       /* 0x4000 */
        movzwl TSS_B, %eax
        REPORT %eax                     /* 0x28 */
        iret

task_gate_jmp:
        REPORT_NT                       /* 0 */
        REPORT_STR                      /* 0x30 */
        ljmp $0x28, $0

task16:
        REPORT_STR                      /* 0x40 */
        REPORT_TSS_TYPE 0x28            /* 0x8b */
        iret

task_cr3:
        REPORT 0x300000                 /* 0x2222 */
        movl %cr3, %eax
        REPORT %eax                     /* PD_B */
        ljmp $0x28, $0

task_never:
        REPORT $0xbad2
