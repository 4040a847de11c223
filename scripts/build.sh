#!/bin/sh
# Configures (when needed) and builds prlkit; used by demo.sh, test.sh and .ci/run.
#
#   scripts/build.sh [CONFIGURE-ARGUMENT...]    build, print the build directory last
#   scripts/build.sh --print-builddir           only print where the build is
#
# The build goes to $PRLKIT_BUILD_DIR, default _build/default (out of tree), unless the
# source tree itself was configured (./configure run in place): then it builds there.
# configure runs again when its arguments change. Parallelism: $PRLKIT_JOBS (default 2).
# After scripts/build.sh, `make -C <build directory> check` etc. work as usual.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

if [ -f "$top/config.status" ]; then
	builddir=$top
else
	builddir=${PRLKIT_BUILD_DIR:-$top/_build/default}
fi

if [ "${1:-}" = --print-builddir ]; then
	echo "$builddir"
	exit 0
fi

if [ ! -x "$top/configure" ]; then
	echo "build: ./autogen.sh"
	(cd "$top" && ./autogen.sh > /dev/null)
fi

mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)
args="$*"
# Configure when there is no configured build yet, or when the arguments differ from the
# ones this script used last (a build configured by hand is kept unless given arguments).
record="$builddir/.prlkit-configure-args"
if [ ! -f "$builddir/config.status" ] || [ ! -f "$builddir/Makefile" ] ||
   { [ -f "$record" ] && [ "$(cat "$record")" != "$args" ]; } ||
   { [ ! -f "$record" ] && [ -n "$args" ]; }; then
	echo "build: configure $args (in $builddir)"
	(cd "$builddir" && "$top/configure" -q "$@")
	printf '%s\n' "$args" > "$record"
fi

echo "build: make -j${PRLKIT_JOBS:-2} (in $builddir)"
make -C "$builddir" -j"${PRLKIT_JOBS:-2}" --no-print-directory
echo "$builddir"
