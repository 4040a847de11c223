#!/bin/bash
# ThreadSanitizer over prlkit's concurrency tests (doc/reliability.md): a build configured
# with --enable-tsan, GLib's synchronization made visible to TSan by the preloaded shim
# tests/sanitizers/tsan-glib.c, GLib internals suppressed by tests/sanitizers/tsan.supp.
# Any report fails the test that produced it (TSan's exit code 66) and the run.
#
#   tests/sanitizers/tsan.sh [TEST...]     default: $TSAN_TESTS, else the concurrency tests
#
#   PRLKIT_TSAN_BUILD_DIR   the build (default _build/tsan; configured when needed)
#   TSAN_TESTS              tests to run (make check TESTS=...); "all" = the whole make check
#
# Output: make check's lines and summary ("# PASS: n" ..., which .ci/run adds up), then
# the reports, if any.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
builddir=${PRLKIT_TSAN_BUILD_DIR:-$top/_build/tsan}
default_tests="tests/unit/test-pool tests/unit/test-concurrency tests/unit/test-jobs tests/unit/test-events
tests/unit/test-taskid tests/unit/test-vm tests/drivers/test-sim tests/cpf/concurrent.py
tests/cpf/restart.py tests/soak/quick.py tests/fuzz/replay.sh"
tests=${*:-${TSAN_TESTS:-$default_tests}}

counts() { printf '# PASS: %d\n# FAIL: %d\n# SKIP: %d\n' "$1" "$2" "${3:-0}"; }

mkdir -p "$(dirname "$builddir")"
if ! PRLKIT_BUILD_DIR=$builddir "$top/scripts/build.sh" --enable-tsan > "$builddir.build.log" 2>&1; then
	tail -n 30 "$builddir.build.log"
	echo "tsan: the --enable-tsan build failed (log: $builddir.build.log)"
	counts 0 1
	exit 1
fi
# The shim is not instrumented and links nothing but libdl: preloading it into make, the
# shell or python is harmless.
shim=$builddir/libpk-tsan-glib.so
# shellcheck disable=SC2046 # pkg-config prints a word list
if ! ${CC:-cc} -shared -fPIC -O2 -g -Wall $(pkg-config --cflags glib-2.0) \
	"$here/tsan-glib.c" -o "$shim" -ldl; then
	echo "tsan: cannot build the shim"
	counts 0 1
	exit 1
fi

export LD_PRELOAD=$shim${LD_PRELOAD:+:$LD_PRELOAD}
export G_SLICE=always-malloc
# Reports of every process (test programs and the prlkit-cpf they start) go to files.
reports_dir=$builddir/tsan-reports
rm -rf "$reports_dir"
mkdir -p "$reports_dir"
export TSAN_OPTIONS="suppressions=$here/tsan.supp second_deadlock_stack=1 log_path=$reports_dir/tsan ${TSAN_OPTIONS:-}"
rm -f "$builddir/test-suite.log"
status=0
if [ "$tests" = all ]; then
	make -C "$builddir" -j"${PRLKIT_JOBS:-2}" --no-print-directory check || status=$?
else
	# shellcheck disable=SC2086 # a list of tests
	make -C "$builddir" -j"${PRLKIT_JOBS:-2}" --no-print-directory check TESTS="$(echo $tests)" ||
		status=$?
fi
reports=$(cat "$reports_dir"/tsan.* 2>/dev/null | grep -c 'WARNING: ThreadSanitizer' || true)
echo "tsan: ${reports:-0} ThreadSanitizer report(s) (in $reports_dir)"
for f in "$reports_dir"/tsan.*; do
	[ -f "$f" ] || continue
	echo "tsan: $f:"
	grep -E 'WARNING|^    #[0-3] |^  (Previous|Write|Read|Location)' "$f" | head -n 40 | sed 's/^/    /'
done
if [ "${reports:-0}" -gt 0 ]; then
	# Counted once more: a report in a provider a test started may not fail that test.
	counts 0 1
fi
[ "$status" -eq 0 ] && [ "${reports:-0}" -eq 0 ]
