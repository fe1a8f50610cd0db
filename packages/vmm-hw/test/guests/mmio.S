# Real mode, loaded at 0000:1000. Touches the unbacked window at A0000h: a word write, a dword
# write, and a byte read whose value it reports on port 0x30.
        .code16
        cli
        mov     $0xa000, %ax
        mov     %ax, %es
        movw    $0xbeef, %es:0x10
        movl    $0x12345678, %es:0x20
        movb    %es:0x30, %al
        outb    %al, $0x30
        hlt
