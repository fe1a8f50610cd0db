/* The x87 in 64-bit mode (QEMU is the reference): memory operands through REX-extended bases, SIB
 * indexes and RIP-relative displacements, FS/GS-free defaults. The x87 model computes in doubles
 * (fpu/), so the 24 fixed xorshift64 draws are 16-bit integers whose sums, differences, products,
 * quarters, scalings and square roots are exact in both formats: each instruction's 80-bit result
 * and status word in every rounding mode, FCOMI/FUCOMI's EFLAGS, integer and BCD stores with their
 * rounding and overflow; then the environment and FSAVE images, FXSAVE64's x87 part, #MF, #NM,
 * #GP/#SS/#PF for operands, and 64-bit SHLD/SHRD. QEMU has no x87 stack faults: test/fpu has them. */
        .include "common64.inc"

        .set DRAWS, 24

        /* QEMU never sets C1 for a rounded-up result (SDM Vol. 1 8.1.3.1) and its FPREM1 quotient
         * bits differ from this model's on these draws: the status words leave those bits out. */
        .set NO_C1, 0xfdff
        .set NO_CC, 0xb8ff
        .set ALL_SW, 0xffff

        /* Reports the status word of the last instruction & mask. */
        .macro REPORT_SW mask=NO_C1
        fnstsw sw(%rip)
        andl $\mask, sw(%rip)
        REPORT sw(%rip)
        .endm

        /* Reports the status word (no C1) and `dwords` dwords of out_buf. */
        .macro REPORT_OUT dwords
        REPORT_SW
        .set j, 0
        .rept \dwords
        REPORT out_buf+j(%rip)
        .set j, j + 4
        .endr
        .endm

        /* Reports the status word & mask and the 80-bit ST0 (popped). */
        .macro REPORT_ST mask=NO_C1
        REPORT_SW \mask
        fstpt st_buf(%rip)
        REPORT st_buf(%rip)
        REPORT st_buf+4(%rip)
        REPORT st_buf+8(%rip)
        .endm

        /* ST0 = a, ST1 = b (16-bit integers at 0(r13) and 2(r13)); `insn`; reports ST0, empties the stack. */
        .macro BIN mask, insn:vararg
        fnclex
        filds 2(%r13)
        filds (%r13)
        \insn
        REPORT_ST \mask
        fninit_keep
        .endm

        /* ST0 = a; `insn`; reports ST0 (or what the instruction pushed). */
        .macro UN mask, insn:vararg
        fnclex
        filds (%r13)
        \insn
        REPORT_ST \mask
        fninit_keep
        .endm

        /* Empties the register stack, keeping the control word. */
        .macro fninit_keep
        fnstcw cw_keep(%rip)
        fninit
        fldcw cw_keep(%rip)
        .endm

        /* opa = a (R8, also at (R13)), flags from R11; `insn`; reports the flags & mask and opa. */
        .macro SHIFT_MEM mask, insn:vararg
        movq %r8, opa(%rip)
        pushq %r11
        popfq
        \insn
        REPORT_FLAGS \mask
        movq opa(%rip), %r10
        REPORT64 %r10
        .endm

test_main:
        movq %cr0, %rax
        andq $~0xc, %rax                /* EM, TS clear */
        orq $0x22, %rax                 /* MP, NE: unmasked exceptions are #MF */
        movq %rax, %cr0
        fninit
        fnstcw sw(%rip)
        REPORT sw(%rip)
        fnstsw %ax
        REPORT %eax
        leaq opa(%rip), %r13
        movl $DRAWS, %r15d
next_draw:
        RANDOM64 %r8
        movq %r8, opa(%rip)             /* a: opa's low word (m16), b: opa+2, c: opa+4 (b & 63) */
        andl $63, opa+4(%rip)
        movq %r8, %r10
        xorl %r14d, %r14d
