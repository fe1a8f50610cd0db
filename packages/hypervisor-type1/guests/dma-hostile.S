# A hostile virtio-blk driver for the isolation test: loaded flat at 1 MiB, 32-bit protected mode,
# paging off, 4 MiB of RAM, its disk in the board's first virtio-mmio slot. It aims the device's DMA
# everywhere it can name: descriptors and indirect tables outside its RAM (past 4 MiB, the MMIO hole,
# its own virtio window, above 4 GiB), lengths that wrap or reach past RAM, chains that loop, nested
# indirect tables, rings outside RAM or of an invalid size, an avail index that jumps; the device is
# reset after each. Requests past the end of its disk (the last sector and one more, sector 2^64-1,
# a sector whose byte offset passes 2^53, a discard past the end) must come back with IOERR. Then a
# write of sector 0 and a read of it back must work. It exits with code 0 (exit port 0xf4), or 1
# when an answer was not the architectural one.
        .code32
        .include "virtio-blk.inc"
        .set    RAM_END, 0x400000

        # A fresh device, then a `type` request whose data is `len` bytes at `lo`:`hi`.
        .macro  AIM type, flags, len, lo, hi=0
        call    reset_device
        HEADER  \type, 0, 0
        CHAIN   \flags, \len, \lo, \hi
        call    submit
        .endm

