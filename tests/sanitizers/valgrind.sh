#!/bin/bash
# valgrind memcheck over the unit tests (every GTest program of make check, and the fuzz
# targets replaying their seeds and past findings) and over a full prlkit-cpf RAS session
# (prlkit-cpf-check's protocol tests and workflows against prlkit-cpf on sim): no memory
# error, nothing definitely or indirectly lost (doc/reliability.md).
#
#   tests/sanitizers/valgrind.sh [TEST...]     default: every GTest program of make check
#
#   PRLKIT_BUILD_DIR   the (plain) build to use, default _build/default (built when needed)
#
# Output: make check's lines and summary ("# PASS: n" ..., .ci/run adds them up), then
# TAP-style lines for the replays and the RAS session, and their counts.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
builddir=${PRLKIT_BUILD_DIR:-$top/_build/default}
command -v valgrind > /dev/null || "$top/scripts/install-deps.sh"
if ! PRLKIT_BUILD_DIR=$builddir "$top/scripts/build.sh" > /dev/null 2>&1 ||
   ! make -C "$builddir" -j"${PRLKIT_JOBS:-2}" --no-print-directory check TESTS= > /dev/null 2>&1
then
	echo "valgrind: building $builddir failed (scripts/build.sh)"
	printf '# PASS: 0\n# FAIL: 1\n# SKIP: 0\n'
	exit 1
fi
builddir=$(cd "$builddir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-valgrind.XXXXXX")

# Memory errors and definite/indirect leaks exit 99; "possibly lost" and "still reachable"
# (threads and caches alive at exit) do not count. libtool's execute mode runs the real
# binary behind a wrapper script.
vg="$builddir/libtool --mode=execute valgrind --tool=memcheck --error-exitcode=99
--leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
--num-callers=30 --suppressions=$here/valgrind.supp"

# The GTest programs (not .sh/.py) that make check runs.
if [ "$#" -gt 0 ]; then
	tests="$*"
else
	tests=$(printf 'print-tests:\n\t@echo $(TESTS)\n' |
		make -s -C "$builddir" -f Makefile -f - print-tests | tr ' ' '\n' |
		grep -v -E '\.(sh|py)$' | grep -v '^$' | tr '\n' ' ')
fi
status=0
# Generous: everything runs about 20 times slower.
PRLKIT_TEST_WRAPPER="$vg --log-file=$work/vg.%p.log" \
	make -C "$builddir" -j"${PRLKIT_JOBS:-2}" --no-print-directory check TESTS="$tests" ||
	status=$?

# The fuzz targets' committed seeds and past findings (make check runs them through
# tests/fuzz/replay.sh, which is a script, so they get their own run here).
replay_pass=0
replay_fail=0
for name in cpf settings taskid uri pve snapxml; do
	dirs=
	for d in "$top/tests/fuzz/corpus/$name" "$top/tests/fuzz/regress/$name"; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	# shellcheck disable=SC2086 # word lists
	if $vg --log-file="$work/vg.replay-$name.log" "$builddir/tests/fuzz/replay-$name" $dirs \
		> "$work/replay-$name.out" 2>&1; then
		echo "ok - replay-$name under memcheck: $(tail -n 1 "$work/replay-$name.out")"
		replay_pass=$((replay_pass + 1))
	else
		echo "not ok - replay-$name under memcheck"
		tail -n 5 "$work/replay-$name.out" | sed 's/^/# /'
		replay_fail=$((replay_fail + 1))
	fi
done

# A full RAS session: the provider under memcheck, driven by prlkit-cpf-check.
state=$work/sim
session_log=$work/session.vg.log
# shellcheck disable=SC2086 # $vg is a word list
"$builddir/prlkit-cpf-check" --poll-scale 0 --settle 0.01 --reply-timeout 120 \
	--exit-timeout 60 --set driver=sim --set "state_dir=$state" --set speed=0 \
	--provider-stderr "$work/session.stderr" -- \
	$vg --log-file="$session_log" "$builddir/prlkit-cpf" --driver sim > "$work/session.tap" 2>&1
session=$?
summary=$(grep -E 'definitely lost|indirectly lost|ERROR SUMMARY' "$session_log" | sed 's/==[0-9]*== *//' | tr '\n' ';')
if [ "$session" -eq 0 ] && grep -q 'ERROR SUMMARY: 0 errors' "$session_log"; then
	echo "ok - prlkit-cpf RAS session under memcheck ($(grep -c '^ok' "$work/session.tap") checks passed): $summary"
	session_pass=1
else
	echo "not ok - prlkit-cpf RAS session under memcheck (checker exit $session): $summary"
	grep -E '^not ok' "$work/session.tap" | head -n 10 | sed 's/^/# /'
	grep -A25 -E 'Invalid|uninitialised|definitely lost in|indirectly lost in' "$session_log" |
		head -n 60 | sed 's/^/# /'
	session_pass=0
fi
# Leak and error summaries of every process, for the record.
errors=$(cat "$work"/vg.*.log "$session_log" 2>/dev/null | grep -c 'ERROR SUMMARY: [1-9]')
echo "valgrind: $(ls "$work"/vg.*.log 2>/dev/null | wc -l) test processes checked, $errors with errors (logs in $work)"
for f in "$work"/vg.*.log; do
	grep -q 'ERROR SUMMARY: [1-9]' "$f" 2>/dev/null || continue
	echo "valgrind: $f"
	grep -B2 -A20 -E 'Invalid|uninitialised|definitely lost in|indirectly lost in' "$f" |
		head -n 40 | sed 's/^/    /'
done
printf '# PASS: %d\n# FAIL: %d\n# SKIP: 0\n' $((session_pass + replay_pass)) \
	$((1 - session_pass + replay_fail))
[ "$status" -eq 0 ] && [ "$session_pass" -eq 1 ] && [ "$replay_fail" -eq 0 ]
