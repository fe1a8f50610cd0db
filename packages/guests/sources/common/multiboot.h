/* The multiboot v1 boot information block (Multiboot Specification 0.6.96, section 3.3). */
#ifndef RV_MULTIBOOT_H
#define RV_MULTIBOOT_H
#include "io.h"

/* EAX at entry when a multiboot loader started the kernel. */
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002
#define MB_INFO_MEMORY (1u << 0)
#define MB_INFO_BOOT_LOADER_NAME (1u << 9)

struct multiboot_info {
  u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr, syms[4];
  u32 mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
};

#endif
