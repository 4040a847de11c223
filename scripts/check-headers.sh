#!/bin/sh
# TAP: every public header is self-contained and clean:
# - compiles alone (twice, for the include guard) with -Wall -Wextra -Werror -pedantic as
#   C99, and as C++11 when a C++ compiler exists;
# - both spellings SDK programs use work: #include <prlkit/Parallels.h> (-I$includedir)
#   and #include "Parallels.h" (-I$includedir/prlkit, what pkg-config --cflags gives);
# - every header in include/prlkit is installed (listed in Makefile.am).
set -eu

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
inc=$srcdir/include
cc=${CC:-cc}
cxx=${CXX:-g++}
cflags="-std=c99 -Wall -Wextra -Werror -pedantic -Wstrict-prototypes -Wmissing-prototypes -Wshadow"
cxxflags="-std=c++11 -Wall -Wextra -Werror -pedantic -Wshadow"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-headers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

headers=$(cd "$inc/prlkit" && ls *.h)
have_cxx=no
if command -v "$cxx" > /dev/null 2>&1; then have_cxx=yes; fi

count=0
for h in $headers; do count=$((count + 2)); done
echo "1..$((count + 3))"

n=0
compile() { # compile DESCRIPTION LANG SOURCE-TEXT INCLUDE-DIR
	n=$((n + 1))
	if [ "$2" = c ]; then
		src=$tmp/t$n.c
		printf '%s\n' "$3" > "$src"
		set -- "$1" "$cc $cflags" "$4" "$src"
	else
		src=$tmp/t$n.cc
		printf '%s\n' "$3" > "$src"
		set -- "$1" "$cxx $cxxflags" "$4" "$src"
	fi
	if $2 -I"$3" -c -o "$tmp/t$n.o" "$4" > "$tmp/log" 2>&1; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		sed 's/^/# /' "$tmp/log"
	fi
}

# A translation unit that includes the header twice and uses nothing else: any type or
# macro it needs must come from its own includes.
for h in $headers; do
	text="#include <prlkit/$h>
#include <prlkit/$h>
int prlkit_header_check(void);
int prlkit_header_check(void) { return 0; }"
	compile "$h compiles alone as C99 (-Wall -Wextra -Werror -pedantic)" c "$text" "$inc"
	if [ $have_cxx = yes ]; then
		compile "$h compiles alone as C++11 (-Wall -Wextra -Werror -pedantic)" cxx "$text" "$inc"
	else
		n=$((n + 1))
		echo "ok $n # SKIP $h as C++: no C++ compiler ($cxx)"
	fi
done

# The SDK spelling with pkg-config's -I$includedir/prlkit, using something from every part.
sdk_text='#include "Parallels.h"
#include "Virtuozzo.h"
int prlkit_header_check(void);
int prlkit_header_check(void)
{
	PRL_HANDLE h = PRL_INVALID_HANDLE;
	PRL_RESULT r = PRL_ERR_SUCCESS;
	VIRTUAL_MACHINE_STATE s = VMS_RUNNING;
	PRL_EVENT_TYPE e = PET_DSP_EVT_VM_STATE_CHANGED;
	PRL_UINT64 f = PRLK_FEAT_SUSPEND;
	(void)h; (void)s; (void)e; (void)f;
	return PRL_SUCCEEDED(r) && PARALLELS_API_VER == VIRTUOZZO_API_VER ? 0 : 1;
}'
compile '#include "Parallels.h" works with -I$includedir/prlkit' c "$sdk_text" "$inc/prlkit"
compile '#include <prlkit/Parallels.h> works with -I$includedir' c \
	"$(printf '%s\n' "$sdk_text" | sed 's|#include "\(.*\)"|#include <prlkit/\1>|')" "$inc"

# Installed headers: every file in include/prlkit is in prlkitinclude_HEADERS.
n=$((n + 1))
: > "$tmp/missing"
for h in $headers; do
	grep -q "include/prlkit/$h" "$srcdir/Makefile.am" || echo "not installed: $h" >> "$tmp/missing"
done
if [ -s "$tmp/missing" ]; then
	echo "not ok $n - every public header is installed"
	sed 's/^/# /' "$tmp/missing"
else
	echo "ok $n - every public header is installed"
fi
