# Real mode, loaded at 0000:1000. REP OUTSB of a message (string I/O with count > 1), then
# REP INSW of two words into a buffer and REP OUTSW of them back out.
        .code16
        cli
        cld
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     $message, %si
        mov     $(message_end - message), %cx
        mov     $0xe9, %dx
        rep outsb
        mov     $buffer, %di
        mov     $2, %cx
        mov     $0x20, %dx
        rep insw
        mov     $buffer, %si
        mov     $2, %cx
        mov     $0x22, %dx
        rep outsw
        hlt
message:
        .ascii  "Hello from KVM\n"
message_end:
buffer:
        .word   0, 0
