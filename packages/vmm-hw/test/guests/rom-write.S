# Real mode, loaded at 0000:1000. Writes into the ROM at F0000h, reads the byte back and reports
# it on port 0x10: a read-only slot must keep the ROM's own byte.
        .code16
        cli
        mov     $0xf000, %ax
        mov     %ax, %es
        movb    $0x55, %es:0
        movb    %es:0, %al
        outb    %al, $0x10
        hlt
