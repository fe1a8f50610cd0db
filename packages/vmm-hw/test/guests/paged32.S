# 32-bit protected mode with paging (page tables built by the host), loaded at 00001000h. The
# host maps linear 00400000h elsewhere; the store below must land in that physical page.
        .code32
        movl    $0x600df00d, 0x400000
        movl    %cr0, %eax
        outl    %eax, $0x20
        hlt
