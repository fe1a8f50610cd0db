#!/bin/sh
# Rebuilds the benchmark guest images from their sources with the GNU toolchain (as, ld, objcopy).
set -eu
cd "$(dirname "$0")"
as --32 -o /tmp/cpu-loop.o cpu-loop.S
ld -m elf_i386 -Ttext=0x10000 -e _start -o /tmp/cpu-loop.elf /tmp/cpu-loop.o
objcopy -O binary /tmp/cpu-loop.elf cpu-loop.bin
rm -f /tmp/cpu-loop.o /tmp/cpu-loop.elf
