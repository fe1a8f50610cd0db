#!/bin/sh
# Rebuilds the protected-mode test guests: guests/<name>.S -> guests/<name>.bin (flat, loaded at 0x1000).
# Needs GNU as and ld (binutils) with i386 support; the .bin files are committed so tests run without them.
set -eu
cd "$(dirname "$0")/guests"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in *.S; do
  name=${src%.S}
  as --32 -I . -o "$tmp/$name.o" "$src"
  ld -m elf_i386 --no-warn-rwx-segments -N -Ttext=0x1000 -e _start -o "$tmp/$name.elf" "$tmp/$name.o"
  objcopy -O binary "$tmp/$name.elf" "$name.bin"
done
