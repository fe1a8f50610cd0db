# The compute guest: CPU-bound work for the type-1 scheduler, loaded flat at 1 MiB and started in
# 32-bit protected mode (flat segments, paging off). It says hello on COM1, then runs a xorshift
# generator forever, counting rounds in the 64-bit word at 0x101000 (its own page, so counting does
# not write to the code page), which the hypervisor reads as the work the domain did.
        .code32
        .set    COM1, 0x3f8
        .set    COUNTER, 0x101000
start:
        mov     $banner, %esi
        mov     $COM1, %dx
1:      lodsb
        test    %al, %al
        jz      2f
        outb    %al, %dx
        jmp     1b
2:      mov     $0x2545f491, %ebx
        mov     $COUNTER, %edi
3:      mov     %ebx, %ecx
        shl     $13, %ecx
        xor     %ecx, %ebx
        mov     %ebx, %ecx
        shr     $17, %ecx
        xor     %ecx, %ebx
        mov     %ebx, %ecx
        shl     $5, %ecx
        xor     %ecx, %ebx
        addl    $1, (%edi)
        adcl    $0, 4(%edi)
        jmp     3b
banner: .asciz  "compute: xorshift rounds at 0x101000\r\n"
