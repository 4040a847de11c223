#!/bin/sh
# List every public function declared in include/prlkit/*.h, one per line:
#   NAME KIND HEADER
# KIND is "sync" (returns PRL_RESULT) or "async" (returns a job PRL_HANDLE); HEADER is the
# header that declares it (PrlApiExt.h = prlkit extension).
#
# The headers are run through the C preprocessor with PRL_API_EXPORT replaced by a marker,
# so every declaration form (PRL_METHOD, PRL_ASYNC_METHOD, PRL_*_METHOD_DECL) is found the
# way the compiler sees it, and static inline helpers (not exported) are not.
#
# With --signatures, print instead NAME, a tab, and the declaration as C would write it
# ("PRL_RESULT PrlApi_Init(PRL_UINT32 version);"), white space collapsed.
#
# Usage: public-functions.sh [--signatures] [TOP_SRCDIR]
#        (TOP_SRCDIR defaults to $top_srcdir, else the script's parent directory)
set -eu

mode=list
if [ "${1:-}" = --signatures ]; then mode=signatures; shift; fi
srcdir=${1:-${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}}
cc=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-pubfn.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

printf '#include <prlkit/Parallels.h>\n' > "$tmp/all.c"
$cc -E -DPRL_API_EXPORT=PRLK_PUBLIC_DECL -I"$srcdir/include" "$tmp/all.c" > "$tmp/all.i"

if [ $mode = signatures ]; then
	# Join each declaration from the marker to its ";" and normalise the spacing.
	grep -v '^#' "$tmp/all.i" | awk '
	/PRLK_PUBLIC_DECL/ { decl = ""; on = 1 }
	on {
		decl = decl " " $0
		if (index($0, ";")) {
			sub(/.*PRLK_PUBLIC_DECL/, "", decl); sub(/;.*/, ";", decl)
			gsub(/[ \t]+/, " ", decl); gsub(/\( /, "(", decl); gsub(/ \)/, ")", decl)
			gsub(/ ,/, ",", decl); sub(/^ /, "", decl); gsub(/ \(/, "(", decl)
			split(decl, w, /[ (]+/)
			print w[2] "\t" decl
			on = 0
		}
	}' | sort -u
	exit 0
fi

# Line markers (# N "file") say which header each declaration came from.
awk '
/^# [0-9]+ "/ {
	file = $3; gsub(/"/, "", file); n = split(file, parts, "/"); header = parts[n]; next
}
/PRLK_PUBLIC_DECL/ {
	line = $0
	sub(/.*PRLK_PUBLIC_DECL[ \t]+/, "", line)
	split(line, w, /[ \t(]+/)
	kind = (w[1] == "PRL_HANDLE") ? "async" : (w[1] == "PRL_RESULT") ? "sync" : "unknown"
	print w[2], kind, header
}' "$tmp/all.i" | sort -u
