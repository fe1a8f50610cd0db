# The 16 bytes at the reset vector (FFFFFFF0h, the last paragraph of a ROM at the top of 4 GiB),
# entered in the RESET state: CS F000 with base FFFF0000h, IP FFF0h. Position-independent.
        .code16
        mov     $0x5a, %al
        outb    %al, $0x10
        hlt
