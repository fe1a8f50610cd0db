/* A SYSCALL/SYSRET round trip from 64-bit ring 3, the MSRs behind them (STAR,
 * LSTAR, CSTAR, FMASK), SWAPGS with GS_BASE/KERNEL_GS_BASE, FS-relative addressing through FS_BASE
 * above 4 GiB, and #GP for SYSRET at CPL 3 and SWAPGS at CPL 3. */
        .include "common64.inc"

        .macro WRMSR64 msr, value
        movl $\msr, %ecx
        movabsq $\value, %rax
        movq %rax, %rdx
        shrq $32, %rdx
        wrmsr
        .endm

test_main:
        WRMSR64 0xc0000081, 0x0020001000000000  /* STAR: SYSCALL CS 0x10, SYSRET base 0x20 */
        WRMSR64 0xc0000082, syscall64
        WRMSR64 0xc0000084, 0x00000000000000d5  /* FMASK: CF PF AF ZF SF... */
        WRMSR64 0xc0000101, 0x0000000000002000  /* GS_BASE */
        WRMSR64 0xc0000102, 0x0000000000003000  /* KERNEL_GS_BASE */
        movl $0xc0000081, %ecx
        rdmsr
        REPORT %eax
        REPORT %edx
        /* FS base above 4 GiB through the 1 GiB alias at 1-2 GiB, relative to it. */
        movl $0x83, PDPT_LOW + 8
        WRMSR64 0xc0000100, 0x40000000
        movq $0x99887766, %rax
        movq %rax, 0x56000
        movq %fs:0x56000, %rbx
        REPORT64 %rbx
        movq $0x5566, 0x2008
        movq $0x7788, 0x3008
        movq %gs:8, %rax
        REPORT64 %rax
        swapgs
        movq %gs:8, %rax
        REPORT64 %rax
        swapgs
        movq $int_return, handler_table + 0x80 * 8
        SETGATE64 0x80, (stubs+0x80*16), 0xee
        TO_RING3 user64, 0x32d7            /* IOPL 3: ring 3 reports too */
user64:
        movq $0x1234, %rax
        movq $-1, %r11
        stc
        syscall
after_syscall:
        REPORT $0x33330000
        mov %cs, %ebx
        REPORT %ebx
        mov %ss, %ebx
        REPORT %ebx
        REPORT64 %rax
        REPORT64 %rcx
        REPORT_FLAGS 0x8d5
        /* SYSRET and SWAPGS at CPL 3: #GP(0), delivered to ring 0 (reported, then back here). */
        movq $user64b, resume3(%rip)
        movq $ring3_gp, handler_table + 13 * 8
        sysretq
user64b:
        movq $user64c, resume3(%rip)
        swapgs
user64c:
        movq $0, handler_table + 13 * 8
        /* Back to ring 0 through a DPL-3 interrupt gate. */
        int $0x80
        REPORT $0xbad3

syscall64:
        REPORT $0x5c000000
        mov %cs, %ebx
        REPORT %ebx
        mov %ss, %ebx
        REPORT %ebx
        REPORT64 %rcx
        movq $after_syscall, %rdx
        cmpq %rdx, %rcx
        REPORT_FLAGS 0x40
        REPORT64 %r11
        REPORT_FLAGS 0x8d5
        swapgs
        movq %gs:8, %rdx
        REPORT64 %rdx
        swapgs
        addq $1, %rax
        sysretq

ring3_gp:
        movq resume3(%rip), %rax
        movq %rax, (%rsp)
        iretq

int_return:
        jmp finish

        .balign 8
resume3:
        .quad 0
