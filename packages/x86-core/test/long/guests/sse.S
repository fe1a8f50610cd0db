/* SSE/SSE2 against QEMU: scalar and packed single and double arithmetic, compares, COMIS/UCOMIS and
 * conversions on xorshift64 operands in all four rounding modes, each with and without FTZ+DAZ (all
 * exceptions masked: QEMU's TCG raises no #XM), reporting every result and the MXCSR flags but DE
 * (QEMU 7.2 never sets DE); then the SSE2 integer set, shuffles and moves, FXSAVE/FXRSTOR and the
 * faults (#GP for misalignment, #UD without CR4.OSFXSR or with CR0.EM, #NM with CR0.TS), and a
 * compatibility-mode section for the 32-bit decoder. QEMU 7.2
 * loads reserved MXCSR bits without #GP and has MMX: those cases are in sse.test.ts instead. */
        .include "common64.inc"

        .set DRAWS, 32
        .set INT_DRAWS, 24
        .set FLAGMASK, 0x3d

        /* MXCSR flags of the last operation (DE left out). */
        .macro FLAGS
        stmxcsr tmp(%rip)
        movl tmp(%rip), %eax
        andl $FLAGMASK, %eax
        REPORT %eax
        .endm

        /* Reports the four dwords of an XMM register. */
        .macro DUMP reg
        movdqu \reg, out(%rip)
        REPORT out(%rip)
        REPORT out+4(%rip)
        REPORT out+8(%rip)
        REPORT out+12(%rip)
        .endm

        /* xmm0 = va, xmm1 = vb by `load`, `insn` under the configuration, then `report` and the flags. */
        .macro OPERATE load, report, insn:vararg
        \load va(%rip), %xmm0
        \load vb(%rip), %xmm1
        ldmxcsr cfg(%rip)
        \insn
        \report
        FLAGS
        .endm

        .macro SINGLE_RESULT
        movd %xmm0, %eax
        REPORT %eax
        .endm

        .macro DOUBLE_RESULT
        movq %xmm0, %rax
        REPORT64 %rax
        .endm

        .macro XMM0_RESULT
        DUMP %xmm0
        .endm

        /* Scalar single (lane 0), scalar double (qword 0), packed. */
        .macro SS insn:vararg
        OPERATE movss, SINGLE_RESULT, \insn
        .endm

        .macro SD insn:vararg
        OPERATE movsd, DOUBLE_RESULT, \insn
        .endm

        .macro PACKED insn:vararg
        OPERATE movaps, XMM0_RESULT, \insn
        .endm

        /* A conversion to a general register: rax cleared first, reported whole. */
        .macro TO_GPR insn:vararg
        movq $-1, %rax
        ldmxcsr cfg(%rip)
        \insn
        REPORT64 %rax
        FLAGS
        .endm

        /* COMIS/UCOMIS: EFLAGS (all six arithmetic flags) and MXCSR flags. */
        .macro ORDER insn:vararg
        movsd va(%rip), %xmm0
        ldmxcsr cfg(%rip)
        pushq $0x8d5
        popfq
        \insn
        REPORT_FLAGS 0x8d5
        FLAGS
        .endm

        .macro INT insn:vararg
        movdqa va(%rip), %xmm0
        movdqa vb(%rip), %xmm1
        \insn
        DUMP %xmm0
        .endm

        /* va, vb: four random dwords each; on odd draws b's exponents follow a's (cancellation, exact
         * cases); b's lanes are kept off NaN where a's lane is a NaN or an infinity (QEMU picks
         * between two NaNs by the x87 rule, not SSE's first-operand rule). */
        .macro DRAW_OPERANDS
        RANDOM64 %r8
        movq %r8, va(%rip)
        RANDOM64 %r8
        movq %r8, va+8(%rip)
        RANDOM64 %r8
        movq %r8, vb(%rip)
        RANDOM64 %r8
        movq %r8, vb+8(%rip)
        /* Draws 2 mod 4: lanes replaced by single specials, 3 mod 4: by double specials, each
         * lane with probability 3/4 (the byte of r8 picks it). */
        movl %r15d, %eax
        andl $3, %eax
        cmpl $2, %eax
        jb 2f
        xorl %ecx, %ecx
