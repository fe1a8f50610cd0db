# The `harness bench cpu` guest: a compute-bound loop for 32-bit flat protected mode, loaded and
# entered at 0x10000 with ESP set by the harness. It never ends; the benchmark stops it by budget.
# Per inner iteration: loads and stores, arithmetic (ADD, IMUL, XOR, SHL/SHR, LEA), a taken and a
# not-taken branch, and a CALL/RET pair with a stack frame — the mix of ordinary compiled code.
        .code32
        .text
        .globl _start
_start:
        xorl    %ebx, %ebx
        xorl    %edi, %edi
outer:
        movl    $1000, %ecx
        movl    $table, %esi
inner:
        movl    (%esi), %eax            # load
        addl    %ecx, %eax
        imull   $3, %eax, %edx
        xorl    %edx, %ebx
        movl    %eax, 4(%esi)           # store
        call    mix
        testl   $1, %ecx
        jz      even
        incl    %edi
even:
        leal    8(%esi), %esi
        cmpl    $table_end, %esi
        jb      in_range
        movl    $table, %esi
in_range:
        decl    %ecx
        jnz     inner
        jmp     outer

mix:
        pushl   %ebp
        movl    %esp, %ebp
        movzbl  (%esi), %eax
        shll    $2, %eax
        subl    %eax, %ebx
        shrl    $1, %ebx
        popl    %ebp
        ret

        .data
        .balign 4
table:
        .fill   256, 4, 0x01020304
table_end:
