# Code read from disk over code already run: loaded flat at 1 MiB, 32-bit protected mode, paging off.
# It writes a function at 3 MiB that returns 1 and calls it until the CPU has decoded (and compiled)
# it, then reads sector 0 of its disk into that page by virtio-blk DMA (the test puts a function
# there that returns 2) and calls it again. It exits with what the call returned (exit port 0xf4):
# 2 when the CPU dropped the code it had decoded from the page the device wrote, 1 when it ran stale code.
        .code32
        .include "virtio-blk.inc"
        .set    CODE, 0x300000
        .set    CALLS, 10000

start:
        mov     $STACK_TOP, %esp
        movl    $0x90c301b0, CODE                               # mov $1, %al; ret
        mov     $CALLS, %ecx
1:      call    CODE
        loop    1b
        call    reset_device
        HEADER  T_IN, 0, 0
        D       DESC, 0, HDR, 0, 16, NEXT, 1
        D       DESC, 1, CODE, 0, 512, NEXT|WRITE, 2
        D       DESC, 2, STATUS, 0, 1, WRITE, 0
        call    submit
        mov     $0xff, %al
        cmpb    $0, STATUS
        jne     1f
        call    CODE
1:      outb    %al, $EXIT_PORT
        hlt
