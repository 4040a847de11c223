#!/bin/sh
# make check: every benchmark runs in quick mode and prints valid JSON lines with the
# fields name (string), n (integer > 0), median and p99 (numbers), unit (string).
# Timings are never judged here. Speaks TAP.
set -u

: "${top_builddir:?run by make check (top_builddir is not set)}"

tmp=$(mktemp -d "${PRLKIT_TEST_TMPDIR:-${TMPDIR:-/tmp}}/bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export TMPDIR="$tmp"

echo "1..3"

if "$top_builddir/bench/bench-core" --quick > "$tmp/out" 2> "$tmp/err"; then
	echo "ok 1 - bench-core --quick runs"
else
	sed 's/^/# /' "$tmp/err"
	echo "not ok 1 - bench-core --quick runs"
fi
sed 's/^/# /' "$tmp/out"

# Every line a JSON object with exactly the expected fields and types.
if command -v python3 > /dev/null 2>&1; then
	python3 - "$tmp/out" > "$tmp/check" 2>&1 <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
if not lines:
    sys.exit("no output")
for line in lines:
    o = json.loads(line)
    assert isinstance(o, dict), line
    assert sorted(o) == ["median", "n", "name", "p99", "unit"], line
    assert isinstance(o["name"], str) and o["name"], line
    assert isinstance(o["n"], int) and o["n"] > 0, line
    for k in ("median", "p99"):
        assert isinstance(o[k], (int, float)) and o[k] >= 0, line
    assert o["p99"] >= o["median"], line
    assert o["unit"] in ("ns", "us", "ms", "s"), line
PY
else
	# No python3: a strict pattern for the one shape bench-core prints.
	re='^{"name":"[a-z0-9_]*","n":[1-9][0-9]*,"median":[0-9.]*,"p99":[0-9.]*,"unit":"[a-z]*"}$'
	if [ -s "$tmp/out" ] && ! grep -v -e "$re" "$tmp/out" > "$tmp/check"; then
		: > "$tmp/check"
	else
		echo "a line does not match $re" >> "$tmp/check"
		false
	fi
fi
if [ $? -eq 0 ]; then
	echo "ok 2 - every line is a JSON object with name, n, median, p99, unit"
else
	sed 's/^/# /' "$tmp/check"
	echo "not ok 2 - every line is a JSON object with name, n, median, p99, unit"
fi

missing=
for name in handle_create_free handle_addref_free job_round_trip vm_list_100 vm_list_100_walk \
            vm_list_identity_100 vm_list_identity_100_walk; do
	grep -q "\"name\":\"$name\"" "$tmp/out" || missing="$missing $name"
done
if [ -z "$missing" ]; then
	echo "ok 3 - every core benchmark reports"
else
	echo "# missing:$missing"
	echo "not ok 3 - every core benchmark reports"
fi
