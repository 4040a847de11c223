#!/bin/sh
# Regenerate the build system: ./autogen.sh && ./configure && make
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --force --install --verbose
# The TAP driver ships with automake but autoreconf does not install it.
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/tap-driver.sh
