/* Random far CALL/JMP and INT n through random descriptors, gates and TSS stacks (a fixed xorshift32
 * sequence) from ring 0 and ring 3, and random 32- and 16-bit RET far / IRET frames from ring 0.
 * Every code segment has base 0 and every gate points at `land`, whose INT 0x7f (the same bytes in
 * 16- and 32-bit code) reports where the transfer arrived: CS, control flags, and SS:ESP when that is
 * not ring 0. Anything else reports its fault. Compared against QEMU. */
        .include "common.inc"

        .set LDT, 0x50000
        .set PD, 0x40000
        .set PT0, 0x41000
        .set ROUNDS, 500

        /* Far CALL/JMP through `far_ptr` to a fresh random selector, reported tagged with `tag`. */
        .set TAG_CALL, 0xca000000
        .set TAG_JMP, 0x1e000000
        .macro FAR insn, tag
        call random_selector
        movw %bx, far_ptr + 4
        orl $\tag, %ebx
        REPORT %ebx
        \insn *far_ptr
        REPORT $0xbad1
        .endm

        /* A return frame to `land` on the ring-0 stack, reported as its CS selector tagged with `tag`:
         * half the time a well-formed outer or same-level frame (CS and SS of one random ring, each
         * sometimes swapped for a random selector), otherwise random SS and CS. ESP 0x26000 (0x6000 in a
         * 16-bit frame, `wide` 0) for an outer-level return, 8 bytes of parameters for RET 8, and for
         * IRET random flags (no TF, VM, AC, ID, RF). */
        .set TAG_RET, 0x7e000000
        .set TAG_IRET, 0x12000000
        .set TAG_RET16, 0x7e160000
        .set TAG_IRET16, 0x12160000
        .macro RETURN_FRAME tag, wide=1
        call frame_selectors
        .if \wide
        pushl %esi                      /* SS */
        pushl $0x26000                  /* ESP */
        .else
        pushw %si
        pushw $0x6000
        .endif
        .if (\tag == TAG_RET) || (\tag == TAG_RET16)
        subl $8, %esp                   /* parameters RET 8 releases */
        .else
        RANDOM
        andl $0x7ed5, %eax
        orl $2, %eax
        .if \wide
        pushl %eax                      /* EFLAGS */
        .else
        pushw %ax
        .endif
        .endif
        .if \wide
        pushl %ebx                      /* CS */
        pushl $land                     /* EIP */
        .else
        pushw %bx
        pushw $land
        .endif
        orl $\tag, %ebx
        REPORT %ebx
        .endm

test_main:
        .ifdef PAGED
        /* Identity paging; randomize_tables then takes some of PAGED_OUT's pages away each time. */
        movl $PT0, %edi
        call identity_map
        movl $PT0 | 0x7, PD
        movl $PD, %eax
        movl %eax, %cr3
        movl %cr0, %eax
        orl $0x80000000, %eax
        movl %eax, %cr0
        .endif
        SETDESC 0x80, LDT, 0x1f, 0x82, 0
        movw $0x80, %ax
        lldt %ax
        SETGATE idt+0x7f*8, stubs+0x7f*16, SEL_CODE0, 0xee
        SETGATE idt+0x80*8, stubs+0x80*16, SEL_CODE0, 0xee
        movl $landed, handler_table + 0x7f * 4
        movl $0x2c000, TSS0 + 12        /* ESP1 */
        movl $0x2a000, TSS0 + 20        /* ESP2 */
        movl $land, far_ptr
        movl $ROUNDS, round

next_round:
        call randomize_tables
        ON_FAULT 1f
        FAR lcall, TAG_CALL
1:      call randomize_tables
        ON_FAULT 1f
        FAR ljmp, TAG_JMP
1:      call randomize_tables
        ON_FAULT 1f
        int $0x60
        REPORT $0xbad2
1:      call randomize_tables
        ON_FAULT 1f
        TO_RING3 ring3_call
