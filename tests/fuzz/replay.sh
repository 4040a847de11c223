#!/bin/sh
# make check: every fuzz target replays its committed seeds (corpus/<target>) and past
# findings (regress/<target>) through its invariants, with the compiler and sanitizers of
# this build. One TAP test per target.
set -u

src=${top_srcdir:-.}/tests/fuzz
bin=${top_builddir:-.}/tests/fuzz
names="cpf settings taskid uri pve snapxml"
tmp=${PRLKIT_TEST_TMPDIR:-${TMPDIR:-/tmp}}

echo "1..6"
n=0
status=0
for name in $names; do
	n=$((n + 1))
	dirs=
	for d in "$src/corpus/$name" "$src/regress/$name"; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	log="$tmp/replay-$name.log"
	# shellcheck disable=SC2086 # a list of directories
	if "$bin/replay-$name" $dirs > "$log" 2>&1; then
		echo "ok $n - replay-$name: $(tail -n 1 "$log")"
	else
		echo "not ok $n - replay-$name"
		tail -n 20 "$log" | sed 's/^/# /'
		status=1
	fi
done
exit $status
