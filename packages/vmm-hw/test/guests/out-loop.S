# Real mode, loaded at 0000:1000. Port-I/O exits with known values, then HLT with IF clear.
        .code16
        cli
        mov     $1, %al
1:      outb    %al, $0x10              # five byte writes: 1, 2, 3, 4, 5
        inc     %al
        cmp     $6, %al
        jne     1b
        mov     $0x1234, %ax
        outw    %ax, $0x12              # one word write
        inb     $0x14, %al              # a read the host answers...
        outb    %al, $0x16              # ...echoed back, so the test sees IN completed
        inl     $0x18, %eax
        outl    %eax, $0x1c
        hlt
