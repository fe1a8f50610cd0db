# Real mode, loaded at 0000:1000. Installs an IVT handler for vector 0x20 that reports on port
# 0x40, then enables interrupts, reports on port 0x42 and halts forever: every injected interrupt runs the handler once.
        .code16
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        movw    $handler, 0x20 * 4
        movw    $0, 0x20 * 4 + 2
        mov     $0x11, %al
        outb    %al, $0x41              # "IVT ready, interrupts still off"
        sti
        nop                             # STI's shadow ends here: the interrupt window opens
        mov     $0x22, %al
        outb    %al, $0x42                  # "interrupts on"
1:      hlt
        jmp     1b
handler:
        mov     $0x99, %al
        outb    %al, $0x40
        iret
