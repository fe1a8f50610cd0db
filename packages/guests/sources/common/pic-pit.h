/* 8259A interrupt controllers and the 8254 timer's channel 0. */
#ifndef RV_PIC_PIT_H
#define RV_PIC_PIT_H
#include "io.h"

/* ICW1..ICW4: master vectors from `base`, slave from `base + 8`, slave on IR2; all IRQs masked. */
void pic_remap(u8 base);
void pic_unmask(u8 irq);
void pic_eoi(u8 irq);
/* Channel 0, mode 3 (square wave) at about `hz` interrupts per second on IRQ 0. */
void pit_set_frequency(u32 hz);

#endif