1:      call randomize_tables
        ON_FAULT 1f
        TO_RING3 ring3_int
1:      call randomize_tables
        ON_FAULT 1f
        RETURN_FRAME TAG_RET
        lret $8
        REPORT $0xbad4
1:      call randomize_tables
        ON_FAULT 1f
        RETURN_FRAME TAG_IRET
        iret
        REPORT $0xbad5
1:      call randomize_tables
        ON_FAULT 1f
        RETURN_FRAME TAG_RET16, 0
        lretw $8
        REPORT $0xbad6
1:      call randomize_tables
        ON_FAULT 1f
        RETURN_FRAME TAG_IRET16, 0
        iretw
        REPORT $0xbad7
1:      decl round
        jnz next_round
        jmp finish

ring3_call:
        movw $SEL_DATA3, %ax
        movw %ax, %ds
        FAR lcall, TAG_CALL

ring3_int:
        int $0x60
        REPORT $0xbad3

/* INT 0x7f from `land`: report the arrival CS and control flags, and SS:ESP below ring 0; then resume
 * in ring 0. */
landed:
        REPORT FRAME + 4
        movl FRAME + 8, %eax
        andl $0x7600, %eax              /* IF DF IOPL NT, as the transfer left them */
        REPORT %eax
        testl $3, FRAME + 4
        jz isr_resume
        REPORT FRAME + 12
        REPORT FRAME + 16
        jmp isr_resume

        .balign 16
land:
        int $0x7f

/* Fresh descriptors in GDT 0x30-0x4f, 0x60-0x6f and the LDT; 0x50/0x58 stay ring-2/ring-1 code and
 * 0x70/0x78 ring-1/ring-2 stacks; random IDT gate 0x60; TSS SS1/SS2 usually those stacks, sometimes
 * random selectors. */
randomize_tables:
        .ifdef PAGED
        xorl %esi, %esi                 /* every page present while the tables are rewritten */
1:      movl paged_out(, %esi, 4), %edi
        movl %edi, %edx
        orl $0x7, %edx
        shrl $12, %edi
        movl %edx, PT0(, %edi, 4)
        shll $12, %edi
        invlpg (%edi)
        incl %esi
        cmpl $5, %esi
        jb 1b
        .endif
        movl $gdt + 0x30, %edi
1:      call random_descriptor
        addl $8, %edi
        cmpl $gdt + 0x70, %edi
        jb 1b
        movl $0x0000ffff, gdt + 0x50
        movl $0x00cfda00, gdt + 0x54    /* flat code, DPL 2 */
        movl $0x0000ffff, gdt + 0x58
        movl $0x00cfba00, gdt + 0x5c    /* flat code, DPL 1 */
        movl $LDT, %edi
1:      call random_descriptor
        addl $8, %edi
        cmpl $LDT + 0x20, %edi
        jb 1b
        movl $0x0000ffff, gdt + 0x70
        movl $0x00cfb200, gdt + 0x74    /* flat data, DPL 1 */
        movl $0x0000ffff, gdt + 0x78
        movl $0x00cfd200, gdt + 0x7c    /* flat data, DPL 2 */
        movl $0x71, TSS0 + 16
        movl $0x7a, TSS0 + 24
        RANDOM
        testl $0x30000, %eax
        jnz 1f
        call random_selector
        movl %ebx, TSS0 + 16
        call random_selector
        movl %ebx, TSS0 + 24
1:      /* IDT 0x60: a 16/32-bit interrupt or trap gate (sometimes another type), random DPL, P 7/8. */
        call random_selector
        shll $16, %ebx
        orl $land, %ebx
        movl %ebx, idt + 0x60 * 8
        RANDOM
        movl %eax, %ebx
        andl $0x6000, %ebx              /* DPL */
        testl $0x70000, %eax
        jz 2f
        orl $0x8000, %ebx               /* P */
