#!/bin/sh
# Rebuilds the flat guests (compute.bin, and the virtio-blk test guests dma-hostile.bin and
# dma-code.bin) from their sources (GNU binutils: as, ld, objcopy); linked to load at 1 MiB.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for guest in compute dma-hostile dma-code; do
  as --32 -o "$tmp/$guest.o" "$guest.S"
  ld -m elf_i386 -Ttext=0x100000 -e 0x100000 -o "$tmp/$guest.elf" "$tmp/$guest.o"
  objcopy -O binary -j .text "$tmp/$guest.elf" "$guest.bin"
done