8:      RANDOM64 %r8
        testb $0xc0, %r8b
        jz 9f
        movzbl %r8b, %eax
        andl $31, %eax
        movl %r15d, %edx
        andl $3, %edx
        cmpl $2, %edx
        jne 10f
        movl specials32(,%rax,4), %edx
        movl %edx, va(,%rcx,4)
        jmp 9f
10:     cmpl $4, %ecx
        jae 9f
        movq specials64(,%rax,8), %rdx
        movq %rdx, va(,%rcx,8)
9:      incl %ecx
        cmpl $8, %ecx
        jb 8b
2:      testb $1, %r15b
        jz 3f
        xorl %ecx, %ecx
1:      movl va(,%rcx,4), %eax
        andl $0x7f800000, %eax
        andl $0x807fffff, vb(,%rcx,4)
        orl %eax, vb(,%rcx,4)
        incl %ecx
        cmpl $4, %ecx
        jb 1b
3:      xorl %ecx, %ecx
4:      movl va(,%rcx,4), %eax
        andl $0x7f800000, %eax
        cmpl $0x7f800000, %eax
        jne 5f
        andl $0xbfffffff, vb(,%rcx,4)
5:      incl %ecx
        cmpl $4, %ecx
        jb 4b
        xorl %ecx, %ecx
6:      movq va(,%rcx,8), %rax
        shrq $52, %rax
        andl $0x7ff, %eax
        cmpl $0x7ff, %eax
        jne 7f
        btrq $62, vb(,%rcx,8)
7:      incl %ecx
        cmpl $2, %ecx
        jb 6b
        .endm

test_main:
        movq %cr4, %rax
        orq $0x600, %rax                        /* OSFXSR, OSXMMEXCPT */
        movq %rax, %cr4
        call faults
        xorl %r12d, %r12d
next_config:
        leaq configs(%rip), %rax
        movl (%rax, %r12, 4), %eax
        movl %eax, cfg(%rip)
        movl $DRAWS, %r15d
next_draw:
        DRAW_OPERANDS
        SS addss vb(%rip), %xmm0
        SS subss %xmm1, %xmm0
        SS mulss vb(%rip), %xmm0
        SS divss %xmm1, %xmm0
        SS sqrtss vb(%rip), %xmm0
        SS cmpeqss vb(%rip), %xmm0
        SS cmpltss %xmm1, %xmm0
        SS cmpless vb(%rip), %xmm0
        SS cmpunordss %xmm1, %xmm0
        SS cmpneqss vb(%rip), %xmm0
        SS cmpnltss %xmm1, %xmm0
        SS cmpnless vb(%rip), %xmm0
        SS cmpordss %xmm1, %xmm0
        SS cvtsd2ss vb(%rip), %xmm0
        SS cvtsi2ssl vb(%rip), %xmm0
        SS cvtsi2ssq vb(%rip), %xmm0
        SD addsd %xmm1, %xmm0
        SD subsd vb(%rip), %xmm0
        SD mulsd %xmm1, %xmm0
        SD divsd vb(%rip), %xmm0
        SD sqrtsd %xmm1, %xmm0
        SD cmpltsd vb(%rip), %xmm0
        SD cmpunordsd %xmm1, %xmm0
        SD cmpnlesd vb(%rip), %xmm0
        SD cvtss2sd vb(%rip), %xmm0
        SD cvtsi2sdl vb(%rip), %xmm0
        SD cvtsi2sdq %r8, %xmm0
        TO_GPR cvtss2si va(%rip), %eax
        TO_GPR cvttss2si va(%rip), %eax
        TO_GPR cvtss2si va(%rip), %rax
        TO_GPR cvttss2si vb(%rip), %rax
        TO_GPR cvtsd2si va(%rip), %eax
        TO_GPR cvttsd2si vb(%rip), %eax
        TO_GPR cvtsd2si vb(%rip), %rax
        TO_GPR cvttsd2si va(%rip), %rax
        ORDER comiss vb(%rip), %xmm0
        ORDER ucomiss vb(%rip), %xmm0
        ORDER comisd vb(%rip), %xmm0
        ORDER ucomisd vb(%rip), %xmm0
        testl $0x40, cfg(%rip)                  /* MIN/MAX: not under DAZ (QEMU returns the unflushed operand) */
        jnz 1f
        SS minss vb(%rip), %xmm0
        SS maxss %xmm1, %xmm0
        SD minsd %xmm1, %xmm0
        SD maxsd vb(%rip), %xmm0
        PACKED minps vb(%rip), %xmm0
        PACKED maxpd %xmm1, %xmm0
