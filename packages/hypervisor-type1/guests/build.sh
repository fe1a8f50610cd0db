#!/bin/sh
# Rebuilds compute.bin from compute.S (GNU binutils: as, ld, objcopy); linked to load at 1 MiB.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
as --32 -o "$tmp/compute.o" compute.S
ld -m elf_i386 -Ttext=0x100000 -e 0x100000 -o "$tmp/compute.elf" "$tmp/compute.o"
objcopy -O binary -j .text "$tmp/compute.elf" compute.bin
