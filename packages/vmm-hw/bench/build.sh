#!/bin/sh
# Rebuilds out-loop.bin from out-loop.S (binutils: as, ld, objcopy), linked to load at 1000h.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
as --32 -o "$tmp/out-loop.o" out-loop.S
ld -m elf_i386 -Ttext=0x1000 -e 0 -o "$tmp/out-loop.elf" "$tmp/out-loop.o"
objcopy -O binary -j .text "$tmp/out-loop.elf" out-loop.bin
