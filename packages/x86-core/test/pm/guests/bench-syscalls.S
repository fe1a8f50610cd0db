/* Benchmark load: 20000 ring-3 -> ring-0 -> ring-3 round trips (INT 0x80 through a DPL-3 interrupt gate
 * with a TSS stack switch, IRET back). Measured by transitions.bench.ts. */
        .include "common.inc"

test_main:
        SETGATE idt+0x80*8, return_at_once, SEL_CODE0, 0xee
        SETGATE idt+0x81*8, stubs+0x81*16, SEL_CODE0, 0xee
        ON_FAULT 1f
        TO_RING3 ring3_loop
1:      jmp finish

return_at_once:
        iret

ring3_loop:
        movl $20000, %ecx
2:      int $0x80
        decl %ecx
        jnz 2b
        int $0x81
