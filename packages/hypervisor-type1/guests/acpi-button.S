# A guest that powers off when its ACPI power button is pressed, as an OS's ACPI driver does: loaded
# flat at 1 MiB, 32-bit protected mode, paging off. It remaps the 8259s (IRQ 0-15 at vectors
# 0x20-0x2f), unmasks only the SCI (IRQ 9, the FADT's SCI_INT) and the cascade, sets PWRBTN_EN in
# PM1_EN and halts. On the SCI it reads PM1_STS; for PWRBTN_STS it clears it (write 1), says so on
# COM1 and writes SLP_TYP = \_S5 (5) with SLP_EN to PM1_CNT: a power-off. Any other vector (an
# exception) reports itself and leaves through the exit port with 3. Between interrupts it counts
# its wake-ups in the word at 0x101000.
        .code32
        .set    COM1, 0x3f8
        .set    EXIT_PORT, 0xf4
        .set    PM1_STS, 0x600
        .set    PM1_EN, 0x602
        .set    PM1_CNT, 0x604
        .set    PWRBTN, 0x100
        .set    SLP_S5, (5 << 10) | (1 << 13)
        .set    SCI_VECTOR, 0x29
        .set    WAKEUPS, 0x101000
        .set    IDT, 0x102000
        .set    STACK_TOP, 0x104000

start:
        mov     $STACK_TOP, %esp
        mov     $banner, %esi
        call    print
        # 8259s: ICW1 (edge, cascade, ICW4), ICW2 bases 0x20/0x28, ICW3 cascade on IRQ 2, ICW4 8086 mode.
        mov     $0x11, %al
        outb    %al, $0x20
        outb    %al, $0xa0
        mov     $0x20, %al
        outb    %al, $0x21
        mov     $0x28, %al
        outb    %al, $0xa1
        mov     $0x04, %al
        outb    %al, $0x21
        mov     $0x02, %al
        outb    %al, $0xa1
        mov     $0x01, %al
        outb    %al, $0x21
        outb    %al, $0xa1
        mov     $0xfb, %al                                      # master: only the cascade
        outb    %al, $0x21
        mov     $0xfd, %al                                      # slave: only IRQ 9
        outb    %al, $0xa1
        # IDT: every vector to `unexpected`, the SCI to `sci`; the gates take the loader's code selector.
        mov     $IDT, %edi
        xor     %ecx, %ecx
1:      mov     $unexpected, %eax
        cmp     $SCI_VECTOR, %ecx
        jne     2f
        mov     $sci, %eax
2:      mov     %ax, (%edi)
        mov     %cs, 2(%edi)
        movw    $0x8e00, 4(%edi)                                # present, DPL 0, 32-bit interrupt gate
        shr     $16, %eax
        mov     %ax, 6(%edi)
        add     $8, %edi
        inc     %ecx
        cmp     $256, %ecx
        jne     1b
        lidt    idtr
        mov     $PWRBTN, %ax
        mov     $PM1_EN, %dx
        outw    %ax, %dx
        sti
3:      hlt
        incl    WAKEUPS
        jmp     3b

sci:
        push    %eax
        push    %edx
        push    %esi
        mov     $PM1_STS, %dx
        inw     %dx, %ax
        test    $PWRBTN, %ax
        jz      4f
        mov     $PWRBTN, %ax
        outw    %ax, %dx                                        # write 1 to clear
        mov     $pressed, %esi
        call    print
        mov     $SLP_S5, %ax
        mov     $PM1_CNT, %dx
        outw    %ax, %dx
4:      mov     $0x20, %al                                      # EOI: slave, then master
        outb    %al, $0xa0
        outb    %al, $0x20
        pop     %esi
        pop     %edx
        pop     %eax
        iret

unexpected:
        mov     $fault, %esi
        call    print
        mov     $3, %al
        outb    %al, $EXIT_PORT
        cli
5:      hlt
        jmp     5b

# Prints the NUL-terminated string at %esi on COM1.
print:
        push    %eax
        push    %edx
        mov     $COM1, %dx
6:      lodsb
        test    %al, %al
        jz      7f
        outb    %al, %dx
        jmp     6b
7:      pop     %edx
        pop     %eax
        ret

        .p2align 2
idtr:   .word   256 * 8 - 1
        .long   IDT
banner: .asciz  "acpi-button: PWRBTN_EN set, waiting for the power button\r\n"
pressed: .asciz "acpi-button: power button pressed, entering S5\r\n"
fault:  .asciz  "acpi-button: unexpected interrupt or exception\r\n"
