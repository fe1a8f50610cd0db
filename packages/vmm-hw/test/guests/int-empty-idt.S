# 32-bit protected mode (flat segments set by the host, IDT limit 0), loaded at 00001000h. A
# software INT through an empty IDT: architecturally a triple fault like triple-fault.S.
        .code32
        int     $0x21
        hlt
