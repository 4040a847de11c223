#!/bin/sh
# TAP: the error table PRLK_ERROR_LIST (include/prlkit/PrlErrorsValues.h) is sound and
# documented:
# - names and values are unique, every code has a non-empty description;
# - values follow the SDK rule (DESIGN §7): success is 0, a failure is 0x80000000 plus the
#   decimal ordinal written as hex digits (so only the digits 0-9 appear), ordinals stay
#   below 10000 except the SDK's own high codes listed in $high_ok below;
# - doc/errors.md has one section per code giving its value and exact description, and no
#   section for a code that does not exist.
set -eu

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
doc=$srcdir/doc/errors.md
cc=${CC:-cc}
# SDK codes outside the 0x8000xxxx block (their ordinals come from another SDK range).
high_ok="PRL_ERR_OBJECT_NOT_FOUND PRL_ERR_TEMPLATE_NOT_FOUND"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-errors.XXXXXX")
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

echo "1..10"

# Expand the X-macro table with the preprocessor: one "NAME VALUE "description"" per line.
cat > "$tmp/list.c" <<'EOF'
#include "PrlErrorsValues.h"
#define PRLK_ROW_(name, value, desc) @PRLK_ROW@ name value desc
PRLK_ERROR_LIST(PRLK_ROW_)
EOF
$cc -E -P -I"$srcdir/include/prlkit" "$tmp/list.c" | grep '@PRLK_ROW@' |
	sed 's/@PRLK_ROW@/\n/g' | sed 's/^[ \t]*//; s/[ \t]*$//; /^$/d' > "$tmp/rows"
# (awk here is POSIX: no {n} intervals, which mawk lacks.)
# rows: NAME VALUE "DESCRIPTION"
awk '{ print $1 }' "$tmp/rows" > "$tmp/names"
awk '{ print tolower($2) }' "$tmp/rows" > "$tmp/values"
sed 's/^[^"]*"//; s/"$//' "$tmp/rows" > "$tmp/descs"

: > "$tmp/d"
[ -s "$tmp/rows" ] || echo "PRLK_ERROR_LIST expanded to nothing" > "$tmp/d"
check "PRLK_ERROR_LIST has $(wc -l < "$tmp/rows") codes" "$tmp/d"

sort "$tmp/names" | uniq -d | sed 's/^/duplicate name: /' > "$tmp/d"
check "names are unique" "$tmp/d"

sort "$tmp/values" | uniq -d | sed 's/^/duplicate value: /' > "$tmp/d"
check "values are unique" "$tmp/d"

awk '{ d = $0; sub(/^[^"]*"/, "", d); sub(/"$/, "", d)
       if (d ~ /^[ \t]*$/) print "empty description: " $1
       else if (d !~ /^[A-Z]/ || d !~ /\.$/) print "not a sentence (capital ... .): " $1 }' \
	"$tmp/rows" > "$tmp/d"
check "every code has a description written as a sentence" "$tmp/d"

awk '$1 !~ /^PRL_ERR_[A-Z0-9_]+$/ { print "bad name: " $1 }
     !(length($2) == 10 && tolower($2) ~ /^0x[0-9a-f]+$/) { print "value not written as 0x + 8 hex digits: " $1 " " $2 }' \
	"$tmp/rows" > "$tmp/d"
check "names are PRL_ERR_* and values are 0x + 8 hex digits" "$tmp/d"

awk '($1 == "PRL_ERR_SUCCESS") != (tolower($2) == "0x00000000") { print "only PRL_ERR_SUCCESS is 0: " $1 " " $2 }
     $1 != "PRL_ERR_SUCCESS" && tolower($2) !~ /^0x8/ { print "failure without the failure bit: " $1 " " $2 }' \
	"$tmp/rows" > "$tmp/d"
check "success is 0 and every other code has the failure bit" "$tmp/d"

awk '$1 != "PRL_ERR_SUCCESS" && !(length($2) == 10 && tolower($2) ~ /^0x8[0-9]+$/) { print "ordinal not decimal digits: " $1 " " $2 }' \
	"$tmp/rows" > "$tmp/d"
check "failures are 0x80000000 + the decimal ordinal written as hex digits" "$tmp/d"

awk -v ok=" $high_ok " '$1 != "PRL_ERR_SUCCESS" && !(length($2) == 10 && tolower($2) ~ /^0x8000[0-9]+$/) && index(ok, " " $1 " ") == 0 {
	print "ordinal >= 10000 and not a documented SDK exception: " $1 " " $2 }
     index(ok, " " $1 " ") && tolower($2) ~ /^0x8000/ { print "documented high code is no longer high: " $1 " " $2 }' \
	"$tmp/rows" > "$tmp/d"
check "ordinals stay below 10000 except $high_ok" "$tmp/d"

# doc/errors.md: "### NAME" sections; each holds "`VALUE`" and the description verbatim.
if [ ! -f "$doc" ]; then
	echo "missing $doc" > "$tmp/d"
else
	: > "$tmp/d"
	while read -r name value rest; do
		desc=$(printf '%s\n' "$rest" | sed 's/^"//; s/"$//')
		section=$(awk -v h="### $name" '$0 == h { on = 1; next } on && /^#/ { exit } on' "$doc")
		if [ -z "$section" ]; then
			echo "no section '### $name'" >> "$tmp/d"
			continue
		fi
		printf '%s\n' "$section" | grep -qiF "\`$value\`" ||
			echo "$name: section does not give the value \`$value\`" >> "$tmp/d"
		printf '%s\n' "$section" | tr '\n' ' ' | grep -qF "$desc" ||
			echo "$name: section does not quote the description \"$desc\"" >> "$tmp/d"
	done < "$tmp/rows"
fi
check "doc/errors.md documents every code with its value and description" "$tmp/d"

: > "$tmp/d"
if [ -f "$doc" ]; then
	sed -n 's/^### \(PRL_ERR_[A-Z0-9_]*\).*/\1/p' "$doc" | sort > "$tmp/doc-names"
	sort -u "$tmp/names" > "$tmp/names-sorted"
	comm -23 "$tmp/doc-names" "$tmp/names-sorted" | sed 's/^/documented but not in PRLK_ERROR_LIST: /' > "$tmp/d"
	sort "$tmp/doc-names" | uniq -d | sed 's/^/documented twice: /' >> "$tmp/d"
fi
check "doc/errors.md documents no code that does not exist" "$tmp/d"
