/* A single-step trap is not raised for an instruction that faults (SDM Vol. 3B 17.3.1.4): POPF sets TF,
 * the next instruction (UD2) faults, and only #UD is delivered; its handler (an interrupt gate) runs
 * with TF clear. */
        .include "common.inc"

test_main:
        ON_FAULT 1f
        pushfl
        orl $0x100, (%esp)
        popfl
        ud2                             /* 6 */
        REPORT $0xbad1
1:      REPORT $0x600d
        jmp finish
