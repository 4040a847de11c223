#!/bin/sh
# Builds the libFuzzer targets of tests/fuzz: a separate build configured with
# CC=clang --enable-fuzzing (the whole library instrumented for coverage, with ASan + UBSan),
# then `make fuzz` there.
#
#   tests/fuzz/build.sh [BUILDDIR]      default $PRLKIT_FUZZ_BUILD_DIR or _build/fuzz
#
# Needs clang and its runtimes (scripts/install-deps.sh installs them). Prints the build
# directory last; the fuzzers are BUILDDIR/tests/fuzz/fuzz-<name>.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${1:-${PRLKIT_FUZZ_BUILD_DIR:-$top/_build/fuzz}}
args="CC=clang --enable-fuzzing"

if ! command -v clang > /dev/null 2>&1; then
	echo "fuzz-build: clang missing; scripts/install-deps.sh" >&2
	"$top/scripts/install-deps.sh"
fi
if [ -f "$top/config.status" ]; then
	echo "fuzz-build: the source tree is configured in place; a second, out-of-tree build" >&2
	echo "fuzz-build: needs it clean (make distclean there), or use a separate clone" >&2
	exit 1
fi
if [ ! -x "$top/configure" ]; then
	echo "fuzz-build: ./autogen.sh"
	(cd "$top" && ./autogen.sh > /dev/null)
fi
mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)
if [ ! -f "$builddir/Makefile" ] ||
   [ "$(cat "$builddir/.prlkit-configure-args" 2>/dev/null || echo none)" != "$args" ]; then
	echo "fuzz-build: configure $args (in $builddir)"
	# shellcheck disable=SC2086 # $args is a word list
	(cd "$builddir" && "$top/configure" -q $args)
	printf '%s\n' "$args" > "$builddir/.prlkit-configure-args"
fi
echo "fuzz-build: make fuzz (in $builddir)"
make -C "$builddir" -j"${PRLKIT_JOBS:-2}" --no-print-directory fuzz
echo "$builddir"
