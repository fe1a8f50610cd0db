#!/bin/sh
# Builds the flat test guests of a directory: <dir>/<name>.S -> <dir>/<name>.bin (linked at 0x1000) and
# <dir>/byte-reports/<name>.bin (the same guest reporting bytewise, for QEMU's isa-debugcon).
# Usage: build-guests.sh DIR 32|64. Needs GNU as, ld and objcopy (binutils) for that architecture.
set -eu
cd "$1"
case "$2" in
  32) as_flags=--32 emulation=elf_i386 ;;
  64) as_flags=--64 emulation=elf_x86_64 ;;
  *) echo "build-guests.sh: architecture 32 or 64, not '$2'" >&2; exit 2 ;;
esac
mkdir -p byte-reports
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build() { # source, output, extra as flags
  as $as_flags -I . $3 -o "$tmp/out.o" "$1"
  ld -m $emulation --no-warn-rwx-segments -N -Ttext=0x1000 -e _start -o "$tmp/out.elf" "$tmp/out.o"
  objcopy -O binary "$tmp/out.elf" "$2"
}
for src in *.S; do
  name=${src%.S}
  build "$src" "$name.bin" ""
  build "$src" "byte-reports/$name.bin" "--defsym BYTE_REPORTS=1"
done
