# 32-bit protected mode (flat segments set by the host), loaded at 00001000h. Writes RAM, reads
# it back to a port, then does MMIO at D0000000h (unbacked) and reports the read on a port.
        .code32
        movl    $0xcafef00d, 0x2000
        movl    0x2000, %eax
        outl    %eax, $0x20
        movl    %ds, %eax
        outw    %ax, $0x22              # the data selector the host loaded
        movl    $0x12345678, 0xd0000000
        movl    0xd0000004, %eax
        outl    %eax, $0x24
        hlt