1:      PACKED addps vb(%rip), %xmm0
        PACKED subps %xmm1, %xmm0
        PACKED mulps vb(%rip), %xmm0
        PACKED divps %xmm1, %xmm0
        PACKED sqrtps vb(%rip), %xmm0
        PACKED cmpleps %xmm1, %xmm0
        PACKED cmpneqps vb(%rip), %xmm0
        PACKED cvtps2dq vb(%rip), %xmm0
        PACKED cvttps2dq %xmm1, %xmm0
        PACKED cvtdq2ps vb(%rip), %xmm0
        PACKED cvtps2pd %xmm1, %xmm0
        PACKED cvtpd2ps vb(%rip), %xmm0
        PACKED addpd %xmm1, %xmm0
        PACKED subpd vb(%rip), %xmm0
        PACKED mulpd %xmm1, %xmm0
        PACKED divpd vb(%rip), %xmm0
        PACKED sqrtpd %xmm1, %xmm0
        PACKED cmpunordpd vb(%rip), %xmm0
        PACKED cvtpd2dq %xmm1, %xmm0
        PACKED cvttpd2dq vb(%rip), %xmm0
        PACKED cvtdq2pd %xmm1, %xmm0
        decl %r15d
        jnz next_draw
        incl %r12d
        cmpl $8, %r12d
        jb next_config
        ldmxcsr mxcsr_default(%rip)
        movl $INT_DRAWS, %r15d
next_int_draw:
        DRAW_OPERANDS
        call integers
        decl %r15d
        jnz next_int_draw
        /* Compatibility mode: the 32-bit decoder on the last operands. */
        pushq $SEL_CODE32
        pushq $compat32
        lretq

