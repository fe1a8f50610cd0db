#!/bin/sh
# Rebuilds the test guests from their sources (GNU binutils: as, ld, objcopy): the flat guests
# (compute.bin, acpi-button.bin, io-probe.bin, and the virtio-blk test guests dma-hostile.bin,
# dma-code.bin and disk-flood.bin), linked to load at 1 MiB, and the para-virtual ones
# (pv-hostile.elf, pv-smp.elf: Xen PV kernels linked by pv.ld).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for guest in compute dma-hostile dma-code acpi-button disk-flood io-probe; do
  as --32 -o "$tmp/$guest.o" "$guest.S"
  ld -m elf_i386 -Ttext=0x100000 -e 0x100000 -o "$tmp/$guest.elf" "$tmp/$guest.o"
  objcopy -O binary -j .text "$tmp/$guest.elf" "$guest.bin"
done
for guest in pv-hostile pv-smp; do
  as --32 -o "$tmp/$guest.o" "$guest.S"
  ld -m elf_i386 --no-warn-rwx-segments -s -T pv.ld -o "$guest.elf" "$tmp/$guest.o"
done
