#!/bin/bash
# Fuzzes every target of tests/fuzz for a bounded time and prints TAP (one test per target).
# A crash, a leak, a timeout (one input running longer than FUZZ_TIMEOUT) or a broken
# invariant fails the target; the input that did it is saved and named in the output.
#
#   tests/fuzz/run.sh [TARGET...]           default: every target
#
#   FUZZ_SECONDS   time per target (default 60)
#   FUZZ_JOBS      targets fuzzed at once (default 2)
#   FUZZ_TIMEOUT   seconds one input may take (default 25)
#   PRLKIT_FUZZ_BUILD_DIR   the clang build (default _build/fuzz; built by build.sh first)
#   FUZZ_WORK      where corpora grow and findings go (default <build>/fuzz-work)
#
# The committed seeds (corpus/<target>) and past findings (regress/<target>) start each run;
# the corpus a run grows stays in FUZZ_WORK, never in the source tree. The last lines are
# the counts .ci/run adds up ("# PASS: n" ...).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
timeout=${FUZZ_TIMEOUT:-25}
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(cpf settings taskid uri pve snapxml)

echo "# fuzz: building the fuzzers"
if ! build_log=$("$here/build.sh" 2>&1); then
	printf '%s\n' "$build_log" | tail -n 30 | sed 's/^/# /'
	echo "1..1"
	echo "not ok 1 - build the fuzzers (tests/fuzz/build.sh)"
	printf '# PASS: 0\n# FAIL: 1\n# SKIP: 0\n'
	exit 1
fi
builddir=$(printf '%s\n' "$build_log" | tail -n 1)
work=${FUZZ_WORK:-$builddir/fuzz-work}
mkdir -p "$work"

# fuzz_one NAME: runs in the background; leaves $work/NAME/{log,status}.
fuzz_one() {
	local name=$1 dir=$work/$1 bin=$builddir/tests/fuzz/fuzz-$1 max_len=4096 dict=()
	rm -rf "$dir"
	mkdir -p "$dir/corpus" "$dir/findings"
	cp "$here/corpus/$name/"* "$dir/corpus/" 2>/dev/null
	cp "$here/regress/$name/"* "$dir/corpus/" 2>/dev/null
	[ "$name" = cpf ] && max_len=16384
	[ -f "$here/dict/$name.dict" ] && dict=(-dict="$here/dict/$name.dict")
	# -rss_limit_mb: a run-away allocation is a finding too.
	"$bin" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
		-max_len="$max_len" -print_final_stats=1 -artifact_prefix="$dir/findings/" \
		"${dict[@]}" "$dir/corpus" > "$dir/log" 2>&1
	echo $? > "$dir/status"
}

running=0
for name in "${targets[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	fuzz_one "$name" &
	running=$((running + 1))
done
wait

echo "1..${#targets[@]}"
n=0
pass=0
fail=0
for name in "${targets[@]}"; do
	n=$((n + 1))
	dir=$work/$name
	status=$(cat "$dir/status" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -n 1)
	corpus=$(find "$dir/corpus" -type f | wc -l)
	facts="${execs:-?} executions in ${seconds} s (${rate:-?}/s), corpus $corpus"
	if [ "$status" -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok $n - fuzz-$name: $facts"
	else
		fail=$((fail + 1))
		echo "not ok $n - fuzz-$name: exit status $status after $facts"
		for f in "$dir"/findings/*; do
			[ -f "$f" ] && echo "# finding: $f (reproduce: $builddir/tests/fuzz/fuzz-$name $f)"
		done
		grep -E 'ERROR:|==fuzz==|SUMMARY|runtime error|invariant' "$dir/log" | head -n 20 |
			sed 's/^/# /'
	fi
done
printf '# PASS: %d\n# FAIL: %d\n# SKIP: 0\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
