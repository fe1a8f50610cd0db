#!/bin/sh
# Rebuilds the test guests' flat binaries from their GNU as sources (all linked to load at 1000h).
# Usage: sh build.sh   (needs binutils: as, ld, objcopy)
set -eu
cd "$(dirname "$0")"
LOAD=0x1000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in *.S; do
  name=${src%.S}
  case $name in
    long64) as_flags=--64; ld_emul=elf_x86_64 ;;
    *) as_flags=--32; ld_emul=elf_i386 ;;
  esac
  as $as_flags -o "$tmp/$name.o" "$src"
  ld -m $ld_emul -Ttext=$LOAD -e 0 -o "$tmp/$name.elf" "$tmp/$name.o"
  objcopy -O binary -j .text "$tmp/$name.elf" "$name.bin"
done
