#!/bin/sh
# Rebuilds the 64-bit test guests (<name>.bin and byte-reports/<name>.bin, both committed); needs
# binutils with x86-64 support.
set -eu
here=$(dirname "$0")
exec "$here/../../support/build-guests.sh" "$here" 64
