#!/bin/sh
# TAP: the committed doc/support-matrix.md is what doc/gen-support-matrix prints from the
# drivers' feature bits (DESIGN §6: generated, never hand-written).
#
# A driver that is not built into this library cannot be checked here: its column is
# skipped, and the rest of the page is compared with the table cells of every column that
# is not built masked out. With every driver built the whole page must match byte for byte.
# Fix a mismatch with `make update-support-matrix` in a build that has every driver.
set -eu

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
gen=$builddir/doc/gen-support-matrix
page=$srcdir/doc/support-matrix.md

tmp=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-matrix.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ ! -x "$gen" ]; then
	echo "1..0 # SKIP $gen not built"
	exit 0
fi
ncol=$("$gen" --columns)
echo "1..$((ncol + 2))"

n=0
if [ -f "$page" ]; then
	n=$((n + 1)); echo "ok $n - doc/support-matrix.md exists"
else
	n=$((n + 1)); echo "not ok $n - doc/support-matrix.md exists"
	: > "$tmp/empty.md"
	page=$tmp/empty.md
fi

# Column k (0-based) of the feature table (the first table, before any "## " heading) as "FEATURE yes|no|n/a" lines.
column_of() { # column_of PAGE K
	awk -F'|' -v k="$2" '/^## / { exit } /^\| `PRLK_FEAT_/ {
		name = $2; gsub(/[ `]/, "", name); v = $(4 + k); gsub(/ /, "", v); print name, v }' "$1"
}

"$gen" > "$tmp/generated.md"
all_built=yes
i=0
while [ $i -lt "$ncol" ]; do
	n=$((n + 1))
	status=0
	"$gen" --column $i > "$tmp/col" 2> "$tmp/err" || status=$?
	label=$(sed -n 's/^| feature | meaning |//p' "$tmp/generated.md" |
		awk -F'|' -v k=$((i + 1)) '{ v = $k; sub(/^ /, "", v); sub(/ $/, "", v); print v }')
	if [ $status -eq 77 ]; then
		all_built=no
		echo "ok $n # SKIP column '$label': $(cat "$tmp/err")"
	elif [ $status -ne 0 ]; then
		echo "not ok $n - column '$label' (gen-support-matrix failed)"
		sed 's/^/# /' "$tmp/err"
	else
		column_of "$page" $i > "$tmp/committed-col"
		if diff -u "$tmp/committed-col" "$tmp/col" > "$tmp/diff"; then
			echo "ok $n - column '$label' matches the driver's feature bits"
		else
			echo "not ok $n - column '$label' matches the driver's feature bits (run make update-support-matrix)"
			sed 's/^/# /' "$tmp/diff"
		fi
	fi
	i=$((i + 1))
done

# The rest of the page: feature-table driver cells dropped, "n/a:" notes dropped.
mask() {
	awk -F'|' '/^## / { tail = 1 } !tail && /^\| `PRLK_FEAT_/ { print "|" $2 "|" $3 "|"; next } /^n\/a: / { next } { print }' "$1" |
		cat -s
}
n=$((n + 1))
if [ $all_built = yes ]; then
	cp "$tmp/generated.md" "$tmp/want"; cp "$page" "$tmp/have"; what="the whole page"
else
	mask "$tmp/generated.md" > "$tmp/want"; mask "$page" > "$tmp/have"
	what="the page apart from the columns of drivers not built"
fi
if diff -u "$tmp/have" "$tmp/want" > "$tmp/diff"; then
	echo "ok $n - $what matches gen-support-matrix"
else
	echo "not ok $n - $what matches gen-support-matrix (run make update-support-matrix)"
	sed 's/^/# /' "$tmp/diff"
fi
