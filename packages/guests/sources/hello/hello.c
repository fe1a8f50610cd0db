/* Protected-mode serial hello (multiboot ELF): prints a line and the loader's name, then exits 0. */
#include "../common/multiboot.h"
#include "../common/serial.h"

void kmain(u32 magic, const struct multiboot_info *info) {
  serial_init(0);
  serial_puts("Hello from protected mode!\n");
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
    serial_puts("not started by a multiboot loader\n");
    guest_exit(EXIT_FAILURE);
  }
  if (info->flags & MB_INFO_BOOT_LOADER_NAME) {
    serial_puts("loaded by ");
    serial_puts((const char *)info->boot_loader_name);
    serial_putc('\n');
  }
  guest_exit(EXIT_SUCCESS);
}
