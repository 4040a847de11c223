#!/bin/sh
# Installs what is missing, builds, runs the whole test suite (make check) and prints
# the summary. Exit status: 0 when every test passed.
#
#   scripts/test.sh [CONFIGURE-ARGUMENT...]     e.g. scripts/test.sh --enable-sanitizers
#
# Build directory: see scripts/build.sh ($PRLKIT_BUILD_DIR, default _build/default).
# Logs: <build directory>/test-suite.log and one .log per test next to it.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=${PRLKIT_JOBS:-2}

"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$@"
builddir=$(PRLKIT_BUILD_DIR=${PRLKIT_BUILD_DIR:-} "$top/scripts/build.sh" --print-builddir)

echo "test: make -j$jobs check (in $builddir)"
log="$builddir/test-suite.log"
rm -f "$log"
status=0
make -C "$builddir" -j"$jobs" --no-print-directory check || status=$?

# One line of totals (automake printed its summary above) and where to look.
if [ ! -f "$log" ]; then
	echo "test: no test-suite.log: the build or the test harness failed" >&2
	exit 1
fi
count() { sed -n "s/^# $1: *\([0-9][0-9]*\)\$/\1/p" "$log" | head -n 1; }
pass=$(count PASS); xfail=$(count XFAIL); skip=$(count SKIP)
fail=$(count FAIL); xpass=$(count XPASS); error=$(count ERROR)
passed=$(( ${pass:-0} + ${xfail:-0} ))
failed=$(( ${fail:-0} + ${xpass:-0} + ${error:-0} ))
if [ "$failed" -gt 0 ]; then
	echo "test: failed tests (logs next to $log):"
	sed -n 's/^\(FAIL\|ERROR\|XPASS\): /  \1: /p' "$log"
fi
echo "test: ${skip:-0} skipped; details in $log"
echo "$passed passed, $failed failed"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	echo "test: make check failed outside the tests (exit status $status)" >&2
fi
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
