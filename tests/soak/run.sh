#!/bin/sh
# The full load, soak and crash tests (tests/soak/full.py) against a built tree; TAP, then
# the counts .ci/run adds up ("# PASS: n" ...). SOAK-FIGURES lines carry the measurements.
#
#   tests/soak/run.sh            build directory: $PRLKIT_BUILD_DIR or _build/default
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${PRLKIT_BUILD_DIR:-$top/_build/default}
if [ ! -x "$builddir/prlkit-cpf" ]; then
	PRLKIT_BUILD_DIR=$builddir "$top/scripts/build.sh" > /dev/null || exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-soak.XXXXXX")
out=$tmp/soak.tap
top_srcdir=$top top_builddir=$(cd "$builddir" && pwd) PRLKIT_TEST_TMPDIR=$tmp \
	python3 "$top/tests/soak/full.py" > "$out" 2>&1
status=$?
cat "$out"
pass=$(grep -c '^ok ' "$out")
fail=$(grep -c '^not ok ' "$out")
[ "$status" -eq 0 ] || [ "$fail" -gt 0 ] || fail=1
printf '# PASS: %d\n# FAIL: %d\n# SKIP: 0\n' "$pass" "$fail"
rm -rf "$tmp"
[ "$status" -eq 0 ] && [ "$fail" -eq 0 ]