integers:
        INT paddb %xmm1, %xmm0
        INT paddw vb(%rip), %xmm0
        INT paddd %xmm1, %xmm0
        INT paddq vb(%rip), %xmm0
        INT psubb %xmm1, %xmm0
        INT psubw vb(%rip), %xmm0
        INT psubd %xmm1, %xmm0
        INT psubq vb(%rip), %xmm0
        INT paddsb %xmm1, %xmm0
        INT paddsw vb(%rip), %xmm0
        INT paddusb %xmm1, %xmm0
        INT paddusw vb(%rip), %xmm0
        INT psubsb %xmm1, %xmm0
        INT psubsw vb(%rip), %xmm0
        INT psubusb %xmm1, %xmm0
        INT psubusw vb(%rip), %xmm0
        INT pmullw %xmm1, %xmm0
        INT pmulhw vb(%rip), %xmm0
        INT pmulhuw %xmm1, %xmm0
        INT pmuludq vb(%rip), %xmm0
        INT pmaddwd %xmm1, %xmm0
        INT pand vb(%rip), %xmm0
        INT pandn %xmm1, %xmm0
        INT por vb(%rip), %xmm0
        INT pxor %xmm1, %xmm0
        INT pcmpeqb vb(%rip), %xmm0
        INT pcmpeqw %xmm1, %xmm0
        INT pcmpeqd vb(%rip), %xmm0
        INT pcmpgtb %xmm1, %xmm0
        INT pcmpgtw vb(%rip), %xmm0
        INT pcmpgtd %xmm1, %xmm0
        INT pavgb vb(%rip), %xmm0
        INT pavgw %xmm1, %xmm0
        INT pminub vb(%rip), %xmm0
        INT pmaxub %xmm1, %xmm0
        INT pminsw vb(%rip), %xmm0
        INT pmaxsw %xmm1, %xmm0
        INT psadbw vb(%rip), %xmm0
        INT packsswb %xmm1, %xmm0
        INT packssdw vb(%rip), %xmm0
        INT packuswb %xmm1, %xmm0
        INT punpcklbw vb(%rip), %xmm0
        INT punpckhbw %xmm1, %xmm0
        INT punpcklwd vb(%rip), %xmm0
        INT punpckhwd %xmm1, %xmm0
        INT punpckldq vb(%rip), %xmm0
        INT punpckhdq %xmm1, %xmm0
        INT punpcklqdq vb(%rip), %xmm0
        INT punpckhqdq %xmm1, %xmm0
        INT unpcklps %xmm1, %xmm0
        INT unpckhps vb(%rip), %xmm0
        INT unpcklpd %xmm1, %xmm0
        INT unpckhpd vb(%rip), %xmm0
        INT shufps $0x1b, vb(%rip), %xmm0
        INT shufps $0xe4, %xmm1, %xmm0
        INT shufpd $1, %xmm1, %xmm0
        INT shufpd $2, vb(%rip), %xmm0
        INT pshufd $0x93, vb(%rip), %xmm0
        INT pshufhw $0x1b, %xmm1, %xmm0
        INT pshuflw $0x72, vb(%rip), %xmm0
        INT andps vb(%rip), %xmm0
        INT andnpd %xmm1, %xmm0
        INT orps vb(%rip), %xmm0
        INT xorpd %xmm1, %xmm0
        INT movhlps %xmm1, %xmm0
        INT movlhps %xmm1, %xmm0
        INT movlps vb(%rip), %xmm0
        INT movhpd vb+8(%rip), %xmm0
        INT movss %xmm1, %xmm0
        INT movsd vb(%rip), %xmm0
        INT movq %xmm1, %xmm0
        INT pinsrw $5, vb(%rip), %xmm0
        INT pinsrw $2, %r8d, %xmm0
        /* Shift counts: the low byte of b, 0-127, through every boundary. */
        movzbl vb(%rip), %eax
        andl $0x7f, %eax
        movq %rax, %xmm1
        movdqa va(%rip), %xmm0
        psllw %xmm1, %xmm0
        DUMP %xmm0
        movdqa va(%rip), %xmm0
        psrld %xmm1, %xmm0
        DUMP %xmm0
        movdqa va(%rip), %xmm0
        psrlq %xmm1, %xmm0
        DUMP %xmm0
        movdqa va(%rip), %xmm0
        psraw %xmm1, %xmm0
        DUMP %xmm0
        movdqa va(%rip), %xmm0
        psrad %xmm1, %xmm0
        DUMP %xmm0
        movdqa va(%rip), %xmm0
        psllq %xmm1, %xmm0
        DUMP %xmm0
        INT psllw $3, %xmm0
        INT psrlw $15, %xmm0
        INT psraw $9, %xmm0
        INT pslld $31, %xmm0
        INT psrld $17, %xmm0
        INT psrad $40, %xmm0
        INT psllq $33, %xmm0
        INT psrlq $1, %xmm0
        INT pslldq $5, %xmm0
        INT psrldq $11, %xmm0
        INT psrldq $17, %xmm0
        /* REX: XMM8-15 and R8-R15. */
        movdqa va(%rip), %xmm9
        movdqa vb(%rip), %xmm14
        paddd %xmm14, %xmm9
        pshufd $0x4e, %xmm9, %xmm12
        pxor %xmm12, %xmm9
        DUMP %xmm9
        movq %xmm14, %r11
        REPORT64 %r11
        movd %xmm12, %r10d
        REPORT64 %r10
        pmovmskb %xmm9, %r13d
        REPORT %r13d
        movmskps %xmm14, %eax
        REPORT %eax
        movmskpd %xmm9, %eax
        REPORT %eax
        pextrw $7, %xmm14, %eax
        REPORT %eax
        pextrw $3, %xmm9, %r9d
        REPORT64 %r9
        movq va(%rip), %xmm15
        DUMP %xmm15
        movhps %xmm15, vb+8(%rip)
        REPORT vb+12(%rip)
        ret

        /* Reports the four dwords of an XMM register and the MXCSR flags from 32-bit code. */
        .macro DUMP32 reg
        movdqu \reg, out
        .irp offset, 0, 4, 8, 12
        movl out + \offset, %eax
        OUT_REPORT
        .endr
        stmxcsr mxcsr_scratch
        movl mxcsr_scratch, %eax
        andl $FLAGMASK, %eax
        OUT_REPORT
        .endm

        .code32
