# 64-bit long mode (page tables, GDT and state built by the host as for the Linux 64-bit boot
# protocol), loaded at 00001000h. MOVABS only exists in 64-bit mode.
        .code64
        movabs  $0x1122334455667788, %rax
        outl    %eax, $0x20
        shr     $32, %rax
        outl    %eax, $0x20
        mov     %rsi, %rax
        outl    %eax, $0x24             # RSI as the host set it (the zero-page pointer in Linux's protocol)
        hlt
