#!/bin/sh
# TAP: the documentation agrees with the code.
# - every public function has doc/reference/NAME.md, and every entry there names one;
# - each entry starts with "# NAME", shows the exact declaration of the header, says
#   whether the call is synchronous or asynchronous (with its PJOC_* op code), has Errors and
#   Drivers sections, and carries "prlkit extension" exactly when PrlApiExt.h declares it;
# - the feature an entry names agrees with doc/support-matrix.md's function table;
# - doc/reference/README.md links every entry; every doc page is distributed;
# - every Prl*_* name and every relative link in doc/ points at something that exists;
# - every installed program has a man page that is distributed.
set -eu

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
ref=$srcdir/doc/reference
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
check() { # check DESCRIPTION DIAG-FILE : ok when DIAG-FILE is empty
	n=$((n + 1))
	if [ -s "$2" ]; then
		echo "not ok $n - $1"
		sed 's/^/# /' "$2"
	else
		echo "ok $n - $1"
	fi
}

echo "1..12"

sh "$srcdir/scripts/public-functions.sh" "$srcdir" > "$tmp/functions"      # NAME KIND HEADER
sh "$srcdir/scripts/public-functions.sh" --signatures "$srcdir" > "$tmp/signatures"
awk '{ print $1 }' "$tmp/functions" > "$tmp/names"
(cd "$ref" 2>/dev/null && ls *.md 2>/dev/null) | grep -v '^README\.md$' | sed 's/\.md$//' |
	sort > "$tmp/entries" || :

comm -23 "$tmp/names" "$tmp/entries" | sed 's/^/no doc\/reference entry: /' > "$tmp/d"
check "every public function has a doc/reference entry" "$tmp/d"

comm -13 "$tmp/names" "$tmp/entries" | sed 's/^/entry for a function that does not exist: /' > "$tmp/d"
check "every doc/reference entry names a public function" "$tmp/d"

