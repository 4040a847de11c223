#!/bin/sh
# TAP: the dynamic symbols libprlkit.so exports are exactly the functions declared in the
# public headers — every declared function is exported, nothing else is (DESIGN §3: only
# Prl* symbols, through src/libprlkit.sym).
set -eu

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${top_builddir:-.}
lib=$builddir/.libs/libprlkit.so
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-exports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "1..4"
if [ ! -f "$lib" ]; then
	echo "Bail out! $lib not built (run make first)"
	exit 1
fi

n=0
result() { # result OK|FAIL DESCRIPTION DIAG-FILE
	n=$((n + 1))
	if [ "$1" = OK ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		sed 's/^/# /' "$3"
	fi
}

sh "$srcdir/scripts/public-functions.sh" "$srcdir" > "$tmp/decl-full"
awk '{print $1}' "$tmp/decl-full" | sort -u > "$tmp/declared"

# Defined dynamic symbols, version suffix (@@PRLKIT_1.0) stripped; "A" entries are the
# version nodes themselves, not symbols.
nm -D --defined-only "$lib" > "$tmp/nm"
awk '$2 != "A" { s = $3; sub(/@.*/, "", s); print s }' "$tmp/nm" | sort -u > "$tmp/exported"

if [ -s "$tmp/declared" ]; then
	result OK "public headers declare $(wc -l < "$tmp/declared") functions" /dev/null
else
	echo "no declarations found" > "$tmp/diag"
	result FAIL "public headers declare functions" "$tmp/diag"
fi

comm -23 "$tmp/declared" "$tmp/exported" | sed 's/^/declared but not exported: /' > "$tmp/missing"
if [ -s "$tmp/missing" ]; then
	result FAIL "every declared function is exported ($(wc -l < "$tmp/missing") missing)" "$tmp/missing"
else
	result OK "every declared function is exported" /dev/null
fi

comm -13 "$tmp/declared" "$tmp/exported" | sed 's/^/exported but not declared: /' > "$tmp/extra"
if [ -s "$tmp/extra" ]; then
	result FAIL "nothing but the declared functions is exported ($(wc -l < "$tmp/extra") extra)" "$tmp/extra"
else
	result OK "nothing but the declared functions is exported" /dev/null
fi

# Every exported function carries the library's symbol version.
awk '$2 != "A" && $3 !~ /@@?PRLKIT_/ { print "unversioned: " $3 }' "$tmp/nm" > "$tmp/unversioned"
if [ -s "$tmp/unversioned" ]; then
	result FAIL "every export has a PRLKIT_* symbol version" "$tmp/unversioned"
else
	result OK "every export has a PRLKIT_* symbol version" /dev/null
fi