compat32:
        movl $0x5f80, mxcsr_scratch             /* round up */
        ldmxcsr mxcsr_scratch
        movaps va, %xmm0
        addps vb, %xmm0
        DUMP32 %xmm0
        movapd va, %xmm1
        mulpd vb, %xmm1
        DUMP32 %xmm1
        movss va, %xmm2
        divss vb + 4, %xmm2
        DUMP32 %xmm2
        cvtps2pd va + 8, %xmm3
        DUMP32 %xmm3
        movl $vb, %ebx
        movl $2, %ecx
        sqrtsd (%ebx, %ecx, 4), %xmm4
        DUMP32 %xmm4
        cvtsd2si va, %eax
        OUT_REPORT
        pshufd $0x39, va, %xmm5
        paddw vb, %xmm5
        psrlq $7, %xmm5
        DUMP32 %xmm5
        movmskps %xmm5, %eax
        OUT_REPORT
        pushl $0x8d5
        popfl
        comisd vb, %xmm1
        pushfl
        popl %eax
        andl $0x8d5, %eax
        OUT_REPORT
        movw $0x1234, %ax
        pinsrw $6, %eax, %xmm5
        pextrw $6, %xmm5, %eax
        OUT_REPORT
        addr16 movups 0x2000, %xmm6         /* 16-bit addressing */
        DUMP32 %xmm6
        fxsave image
        .irp offset, 24, 28, 160, 252, 288
        movl image + \offset, %eax
        OUT_REPORT
        .endr
        ljmpl $SEL_CODE64, $back64
        .code64
back64:
        jmp finish

