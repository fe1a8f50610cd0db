# A domain that floods its disk (the device-model thread test): loaded flat at 1 MiB, 32-bit
# protected mode, paging off, 16 MiB of RAM, its disk (at least 64 MiB) in the board's first
# virtio-mmio slot. Forever: one write request of 5 x 11 MiB (five descriptors over the same RAM,
# 55 MiB at sector 0), then a FLUSH (an fsync on the host), counting the pairs in the word at
# 0x101000. It exits with 1 (exit port 0xf4) when a request comes back other than OK.
        .code32
        .include "virtio-blk.inc"
        .set    T_FLUSH, 4
        .set    ROUNDS, 0x101000
        .set    BIG, 0x400000
        .set    BIG_LEN, 0xb00000

start:
        mov     $STACK_TOP, %esp
        mov     $banner, %esi
        call    puts
        call    reset_device
1:      HEADER  T_OUT, 0, 0
        D       DESC, 0, HDR, 0, 16, NEXT, 1
        D       DESC, 1, BIG, 0, BIG_LEN, NEXT, 2
        D       DESC, 2, BIG, 0, BIG_LEN, NEXT, 3
        D       DESC, 3, BIG, 0, BIG_LEN, NEXT, 4
        D       DESC, 4, BIG, 0, BIG_LEN, NEXT, 5
        D       DESC, 5, BIG, 0, BIG_LEN, NEXT, 6
        D       DESC, 6, STATUS, 0, 1, WRITE, 0
        call    submit
        cmpb    $0, STATUS
        jne     fail
        HEADER  T_FLUSH, 0, 0
        D       DESC, 0, HDR, 0, 16, NEXT, 1
        D       DESC, 1, STATUS, 0, 1, WRITE, 0
        call    submit
        cmpb    $0, STATUS
        jne     fail
        incl    ROUNDS
        jmp     1b

fail:   mov     $1, %al
        outb    %al, $EXIT_PORT
        hlt

banner: .asciz  "disk-flood: 55 MiB writes and flushes\r\n"