2:      movl %eax, %ecx
        shrl $20, %ecx
        andl $7, %ecx
        movzbl gate_types(%ecx), %ecx
        shll $8, %ecx
        orl %ecx, %ebx
        movl %ebx, idt + 0x60 * 8 + 4
        .ifdef PAGED
        /* Each of the pages that transfers touch but fault delivery does not (the LDT, the ring-1 and
         * ring-2 stacks, the outer-return stacks) is not present one time in four. */
        xorl %esi, %esi
1:      movl paged_out(, %esi, 4), %edi
        RANDOM
        movl %edi, %edx
        orl $0x7, %edx
        testl $0x30000, %eax
        jnz 2f
        andl $~1, %edx
2:      shrl $12, %edi
        movl %edx, PT0(, %edi, 4)
        shll $12, %edi
        invlpg (%edi)
        incl %esi
        cmpl $5, %esi
        jb 1b
        .endif
        ret

/* ebx = CS, esi = SS for a return frame (see RETURN_FRAME). */
frame_selectors:
        call random_selector
        movl %ebx, %esi
        call random_selector
        RANDOM
        testl $1, %eax
        jz 1f
        movl %eax, %ecx
        shrl $1, %ecx
        andl $3, %ecx
        testl $0x30, %eax
        jz 2f
        movzbl ring_code(%ecx), %ebx
        orl %ecx, %ebx
2:      testl $0xc0, %eax
        jz 1f
        movzbl ring_data(%ecx), %esi
        orl %ecx, %esi
1:      ret

/* Flat code and stack selectors of rings 0-3. */
ring_code:
        .byte SEL_CODE0, 0x58, 0x50, SEL_CODE3 & ~3
ring_data:
        .byte SEL_DATA0, 0x70, 0x78, SEL_DATA3 & ~3

gate_types:
        .byte 0x6, 0x7, 0xe, 0xf, 0xe, 0xf, 0xc, 0x0

/* Random descriptor at edi, base 0: code/data with the largest limit (expand-up, non-conforming), or a
 * call/interrupt/trap gate to `land` with a random selector; TSS and task-gate types become call gates. */
random_descriptor:
        RANDOM
        movl %eax, %ebx
        andl $0x0050ff00, %ebx          /* type, S, DPL, P, AVL, D/B */
        orl $0x008f0000, %ebx           /* G and limit 19:16 */
        testl $0x07000000, %eax
        jz 1f
        orl $0x8000, %ebx               /* mostly present */
1:      testl $0x1000, %ebx
        jz 2f
        /* Expand-up data only (limits are not compared), and non-conforming code: QEMU gives a call
         * through a gate to conforming code the code segment's DPL as RPL instead of keeping CPL
         * (helper_lcall_protected); system.test.ts checks that case against the SDM instead. */
        andl $~0x400, %ebx
        movl $0x0000ffff, (%edi)
        movl %ebx, 4(%edi)
        ret
2:      movl %ebx, %ecx                 /* system type */
        shrl $8, %ecx
        andl $0xf, %ecx
        btl %ecx, task_types
        jnc 4f
        andl $~0xf00, %ebx
        orl $0xc00, %ebx                /* a 32-bit call gate instead */
4:      andl $0xff00, %ebx
        movl %eax, %ecx
        shrl $27, %ecx
        orl %ecx, %ebx                  /* parameter count */
        pushl %ebx
        call random_selector
        shll $16, %ebx
        orl $land, %ebx
        movl %ebx, (%edi)
        popl %ebx
        movl %ebx, 4(%edi)
        ret

task_types:
        .long (1 << 1) | (1 << 3) | (1 << 5) | (1 << 9) | (1 << 11)
        .ifdef PAGED
/* Not the ring-3 stack: QEMU 7.2 pushes an interrupt frame delivered at CPL 3 as a supervisor access
 * (#PF error code 2, where the SDM's rule gives a user access, 6). */
paged_out:
        .long LDT, 0x2b000, 0x29000, 0x25000, 0x5000
        .endif
round:
        .long 0
far_ptr:
        .long 0
        .word 0
