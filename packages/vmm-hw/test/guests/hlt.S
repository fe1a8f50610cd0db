# Real mode, loaded at 0000:1000. HLT with interrupts off, then HLT with interrupts on.
        .code16
        cli
        hlt
        sti
        hlt
        mov     $0x42, %al
        outb    %al, $0x10
        hlt
