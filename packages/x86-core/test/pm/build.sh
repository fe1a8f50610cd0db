#!/bin/sh
# Rebuilds the protected-mode test guests: guests/<name>.S -> guests/<name>.bin (flat, loaded at 0x1000),
# and guests/byte-reports/<name>.bin, the same guest reporting bytewise for QEMU's isa-debugcon (the
# differential test runs those under QEMU when it is installed).
# Needs GNU as and ld (binutils) with i386 support; the .bin files are committed so tests run without them.
set -eu
cd "$(dirname "$0")/guests"
mkdir -p byte-reports
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build() { # source, output, extra as flags
  as --32 -I . $3 -o "$tmp/out.o" "$1"
  ld -m elf_i386 --no-warn-rwx-segments -N -Ttext=0x1000 -e _start -o "$tmp/out.elf" "$tmp/out.o"
  objcopy -O binary "$tmp/out.elf" "$2"
}
for src in *.S; do
  name=${src%.S}
  build "$src" "$name.bin" ""
  build "$src" "byte-reports/$name.bin" "--defsym BYTE_REPORTS=1"
done
