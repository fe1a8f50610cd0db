#!/bin/sh
# Rebuilds every guest image in images/ from sources/ with the system's GNU toolchain.
# Output is reproducible for a given toolchain version (recorded in images/TOOLCHAIN).
set -eu
cd "$(dirname "$0")"
OUT=${1:-images}
mkdir -p "$OUT"
SRC=sources
CFLAGS="-m32 -march=i386 -ffreestanding -fno-pic -fno-pie -nostdlib -Os -std=gnu11 -Wall -Wextra -Werror \
  -fno-stack-protector -fno-asynchronous-unwind-tables -fno-builtin -mgeneral-regs-only -mno-red-zone"
LDFLAGS="-m elf_i386 -n --build-id=none -z noexecstack --no-warn-rwx-segments"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cc() { gcc $CFLAGS -c "$1" -o "$TMP/$2"; }

# Real-mode flat binary, loaded at 0x7c00.
gcc -m32 -c "$SRC/hello-real/hello-real.S" -o "$TMP/hello-real.o"
ld -m elf_i386 --build-id=none -Ttext=0x7c00 -e _start "$TMP/hello-real.o" -o "$TMP/hello-real.elf"
objcopy -O binary -j .text "$TMP/hello-real.elf" "$OUT/hello-real.bin"

# Firmware ROM (4 KiB): linked at offset 0xf000 of segment F000, where its alias below 1 MiB starts.
gcc -m32 -c "$SRC/firmware-hello/firmware-hello.S" -o "$TMP/firmware-hello.o"
ld -m elf_i386 --build-id=none -Ttext=0xf000 -e _start "$TMP/firmware-hello.o" -o "$TMP/firmware-hello.elf"
objcopy -O binary -j .text "$TMP/firmware-hello.elf" "$OUT/firmware-hello.rom"

# Multiboot ELF kernels share the entry stub, the serial driver, guest_exit and the linker script.
cc "$SRC/common/multiboot-entry.S" entry.o
cc "$SRC/common/serial.c" serial.o
cc "$SRC/common/exit.c" exit.o
kernel() {
  name=$1; shift
  objs=""
  for src in "$@"; do
    obj="$name-$(basename "$src").o"
    cc "$SRC/$src" "$obj"
    objs="$objs $TMP/$obj"
  done
  # shellcheck disable=SC2086
  ld $LDFLAGS -T "$SRC/common/link.ld" "$TMP/entry.o" "$TMP/serial.o" "$TMP/exit.o" $objs -o "$OUT/$name.elf"
  strip --strip-all "$OUT/$name.elf"
}
COMMON="common/gdt.c common/interrupts.c common/isr.S common/pic-pit.c common/cmos.c"
PAGING=common/paging.c
kernel hello hello/hello.c
# shellcheck disable=SC2086
kernel irq-test irq-test/irq-test.c $COMMON
# shellcheck disable=SC2086
kernel microbench microbench/microbench.c $COMMON
# shellcheck disable=SC2086
kernel demo demo/kernel.c $PAGING demo/user.c demo/cpu-info.c $COMMON
# shellcheck disable=SC2086
kernel sensitive sensitive/kernel.c sensitive/runner.S sensitive/probes-user.S $PAGING $COMMON
# shellcheck disable=SC2086
kernel escape escape/escape.c escape/access.S $COMMON

# minikernel: one kernel source, two builds (bare metal and Xen PV), one embedded user image.
MK=$SRC/minikernel
for src in crt.S ulib.c programs.c; do gcc $CFLAGS -c "$MK/user/$src" -o "$TMP/mk-user-$src.o"; done
ld $LDFLAGS -T "$MK/user/link.ld" "$TMP/mk-user-crt.S.o" "$TMP/mk-user-ulib.c.o" "$TMP/mk-user-programs.c.o" \
  -o "$TMP/mk-user.elf"
objcopy -O binary "$TMP/mk-user.elf" "$TMP/mk-user.bin"
minikernel() {
  name=$1 defines=$2 script=$3; shift 3
  objs=""
  for src in "$@" traps.S user-image.S lib.c console.c mm.c vm.c proc.c main.c; do
    # shellcheck disable=SC2086
    gcc $CFLAGS $defines -DUSER_IMAGE_FILE="\"$TMP/mk-user.bin\"" -c "$MK/$src" -o "$TMP/$name-$src.o"
    objs="$objs $TMP/$name-$src.o"
  done
  # shellcheck disable=SC2086
  ld $LDFLAGS -T "$MK/$script" $objs -o "$OUT/$name.elf"
  strip --strip-all "$OUT/$name.elf"
}
minikernel minikernel -DMK_BARE link-bare.ld boot-bare.S arch-bare.c virtio-blk.c
minikernel minikernel-pv -DMK_PV link-xen.ld boot-xen.S arch-xen.c xenstore.c xen-control.c xen-blkfront.c

printf '%s\n%s\n' "$(gcc --version | head -1)" "$(ld --version | head -1)" > "$OUT/TOOLCHAIN"