# Signature: the first ```c block, joined and spaced like public-functions.sh --signatures.
normalize='{ s = s " " $0 }
END { gsub(/[ \t]+/, " ", s); gsub(/\( /, "(", s); gsub(/ \)/, ")", s); gsub(/ ,/, ",", s)
      gsub(/ \(/, "(", s); sub(/^ /, "", s); sub(/ $/, "", s); print s }'
: > "$tmp/d"
while read -r name kind header; do
	f=$ref/$name.md
	[ -f "$f" ] || continue
	[ "$(head -n 1 "$f")" = "# $name" ] || echo "$name: first line is not '# $name'" >> "$tmp/d"
	want=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$tmp/signatures")
	have=$(awk '/^```c$/ && !done { on = 1; next } on && /^```$/ { on = 0; done = 1 } on' "$f" |
		awk "$normalize")
	[ "$have" = "$want" ] || printf '%s: signature differs from the header\n  doc:    %s\n  header: %s\n' \
		"$name" "$have" "$want" >> "$tmp/d"
done < "$tmp/functions"
check "every entry starts with its name and shows the header's exact declaration" "$tmp/d"

: > "$tmp/d"
while read -r name kind header; do
	f=$ref/$name.md
	[ -f "$f" ] || continue
	if [ "$kind" = async ]; then
		grep -q '^\*\*Asynchronous\*\*' "$f" || echo "$name: no '**Asynchronous**' line" >> "$tmp/d"
		grep -q 'PJOC_[A-Z_]*' "$f" || echo "$name: async but names no PJOC_* op code" >> "$tmp/d"
	else
		grep -q '^\*\*Synchronous\*\*' "$f" || echo "$name: no '**Synchronous**' line" >> "$tmp/d"
	fi
	for s in Errors Drivers; do
		grep -q "^## $s\$" "$f" || echo "$name: no '## $s' section" >> "$tmp/d"
	done
done < "$tmp/functions"
check "every entry says sync/async (with op code) and has Errors and Drivers sections" "$tmp/d"

: > "$tmp/d"
while read -r name kind header; do
	f=$ref/$name.md
	[ -f "$f" ] || continue
	if [ "$header" = PrlApiExt.h ]; then
		grep -qi 'prlkit extension' "$f" || echo "$name: declared in PrlApiExt.h but not marked 'prlkit extension'" >> "$tmp/d"
	else
		! grep -qi 'prlkit extension' "$f" || echo "$name: an SDK function marked 'prlkit extension'" >> "$tmp/d"
	fi
done < "$tmp/functions"
check "entries are marked 'prlkit extension' exactly when PrlApiExt.h declares them" "$tmp/d"

# The support matrix's function table: "| `PRLK_FEAT_X` | PrlA, PrlB ... |". An entry's
# Drivers section must name the feature the matrix gives for it (and the matrix must list
# every function whose entry says it needs a feature).
: > "$tmp/d"
matrix=$srcdir/doc/support-matrix.md
if [ -f "$matrix" ]; then
	awk -F'|' '/^## Functions that need a feature/ { on = 1; next } on && /^\| `PRLK_FEAT_/ {
		feat = $2; gsub(/[ `]/, "", feat)
		s = $3; gsub(/\([^)]*\)/, "", s)
		m = split(s, w, /[^A-Za-z0-9_]+/)
		for (i = 1; i <= m; i++) if (w[i] ~ /^Prl[A-Za-z]+_[A-Za-z0-9]+$/) print w[i], feat }' \
		"$matrix" | sort -u > "$tmp/matrix-map"
	while read -r fn feat; do
		f=$ref/$fn.md
		[ -f "$f" ] || { echo "support matrix names $fn, which has no entry" >> "$tmp/d"; continue; }
		awk '/^## Drivers$/ { on = 1; next } on && /^## / { exit } on' "$f" | grep -qF "$feat" ||
			echo "$fn: Drivers section does not name $feat (doc/support-matrix.md does)" >> "$tmp/d"
	done < "$tmp/matrix-map"
	for f in "$ref"/*.md; do
		fn=$(basename "$f" .md)
		[ "$fn" = README ] && continue
		awk '/^## Drivers$/ { on = 1; next } on && /^## / { exit } on && /Needs/' "$f" |
			grep -o 'PRLK_FEAT_[A-Z_]*' | sort -u | while read -r feat; do
			grep -qx "$fn $feat" "$tmp/matrix-map" ||
				echo "$fn: needs $feat, but doc/support-matrix.md does not list it there" >> "$tmp/d"
		done
	done
else
	echo "doc/support-matrix.md is missing" >> "$tmp/d"
fi
check "features named in entries agree with doc/support-matrix.md" "$tmp/d"

: > "$tmp/d"
if [ -f "$ref/README.md" ]; then
	while read -r name; do
		grep -qF "]($name.md)" "$ref/README.md" || echo "README.md does not link $name.md" >> "$tmp/d"
	done < "$tmp/entries"
else
	echo "doc/reference/README.md is missing" >> "$tmp/d"
fi
check "doc/reference/README.md links every entry" "$tmp/d"

# Distributed: every doc/**/*.md (and doc/man/*) appears in some Makefile fragment.
find "$srcdir" \( -name Makefile.am -o -name 'Makefile*.inc' \) ! -path '*/autom4te.cache/*' \
	-exec cat {} + > "$tmp/makefiles"
(cd "$srcdir" && find doc -type f \( -name '*.md' -o -path 'doc/man/*' \)) | sort |
	while read -r p; do
		grep -qF "$p" "$tmp/makefiles" || echo "not distributed (in no Makefile fragment): $p"
	done > "$tmp/d"
check "every doc page is listed in a Makefile fragment (distributed)" "$tmp/d"

# Names: every PrlXxx_Yyy token in doc/ is a public function ("PrlVmCfg_*" style
# wildcards are fine). Fenced code blocks count too: examples must compile against the API.
find "$srcdir/doc" -name '*.md' | sort > "$tmp/pages"
: > "$tmp/d"
while read -r f; do
	grep -o 'Prl[A-Za-z]*_[A-Za-z0-9]*[*]\{0,1\}' "$f" | grep -v '[*]$' | sort -u |
		while read -r tok; do
			grep -qx "$tok" "$tmp/names" || echo "${f#"$srcdir"/}: unknown function $tok"
		done
done < "$tmp/pages" >> "$tmp/d"
check "every Prl*_* name in doc/ is a public function" "$tmp/d"

# Relative links: [text](path.md) and (path.md#anchor) resolve to files.
: > "$tmp/d"
while read -r f; do
	dir=$(dirname "$f")
	grep -o '\]([^)#]*[^)]*)' "$f" | sed 's/^](//; s/)$//; s/#.*//' | grep -v '^[a-z]*:' |
		grep -v '^$' | sort -u | while read -r target; do
			[ -e "$dir/$target" ] || echo "${f#"$srcdir"/}: broken link $target"
		done
done < "$tmp/pages" >> "$tmp/d"
check "every relative link in doc/ resolves" "$tmp/d"

# Programs installed (bin_PROGRAMS / bin_SCRIPTS in any fragment, conditional or not) have a
# man page doc/man/NAME.N listed in some fragment.
awk '/^[ \t]*bin_(PROGRAMS|SCRIPTS)[ \t]*\+?=/ { on = 1; sub(/^[^=]*=/, "") }
     on { line = $0; cont = sub(/\\[ \t]*$/, "", line); print line; if (!cont) on = 0 }' \
	"$tmp/makefiles" | tr ' \t' '\n\n' | grep -v '^$' | sed 's|.*/||; s/\$(EXEEXT)$//' |
	sort -u > "$tmp/programs"
: > "$tmp/d"
while read -r prog; do
	page=$(cd "$srcdir" && ls "doc/man/$prog".[1-8] 2>/dev/null | head -n 1)
	if [ -z "$page" ]; then
		echo "program $prog has no man page doc/man/$prog.N" >> "$tmp/d"
	elif ! grep -qF "$page" "$tmp/makefiles"; then
		echo "man page $page is not in dist_man_MANS" >> "$tmp/d"
	fi
done < "$tmp/programs"
check "every installed program ($(tr '\n' ' ' < "$tmp/programs")) has a distributed man page" "$tmp/d"

: > "$tmp/d"
for p in doc/README.md doc/api-overview.md doc/errors.md doc/drivers/README.md; do
	[ -f "$srcdir/$p" ] || echo "missing $p" >> "$tmp/d"
done
check "the guide pages exist" "$tmp/d"