start:
        mov     $STACK_TOP, %esp
        mov     $banner, %esi
        call    puts
        call    reset_device
        mov     MMIO+R_CAPACITY, %eax
        mov     %eax, capacity

        # --- Descriptors that point outside the guest's RAM: the device must refuse the chain. ---
        call    reset_device
        D       DESC, 0, 0x800000, 0, 16, NEXT, 1          # header past RAM
        D       DESC, 1, DATA, 0, 512, NEXT|WRITE, 2
        D       DESC, 2, STATUS, 0, 1, WRITE, 0
        call    submit
        .irp    target, RAM_END, 0x1000000, 0x3fff00, 0xc0000000, MMIO, 0xfffff000, 0xfffffe00
        AIM     T_IN, WRITE, 0x400, \target                  # read sectors into another domain's RAM?
        AIM     T_OUT, 0, 0x400, \target                     # write another domain's RAM to disk?
        .endr
        AIM     T_IN, WRITE, 512, 0, 1                        # above 4 GiB
        .irp    length, 0xffffffff, 0x80000000, RAM_END
        AIM     T_IN, WRITE, \length, DATA                    # huge lengths
        .endr

        # --- Chains that loop or name descriptors that do not exist. ---
        call    reset_device
        HEADER  T_OUT, 0, 0
        D       DESC, 0, HDR, 0, 16, NEXT, 1
        D       DESC, 1, DATA, 0, 512, NEXT, 0                # 0 -> 1 -> 0 ...
        call    submit
        call    reset_device
        D       DESC, 0, HDR, 0, 16, NEXT, 0                  # 0 -> 0 ...
        call    submit
        call    reset_device
        D       DESC, 0, HDR, 0, 16, NEXT, 0xffff             # next past the table
        call    submit
        call    reset_device
        HEADER  T_OUT, 0, 0
        D       DESC, 0, HDR, 0, 16, NEXT, 1
        D       DESC, 1, STATUS, 0, 1, NEXT|WRITE, 2          # writable before readable
        D       DESC, 2, DATA, 0, 512, 0, 0
        call    submit

        # --- Indirect tables: outside RAM, huge, looping, nested. ---
        call    reset_device
        D       DESC, 0, 0x800000, 0, 48, INDIR, 0
        call    submit
        call    reset_device
        D       DESC, 0, INDIRECT, 0, 0xfffffff0, INDIR, 0
        call    submit
        call    reset_device
        HEADER  T_OUT, 0, 0
        D       DESC, 0, INDIRECT, 0, 48, INDIR, 0
        D       INDIRECT, 0, HDR, 0, 16, NEXT, 1
        D       INDIRECT, 1, DATA, 0, 512, NEXT, 0            # loops inside the table
        D       INDIRECT, 2, STATUS, 0, 1, WRITE, 0
        call    submit
        call    reset_device
        D       DESC, 0, INDIRECT, 0, 16, INDIR, 0
        D       INDIRECT, 0, INDIRECT, 0, 16, INDIR, 0        # an indirect table inside one
        call    submit
        call    reset_device
        HEADER  T_IN, 0, 0
        D       DESC, 0, INDIRECT, 0, 48, INDIR, 0
        D       INDIRECT, 0, HDR, 0, 16, NEXT, 1
        D       INDIRECT, 1, MMIO, 0, 512, NEXT|WRITE, 2     # DMA at its own virtio window
        D       INDIRECT, 2, STATUS, 0, 1, WRITE, 0
        call    submit

        # --- Rings outside RAM or of a bad size, an avail index that jumps, a head past the queue. ---
        .irp    ring, qdesc, qavail, qused
        .irp    where, 0x3ffff0, 0x800000, MMIO
        movl    $\where, \ring
        call    reset_device
        CHAIN   WRITE, 512
        call    submit
        call    restore_rings
        .endr
        .endr
        .irp    size, 3, 0, 0x10000
        movl    $\size, qnum
        call    reset_device
        call    restore_rings
        .endr
        call    reset_device
        CHAIN   WRITE, 512
        movw    $200, AVAIL+2                                   # 200 requests "available" in a queue of 8
        movl    $0, MMIO+R_QUEUE_NOTIFY
        call    reset_device
        CHAIN   WRITE, 512
        movw    $0x1234, AVAIL+4                                # head past the table
        movw    $1, AVAIL+2
        movl    $0, MMIO+R_QUEUE_NOTIFY

        # --- Well-formed requests past the end of the disk: IOERR, and nothing written. ---
        call    reset_device
        HEADER  T_IN, 0, 0
        mov     capacity, %eax
        mov     %eax, HDR+8                                     # the sector after the last
        CHAIN   WRITE, 512
        call    submit
        call    expect_ioerr
        HEADER  T_OUT, 0, 0
        mov     capacity, %eax
        dec     %eax
        mov     %eax, HDR+8                                     # the last sector and one past it
        CHAIN   0, 1024
        call    submit
        call    expect_ioerr
        HEADER  T_OUT, 0xffffffff, 0xffffffff
        CHAIN   0, 512
        call    submit
        call    expect_ioerr
        HEADER  T_OUT, 0xffffffff, 0x003fffff                   # 512 * sector passes 2^53
        CHAIN   0, 512
        call    submit
        call    expect_ioerr
        HEADER  T_DISCARD, 0, 0
        mov     capacity, %eax
        dec     %eax
        mov     %eax, DATA                                      # discard the last sector and one more
        movl    $0, DATA+4
        movl    $2, DATA+8
        movl    $0, DATA+12
        CHAIN   0, 16
        call    submit
        call    expect_ioerr

        # --- The device still works: sector 0 written and read back. ---
        mov     $DATA, %edi
        mov     $128, %ecx
        mov     $0x4c54534f, %eax                               # "OSTL" ... a pattern the test looks for
1:      mov     %eax, (%edi)
        add     $4, %edi
        inc     %eax
        loop    1b
        HEADER  T_OUT, 0, 0
        CHAIN   0, 512
        call    submit
        cmpb    $0, STATUS
        jne     fail
        HEADER  T_IN, 0, 0
        D       DESC, 1, BACK, 0, 512, NEXT|WRITE, 2
        call    submit
        cmpb    $0, STATUS
        jne     fail
        mov     $DATA, %esi
        mov     $BACK, %edi
        mov     $128, %ecx
        repe cmpsl
        jne     fail
        mov     $done, %esi
        call    puts
        mov     $0, %al
        outb    %al, $EXIT_PORT
        hlt

fail:
        mov     $failed, %esi
        call    puts
        mov     $1, %al
        outb    %al, $EXIT_PORT
        hlt

expect_ioerr:
        cmpb    $1, STATUS
        jne     fail
        ret

        .align  4
capacity: .long 0
banner: .asciz  "dma-hostile: aiming virtio-blk DMA everywhere\r\n"
done:   .asciz  "dma-hostile: done\r\n"
failed: .asciz  "dma-hostile: FAILED\r\n"
