# Real mode, loaded at 0000:1000. Counts ECX (set by the host) down to zero in a tight loop,
# then reports on port 0x10 and halts: a calibration of how fast guest code runs.
        .code16
        cli
1:      dec     %ecx
        jnz     1b
        outb    %al, $0x10
        hlt
