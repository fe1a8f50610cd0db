# Times its own device accesses (the device-model thread test): loaded flat at 1 MiB, 32-bit
# protected mode, paging off. Forever: read the ACPI PM timer (answered on the pCPU), read the
# master 8259's mask (port 0x21: a request the device-model thread answers), read the timer again.
# It counts the accesses in the word at 0x101000 and keeps the slowest in PM timer ticks
# (3.579545 MHz) at 0x101004, which the test may reset to 0 to start a window.
        .code32
        .set    PM_TMR, 0x608
        .set    ACCESSES, 0x101000
        .set    SLOWEST, 0x101004

start:
        mov     $PM_TMR, %dx
1:      inl     %dx, %eax
        mov     %eax, %ebx
        inb     $0x21, %al
        inl     %dx, %eax
        sub     %ebx, %eax
        and     $0xffffff, %eax
        incl    ACCESSES
        cmp     SLOWEST, %eax
        jbe     1b
        mov     %eax, SLOWEST
        jmp     1b

