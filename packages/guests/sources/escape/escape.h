/* The escape guest: it maps every guest-physical frame, reads and writes its whole linear address
   space where mapped, and points PTEs, PDEs and segment descriptors everywhere a VMM could hide. */
#ifndef RV_ESCAPE_H
#define RV_ESCAPE_H
#include "../common/io.h"

/* What access.S's helpers return when the access faulted (escape.c counts the fault). */
#define ACCESS_FAULTED 0xfa17fa17u

u32 read32(u32 linear);
u32 write32(u32 linear, u32 value);
u32 read_fs32(u32 offset);
u32 load_fs(u32 selector);
extern char read32_insn[], write32_insn[], read_fs32_insn[], load_fs_insn[], access_fixup[];

#endif
