#include "cmos.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define NMI_DISABLE 0x80
#define RTC_SECONDS 0x00
#define RTC_STATUS_A 0x0a
#define RTC_STATUS_B 0x0b
#define CMOS_EXT_MEM_LOW 0x17  /* KiB above 1 MiB, up to 64 MiB */
#define CMOS_EXT_MEM_HIGH 0x18
#define CMOS_HIGH_MEM_LOW 0x34 /* 64 KiB blocks above 16 MiB */
#define CMOS_HIGH_MEM_HIGH 0x35
#define STATUS_A_UIP 0x80    /* update in progress: the time registers are changing */
#define STATUS_B_BINARY 0x04 /* data mode: binary rather than BCD */

u8 cmos_read(u8 reg) {
  outb(CMOS_INDEX, NMI_DISABLE | reg);
  return inb(CMOS_DATA);
}

u32 rtc_seconds(void) {
  while (cmos_read(RTC_STATUS_A) & STATUS_A_UIP) {
  }
  u8 value = cmos_read(RTC_SECONDS);
  if (!(cmos_read(RTC_STATUS_B) & STATUS_B_BINARY)) value = (u8)((value >> 4) * 10 + (value & 0xf));
  return value;
}

u32 cmos_memory_kib(void) {
  u32 above_16m = cmos_read(CMOS_HIGH_MEM_LOW) | (u32)cmos_read(CMOS_HIGH_MEM_HIGH) << 8;
  if (above_16m) return 16 * 1024 + above_16m * 64;
  return 1024 + (cmos_read(CMOS_EXT_MEM_LOW) | (u32)cmos_read(CMOS_EXT_MEM_HIGH) << 8);
}
