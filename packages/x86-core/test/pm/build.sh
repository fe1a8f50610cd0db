#!/bin/sh
# Rebuilds the protected-mode test guests: guests/<name>.S -> guests/<name>.bin (flat, loaded at 0x1000), and
# guests/byte-reports/<name>.bin, the same guest reporting bytewise for QEMU's isa-debugcon (the
# differential test runs those under QEMU when it is installed).
# Needs GNU as and ld (binutils) with i386 support; the .bin files are committed so tests run without them.
set -eu
here=$(dirname "$0")
exec "$here/../support/build-guests.sh" "$here/guests" 32
