/* Random virtual-8086 rounds (a fixed xorshift32 sequence): IRET into v86 mode with random IOPL and
 * flags, run one IOPL-sensitive or interrupting instruction (CLI STI PUSHF POPF PUSHFD POPFD INT n INT3
 * INTO IRET IRETD IN OUT), then HLT, whose #GP(0) shows the flags the instruction left. INT 0x30-0x33
 * go through random gates (type, DPL, target ring, presence); port 0x44 is randomly allowed in the I/O
 * bitmap. Every exit to ring 0 reports its vector, error code, v86 IP (relative to the operation, so
 * both builds of the guest agree) and masked EFLAGS. Compared
 * against QEMU. */
        .include "common.inc"

        .set ROUNDS, 800
        .set V86_CS, LOAD >> 4
        .set FLAGS_SHOWN, 0x27ed5       /* VM NT IOPL OF DF IF SF ZF AF PF CF */

test_main:
        SETDESC 0x38, 0, 0xfffff, 0x9e, 0xc     /* conforming code, DPL 0 */
        movl $ROUNDS, round

next_round:
        call randomize_gates
        ON_FAULT exited
        /* The values POPF/IRET (BX) and POPFD/IRETD (ECX) pop; never TF, so no single-step traps. */
        RANDOM
        movl %eax, %ebx
        andl $~0x100, %ebx
        RANDOM
        movl %eax, %ecx
        andl $~0x100, %ecx
        RANDOM
        xorl %edx, %edx
        movl %eax, %esi
        andl $15, %esi
        movzwl ops(, %esi, 2), %edi
        movl %edi, op_ip
        REPORT %esi
        andl $0x3ed5, %eax              /* IOPL IF DF and arithmetic flags */
        orl $0x20002, %eax              /* VM */
        pushl $0                        /* GS */
        pushl $0                        /* FS */
        pushl $0                        /* DS */
        pushl $0                        /* ES */
        pushl $0x700                    /* SS */
        pushl $0x1000                   /* ESP */
        pushl %eax                      /* EFLAGS */
        pushl $V86_CS
        pushl %edi                      /* IP */
        iret

/* Back in ring 0 from v86 mode (a fault, or an INT through a gate): IP and flags of the frame. */
exited:
        movl saved_regs + 32, %eax
        movl $FRAME, %esi
        btl %eax, err_vectors
        jnc 1f
        addl $4, %esi
1:      movl (%esi), %eax
        subl op_ip, %eax
        REPORT %eax                     /* IP, from the operation's first instruction */
        movl 8(%esi), %eax
        andl $FLAGS_SHOWN, %eax
        REPORT %eax                     /* EFLAGS */
        decl round
        jnz next_round
        jmp finish

/* IDT 0x30-0x33: random 16/32-bit interrupt or trap gates, random DPL, mostly present, to ring-0,
 * conforming or ring-3 code; the port 0x44 bitmap bit random. */
randomize_gates:
        movl $0x30, %esi
1:      RANDOM
        movl %eax, %ecx
        andl $3, %ecx
        movzbl gate_targets(%ecx), %ecx
        shll $16, %ecx
        orl $(stubs - _start + LOAD), %ecx
        movl %esi, %edx
        shll $4, %edx
        addl %edx, %ecx                 /* the vector's stub */
        movl %ecx, idt(, %esi, 8)
        movl %eax, %ecx
        shrl $4, %ecx
        andl $3, %ecx
        movzbl v86_gate_types(%ecx), %ecx
        shll $8, %ecx
        movl %eax, %edx
        andl $0x6000, %edx              /* DPL */
        orl %edx, %ecx
        testl $0x700, %eax
        jz 2f
        orl $0x8000, %ecx               /* present */
2:      movl %ecx, idt + 4(, %esi, 8)
        incl %esi
        cmpl $0x34, %esi
        jb 1b
        RANDOM
        andb $~0x10, TSS0 + 0x68 + 8
        testl $1, %eax
        jz 3f
        orb $0x10, TSS0 + 0x68 + 8      /* deny port 0x44 */
3:      ret

gate_targets:
        .byte SEL_CODE0, SEL_CODE0, 0x38, SEL_CODE3
v86_gate_types:
        .byte 0x6, 0x7, 0xe, 0xf
/* v86 IPs of the operations. */
ops:
        .irp op, op_cli, op_sti, op_pushf, op_popf, op_pushfd, op_popfd, op_int30, op_int31, op_int32, op_int33, op_int3, op_into, op_iret, op_iretd, op_in, op_out
        .word \op - _start
        .endr
round:
        .long 0
op_ip:
        .long 0

        .code16
op_cli: cli
        hlt
op_sti: sti
        hlt
op_pushf:
        pushf
        hlt
op_popf:
        pushw %bx
        popf
        hlt
op_pushfd:
        pushfl
        hlt
op_popfd:
        pushl %ecx
        popfl
        hlt
op_int30:
        int $0x30
        hlt
op_int31:
        int $0x31
        hlt
op_int32:
        int $0x32
        hlt
op_int33:
        int $0x33
        hlt
op_int3:
        int3
        hlt
op_into:
        into
        hlt
op_iret:
        pushw %bx                       /* FLAGS */
        pushw %cs
        pushw $(1f - _start)
        iret
1:      hlt
op_iretd:
        pushl %ecx                      /* EFLAGS */
        pushl $V86_CS
        pushl $(1f - _start)
        iretl
1:      hlt
op_in:  inb $0x44, %al
        hlt
op_out: outb %al, $0x44
        hlt
        .code32