/* The faults and the image, once (registers not kept across a fault). */
faults:
        movq (%rsp), %rax
        movq %rax, faults_return(%rip)
        EXPECT_FAULT movaps va+8(%rip), %xmm0
        EXPECT_FAULT movdqa %xmm0, va+4(%rip)
        EXPECT_FAULT addps va+8(%rip), %xmm0
        movups va+8(%rip), %xmm0                /* unaligned forms do not fault */
        addss va+4(%rip), %xmm0
        REPORT $0x600d0001
        movl $0x1fbf, tmp(%rip)                 /* DAZ and every flag: legal */
        ldmxcsr tmp(%rip)
        stmxcsr tmp(%rip)
        REPORT tmp(%rip)
        ldmxcsr mxcsr_default(%rip)
        /* FXSAVE keeps MXCSR, MXCSR_MASK and the XMM registers; FXRSTOR puts them back. */
        movq $0x0123456789abcdef, %rax
        movq %rax, %xmm3
        pshufd $0x44, %xmm3, %xmm3
        movq $0x55aa, %rax
        movq %rax, %xmm11
        fxsaveq image(%rip)
        REPORT image+24(%rip)
        REPORT image+160+3*16(%rip)
        REPORT image+160+3*16+12(%rip)
        REPORT image+160+11*16(%rip)
        movl $0xfeedface, image+160+3*16+4(%rip)
        movl $0x3f80, image+24(%rip)
        pxor %xmm3, %xmm3
        fxrstorq image(%rip)
        DUMP %xmm3
        stmxcsr tmp(%rip)
        REPORT tmp(%rip)
        ldmxcsr mxcsr_default(%rip)
        EXPECT_FAULT fxsaveq image+8(%rip)
        /* No CR4.OSFXSR: #UD; CR0.TS: #NM; CR0.EM: #UD. */
        movq %cr4, %rax
        andq $~0x200, %rax
        movq %rax, %cr4
        EXPECT_FAULT addps %xmm1, %xmm0
        EXPECT_FAULT ldmxcsr mxcsr_default(%rip)
        movq %cr4, %rax
        orq $0x200, %rax
        movq %rax, %cr4
        movq %cr0, %rax
        orq $8, %rax
        movq %rax, %cr0
        EXPECT_FAULT movaps %xmm1, %xmm0
        EXPECT_FAULT fxsaveq image(%rip)
        clts
        movq %cr0, %rax
        orq $4, %rax
        movq %rax, %cr0
        EXPECT_FAULT pxor %xmm1, %xmm0
        movq %cr0, %rax
        andq $~4, %rax
        movq %rax, %cr0
        /* LOCK is #UD. */
        EXPECT_FAULT .byte 0xf0, 0x0f, 0x58, 0xc1
        movq faults_return(%rip), %rax
        movq $STACK0_TOP - 8, %rsp
        jmp *%rax

        .balign 16
va:     .fill 16, 1, 0x11
vb:     .fill 16, 1, 0x22
out:    .fill 16, 1, 0
image:  .fill 512, 1, 0
        .balign 8
        /* Operands that random bits almost never give: zeros, infinities, NaNs, the extremes of each
         * binade range, denormals, values whose quotients and roots round. */
specials32:
        .long 0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0xff812345
        .long 0x7f7fffff, 0xff7fffff, 0x00800000, 0x80800000, 0x00000001, 0x807fffff, 0x00400000, 0x3f800000
        .long 0xbf800000, 0x40400000, 0x3f000000, 0x4f000000, 0xcf000000, 0x5f000000, 0xdf000000, 0x3effffff
        .long 0x4b000001, 0x00c00000, 0x7effffff, 0x3fffffff, 0x34000000, 0x40000000, 0x4effffff, 0xcf000001
specials64:
        .quad 0x0000000000000000, 0x8000000000000000, 0x7ff0000000000000, 0xfff0000000000000
        .quad 0x7ff8000000000000, 0xfff8000000000001, 0x7ff0000000000001, 0xfff4000000000000
        .quad 0x7fefffffffffffff, 0xffefffffffffffff, 0x0010000000000000, 0x8010000000000000
        .quad 0x0000000000000001, 0x800fffffffffffff, 0x0008000000000000, 0x3ff0000000000000
        .quad 0xbff0000000000000, 0x4008000000000000, 0x3fe0000000000000, 0x41e0000000000000
        .quad 0xc1e0000000000000, 0x43e0000000000000, 0xc3e0000000000000, 0x41dfffffffffffff
        .quad 0x47efffffe0000000, 0x47efffffefffffff, 0x36a0000000000000, 0x3810000000000000
        .quad 0x380fffffffffffff, 0x3fffffffffffffff, 0xc1e0000000200000, 0x41e00000001fffff
seed64: .quad 0x2545f4914f6cdd1d
faults_return: .quad 0
configs:
        .long 0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0, 0xbfc0, 0xdfc0, 0xffc0
mxcsr_default: .long 0x1f80
cfg:    .long 0x1f80
mxcsr_scratch: .long 0
tmp:    .long 0
