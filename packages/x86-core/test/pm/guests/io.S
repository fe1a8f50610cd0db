/* I/O permission: IOPL against CPL, the TSS I/O bitmap, and bitmap bytes beyond the TSS limit. */
        .include "common.inc"

        .set TSS2, 0x26000
        .set TSS2_LIMIT, 0x78           /* bitmap bytes 0x68..0x77 (ports 0-0x7f), then 0xff */

test_main:
        SETGATE idt+0x80*8, stubs+0x80*16, SEL_CODE0, 0xee
        orb $0x01, TSS0 + 0x68 + 0x0c   /* deny port 0x60 */
        orb $0x02, TSS0 + 0x68 + 0x0e   /* deny port 0x71 */

        /* CPL 0 with IOPL 0: the bitmap is not consulted. */
        inb $0x60, %al
        REPORT $0x60

        ON_FAULT 1f
        TO_RING3 ring3_bitmap           /* IOPL 0: 0x61, 0x5c, 0x6f, then INT 0x80 */
1:      ON_FAULT 1f
        TO_RING3 ring3_deny_60          /* 13, 0 */
1:      ON_FAULT 1f
        TO_RING3 ring3_deny_5f_word     /* 13, 0 */
1:      ON_FAULT 1f
        TO_RING3 ring3_deny_71_out      /* 13, 0 */
1:      ON_FAULT 1f
        TO_RING3 ring3_deny_dx          /* 13, 0 */
1:      ON_FAULT 1f
        TO_RING3 ring3_iopl3, 0x3002    /* IOPL 3: every port */
1:
        /* A TSS whose limit covers the bitmap only for ports 0-0x7f. */
        movl $STACK0_TOP, TSS2 + 4
        movl $SEL_DATA0, TSS2 + 8
        movw $0x68, TSS2 + 0x66
        movb $0xff, TSS2 + TSS2_LIMIT
        SETDESC 0x30, TSS2, TSS2_LIMIT, 0x89, 0
        movw $0x30, %ax
        ltr %ax
        ON_FAULT 1f
        TO_RING3 ring3_short_bitmap_ok
1:      REPORT SAVED_EAX                /* 0x80 (INT 0x80 reported first), then 0xff */
        ON_FAULT 1f
        TO_RING3 ring3_short_bitmap_80  /* 13, 0 */
1:      ON_FAULT 1f
        TO_RING3 ring3_short_bitmap_7f_word     /* 13, 0 */
1:      jmp finish

ring3_bitmap:
        inb $0x61, %al                  /* allowed */
        REPORT $0x61
        inl $0x5c, %eax                 /* 0x5c-0x5f allowed */
        REPORT $0x5c
        inw $0x6f, %ax                  /* 0x6f-0x70 allowed */
        REPORT $0x6f
        int $0x80

ring3_deny_60:
        inb $0x60, %al
        REPORT $0xbad1

ring3_deny_5f_word:
        inw $0x5f, %ax
        REPORT $0xbad2

ring3_deny_71_out:
        outb %al, $0x71
        REPORT $0xbad3

ring3_deny_dx:
        movw $0x60, %dx
        inb %dx, %al
        REPORT $0xbad4

ring3_iopl3:
        inb $0x60, %al
        REPORT $0x360                   /* allowed at IOPL 3 */
        int $0x80

ring3_short_bitmap_ok:
        inb $0x7f, %al
        movzbl %al, %eax
        int $0x80

ring3_short_bitmap_80:
        inb $0x80, %al
        int $0x80

ring3_short_bitmap_7f_word:
        inw $0x7f, %ax
        int $0x80
