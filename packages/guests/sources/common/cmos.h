/* MC146818 RTC registers in CMOS (ports 0x70/0x71). */
#ifndef RV_CMOS_H
#define RV_CMOS_H
#include "io.h"

u8 cmos_read(u8 reg);
/* Seconds of the current time, binary, read outside an update cycle. */
u32 rtc_seconds(void);
/* Total RAM in KiB from the memory-size bytes a PC BIOS keeps in CMOS (0x17/0x18, 0x34/0x35). */
u32 cmos_memory_kib(void);

#endif
