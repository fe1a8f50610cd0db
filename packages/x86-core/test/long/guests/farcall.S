/* Far transfers in IA-32e mode: far CALL with 16-, 32- and 64-bit operands (what each pushes) and
 * the matching far returns; a 64-bit call gate from ring 3 to ring 0 (RSP from TSS.RSP0, SS loaded
 * null with the new RPL, the four-qword frame) and the far return to the outer level (RSP and SS
 * popped, DS nulled); a far JMP through a gate at the same level; and the gate faults: a 16-bit
 * gate type, a gate whose upper half has a nonzero type, a gate to a 32-bit code segment, a gate
 * not present, a gate DPL below CPL. */
        .include "common64.inc"
        .set SEL_GATE, 0x48             /* 16 bytes each: 0x48, 0x58, 0x68 */
        .set SEL_GATE2, 0x58
        .set SEL_GATE3, 0x68

        /* Writes a 64-bit call gate at GDT offset `sel` to SEL_CODE64:`target` with access byte `access`. */
        .macro SETCALLGATE sel, target, access, code=SEL_CODE64
        movq $\target, %rax
        movw %ax, gdt + \sel
        movw $\code, gdt + \sel + 2
        movb $0, gdt + \sel + 4
        movb $\access, gdt + \sel + 5
        shrq $16, %rax
        movw %ax, gdt + \sel + 6
        shrq $16, %rax
        movl %eax, gdt + \sel + 8
        movl $0, gdt + \sel + 12
        .endm

        /* GNU as has no suffix for these forms: the prefixes by hand (0x66: m16:16; REX.W: m16:64). */
        .macro LCALLW mem
        .byte 0x66
        lcall *\mem
        .endm
        .macro LCALLQ mem
        .byte 0x48
        lcall *\mem
        .endm
        .macro LJMPQ mem
        .byte 0x48
        ljmp *\mem
        .endm

        /* Reports how many bytes the far CALL pushed (R14 held RSP before it). */
        .macro REPORT_PUSHED
        movq %r14, %rax
        subq %rsp, %rax
        REPORT %eax
        .endm

        /* Reports the qwords at the byte offsets `offsets` from register `base` (through R9). */
        .macro REPORT_QWORDS base, offsets:vararg
        .irp off, \offsets
        movq \off(\base), %r9
        REPORT64 %r9
        .endr
        .endm

test_main:
        /* Same-level far CALLs: bytes pushed, the pushed CS and return address, back by a far RET. */
        movq %rsp, %r14
        LCALLW ptr16(%rip)
        REPORT $0x16160000
        lcall *ptr32(%rip)
        REPORT $0x32320000
        LCALLQ ptr64(%rip)
        REPORT $0x64640000

        SETCALLGATE SEL_GATE, gate_target, 0xec
        SETCALLGATE SEL_GATE2, jmp_target, 0x8c
        TO_RING3 user, 0x3202

target16:
        REPORT_PUSHED
        movzwl (%rsp), %eax
        REPORT %eax
        movzwl 2(%rsp), %eax
        REPORT %eax
        lretw
target32:
        REPORT_PUSHED
        movq %rsp, %r8
        REPORT (%r8)
        REPORT 4(%r8)
        lretl
target64:
        REPORT_PUSHED
        movq %rsp, %r8
        REPORT_QWORDS %r8, 0, 8
        lretq

user:
        movq $STACK3_TOP - 0x48, %rsp
        LCALLQ gate_ptr(%rip)
        /* Back at ring 3 from the far return: CS, SS, RSP, DS (nulled: its DPL 0 is below CPL 3). */
        mov %cs, %eax
        REPORT %eax
        mov %ss, %eax
        REPORT %eax
        movq %rsp, %r9
        REPORT64 %r9
        mov %ds, %eax
        REPORT %eax
        /* The same gate from compatibility mode (ring 3, 32-bit code): a 64-bit frame, back by LRETQ. */
        ljmp *compat_ptr(%rip)
back_user64:
        /* A gate of DPL 0 from ring 3: #GP(gate), then on in ring 0 at fault_resume. */
        EXPECT_FAULT LCALLQ gate2_ptr(%rip)

        /* Ring 0: a JMP through a gate at the same level keeps the stack. */
        movq %rsp, %r14
        LJMPQ gate2_ptr(%rip)
jmp_back:
        /* A 16-bit call gate type, a nonzero type in the upper half, a 32-bit target, not present. */
        movb $0x84, gdt + SEL_GATE3 + 5
        EXPECT_FAULT LCALLQ gate3_ptr(%rip)
        SETCALLGATE SEL_GATE3, gate_target, 0x8c
        movb $0x0c, gdt + SEL_GATE3 + 13
        EXPECT_FAULT LCALLQ gate3_ptr(%rip)
        SETCALLGATE SEL_GATE3, gate_target, 0x8c, SEL_CODE32
        EXPECT_FAULT LCALLQ gate3_ptr(%rip)
        SETCALLGATE SEL_GATE3, gate_target, 0x0c
        EXPECT_FAULT LCALLQ gate3_ptr(%rip)
        jmp finish

        .code32
compat_user:
        lcall $SEL_GATE + 3, $0x5678
        movw %cs, %ax
        movzwl %ax, %eax
        OUT_REPORT
        movl %esp, %eax
        OUT_REPORT
        ljmp $SEL_CODE64_3, $back_user64
        .code64

gate_target:
        /* Entered at ring 0 on TSS.RSP0 with SS null (RPL 0): RSP, SS, CS and the frame. */
        movq %rsp, %r8
        REPORT64 %r8
        mov %ss, %eax
        REPORT %eax
        mov %cs, %eax
        REPORT %eax
        REPORT_QWORDS %r8, 0, 8, 16, 24
        lretq

jmp_target:
        REPORT_PUSHED
        mov %cs, %eax
        REPORT %eax
        jmp jmp_back

        .balign 8
ptr16:
        .word target16, SEL_CODE64
ptr32:
        .long target32
        .word SEL_CODE64
ptr64:
        .quad target64
        .word SEL_CODE64
compat_ptr:
        .long compat_user
        .word SEL_CODE32_3
gate_ptr:
        .quad 0x1234                    /* the offset is the gate's */
        .word SEL_GATE + 3
gate2_ptr:
        .quad 0
        .word SEL_GATE2
gate3_ptr:
        .quad 0
        .word SEL_GATE3
