# 32-bit protected mode (flat segments set by the host, IDT limit 0), loaded at 00001000h. UD2
# raises #UD; delivering it finds no gate (#GP), delivering #GP finds none (#DF), delivering #DF
# finds none: a triple fault, which KVM reports as SHUTDOWN.
        .code32
        ud2
        hlt