next_control:
        leaq control_words(%rip), %rax
        fldcw (%rax, %r14, 1)
        BIN NO_C1, fadd %st(1), %st
        BIN NO_C1, fsub %st(1), %st
        BIN NO_C1, fsubr %st(1), %st
        BIN NO_C1, fmul %st(1), %st
        BIN ALL_SW, fprem
        BIN NO_CC, fprem1
        BIN NO_C1, fxch %st(1)
        BIN NO_C1, fcmovb %st(1), %st
        UN NO_C1, fiadds 2(%r13)
        UN NO_C1, fimull opa+4(%rip)
        UN NO_C1, fmuls quarter(%rip)
        UN NO_C1, fsubs quarter(%rip)
        UN NO_C1, fdivs quarter(%rip)
        UN NO_C1, fildl 4(%r13, %r14, 1)       /* r14 even: c, or c's neighbours in its high word */
        UN NO_C1, fmul %st(0), %st
        UN NO_C1, fabs
        UN NO_C1, fchs
        UN ALL_SW, ftst
        UN ALL_SW, fxam
        UN NO_C1, fld1
        UN NO_C1, fldz
        /* a / 4 rounded to an integer by FRNDINT and by integer stores, in this rounding mode. */
        fnclex
        filds (%r13)
        fmuls quarter(%rip)
        fld %st(0)
        frndint
        REPORT_ST
        leaq out_buf(%rip), %r9
        fnclex
        fists 0(%r9)
        REPORT_OUT 1
        fnclex
        fistl out_buf(%rip)
        REPORT_OUT 1
        fnclex
        fld %st(0)
        fistpll 0(%r9)
        REPORT_OUT 2
        fnclex
        fsts 0(%r9)
        fstl 4(%r9)
        REPORT_OUT 3
        fnclex
        fbstp 0(%r9)
        REPORT_OUT 3
        /* a * 2^c scaled, its 80-bit image stored and loaded back, and too large for FIST m16/m32. */
        fnclex
        fildl opa+4(%rip)
        filds (%r13)
        fscale
        fstpt out_buf(%rip)
        fldt out_buf(%rip)
        fmul %st(0), %st
        fld %st(0)
        fistl out_buf(%rip)
        REPORT_OUT 1
        fnclex
        fists out_buf(%rip)
        REPORT_OUT 1
        REPORT_ST
        fninit_keep
        /* The square root of a square. */
        fnclex
        filds (%r13)
        fmul %st(0), %st
        fsqrt
        REPORT_ST
        fninit_keep
        /* Comparisons: FCOMI/FUCOMI set EFLAGS, FCOM/FUCOM/FICOM the condition codes. */
        fnclex
        fildl 4(%r13)
        filds (%r13)
        /* ZF, PF, CF (QEMU leaves OF, SF and AF as they were; this model clears them). */
        fcomi %st(1), %st
        REPORT_FLAGS 0x45
        fucomi %st(1), %st
        REPORT_FLAGS 0x45
        fcom %st(1)
        REPORT_SW ALL_SW
        fucomp %st(1)
        REPORT_SW ALL_SW
        ficoms 2(%r13)
        REPORT_SW ALL_SW
        fninit_keep
        addl $2, %r14d
        cmpl $8, %r14d
        jb next_control
        decl %r15d
        jnz next_draw

        /* The FSTENV image (control, status, tag words) with three registers in use. */
        fninit
        fld1
        fldz
        fldl opa(%rip)
        fnstenv env_buf(%rip)
        /* The words only: bits 31:16 are reserved (this model writes ones there, QEMU zeros). */
        movzwl env_buf(%rip), %eax
        REPORT %eax
        movzwl env_buf+4(%rip), %eax
        REPORT %eax
        movzwl env_buf+8(%rip), %eax
        REPORT %eax
        /* The 16-bit layout (66): the same words, two bytes apart. */
        data16 fnstenv env_buf(%rip)
        REPORT env_buf(%rip)
        REPORT env_buf+4(%rip)
        /* FNSAVE stores and reinitialises; FRSTOR brings the registers back. */
        fnsave save_buf(%rip)
        fnstsw %ax
        REPORT %eax
        .set i, 0
        .rept 20
        REPORT save_buf+28+i(%rip)
        .set i, i + 4
        .endr
        frstor save_buf(%rip)
        REPORT_ST
        REPORT_ST
        REPORT_ST
        /* FXSAVE64: FCW, FSW, abridged tag, and ST0 of a one-register stack. */
        fninit
        fld1
        fchs
        fxsave64 fx_buf(%rip)
        REPORT fx_buf(%rip)
        movzbl fx_buf+4(%rip), %eax
        REPORT %eax
        REPORT fx_buf+32(%rip)
        REPORT fx_buf+36(%rip)
        REPORT fx_buf+40(%rip)
        /* An unmasked division by zero: ES set, #MF at the next waiting instruction. */
        fninit
        movw $0x37b, sw(%rip)
        fldcw sw(%rip)
        fldz
        fld1
        fdiv %st(1), %st
        fnstsw %ax
        REPORT %eax
        EXPECT_FAULT fwait
        fninit
        /* CR0.TS: #NM; CR0.EM: #NM for the x87 too. */
        movq %cr0, %rax
        orq $8, %rax
        movq %rax, %cr0
        EXPECT_FAULT fld1
        clts
        movq %cr0, %rax
        orq $4, %rax
        movq %rax, %cr0
        EXPECT_FAULT fldl opa(%rip)
        movq %cr0, %rax
        andq $~4, %rax
        movq %rax, %cr0
        /* A non-canonical operand: #GP(0); through RBP: #SS(0). */
        movabsq $0x0000800000000000, %rax
        EXPECT_FAULT fldl (%rax)
        movq %rax, %rbp
        EXPECT_FAULT fldl 8(%rbp)
        /* A store to a not-present page (page 0) faults before the stack changes. */
        fninit
        fld1
        EXPECT_FAULT fstpt 0xffa
        fnstsw %ax
        REPORT %eax

        /* 64-bit SHLD/SHRD: counts by CL and imm8, register and memory destinations. */
        movl $DRAWS, %r15d
next_shift:
        RANDOM_OPERANDS
        OP 0xc5, shldq %cl, %r9, %r10
        OP 0xc5, shrdq %cl, %r9, %r10
        OP 0x8c5, shldq $1, %r9, %r10
        /* RIP-relative with a count in CL (QEMU 7.2 forgets the imm8 in RIP-relative SHLD/SHRD
         * addresses: long-mode.test.ts checks that form). */
        SHIFT_MEM 0xc5, shrdq %cl, %r9, opa(%rip)
        SHIFT_MEM 0x8c5, shrdq $1, %r9, (%r13)
        SHIFT_MEM 0xc5, shldq $63, %r9, (%r13)
        OP 0x8d5, shrdq $64, %r9, %r10   /* a count of 0 after masking: nothing changes */
        decl %r15d
        jnz next_shift
        jmp finish

        .balign 16
seed64:
        .quad 0x2545f4914f6cdd1d
opa:    .quad 0
opb:    .quad 0
        .quad 0
sw:     .long 0
cw_keep: .long 0
        .balign 16
st_buf: .quad 0, 0
out_buf: .quad 0, 0
control_words:
        /* Masked exceptions, 64-bit precision, each rounding mode. */
        .word 0x037f, 0x077f, 0x0b7f, 0x0f7f
quarter: .float 0.25
env_buf: .fill 32, 1, 0
save_buf: .fill 112, 1, 0
        .balign 16
fx_buf: .fill 512, 1, 0
