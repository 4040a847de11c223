#!/bin/sh
# SDK compatibility: every tests/sdk-compat/*.c is a program written the way Parallels
# Virtualization SDK C programs are written. Each must build unchanged from the installed
# tree with nothing but `cc -Wall -Werror prog.c $(pkg-config --cflags --libs prlkit)` and
# run correctly against the default local connection (PrlSrv_LoginLocal). Speaks TAP.
#
# Steps: `make install DESTDIR=...` into a temporary directory; pkg-config pointed at it;
# then per program: compile, run at speed 0 (instant), and for the programs that wait for
# VM states, run again at a small realistic speed so the waiting is exercised. Each run
# gets a fresh simulator state next to the test's own ($PRLKIT_TEST_TMPDIR), so the
# programs are independent of each other.
#
# Environment (set by make check): top_srcdir, top_builddir, PRLKIT_TEST_TMPDIR,
# PRLKIT_DEFAULT_URI; optional PRLKIT_TEST_WRAPPER (e.g. "valgrind --error-exitcode=99"),
# put in front of each program, and PRLKIT_SDK_COMPAT_TIMEOUT (seconds per run, default 120).
set -u

: "${top_srcdir:?run by make check (top_srcdir is not set)}"
: "${top_builddir:?run by make check (top_builddir is not set)}"
: "${PRLKIT_DEFAULT_URI:?run by make check (PRLKIT_DEFAULT_URI is not set)}"

# CC, SANITIZER_FLAGS, PKG_CONFIG, MAKE_PROGRAM, libdir of this build.
. "$top_builddir/tests/sdk-compat/build-env.sh"

srcdir=$top_srcdir/tests/sdk-compat
limit=${PRLKIT_SDK_COMPAT_TIMEOUT:-120}
# The programs that poll for VM states or wait for events, run again with real delays.
slow_programs="power suspend-pause events snapshots clone"
slow_speed=0.02

tmp=$(mktemp -d "${PRLKIT_TEST_TMPDIR:-${TMPDIR:-/tmp}}/sdk-compat.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest

programs=
for src in "$srcdir"/*.c; do
	programs="$programs $(basename "$src" .c)"
done
nprog=0
for p in $programs; do nprog=$((nprog + 1)); done
nslow=0
for p in $slow_programs; do nslow=$((nslow + 1)); done
echo "1..$((2 + 2 * nprog + nslow))"

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
comment() { sed 's/^/# /' "$1"; }

# This runs inside `make check`: do not inherit its jobserver or its flags.
unset MAKEFLAGS MFLAGS MAKELEVEL
if (cd "$top_builddir" && $MAKE_PROGRAM install DESTDIR="$dest") > "$tmp/install.log" 2>&1 \
   && [ -f "$dest$libdir/pkgconfig/prlkit.pc" ]; then
	ok "make install DESTDIR=... installs the library, the headers and prlkit.pc"
else
	tail -n 40 "$tmp/install.log" | sed 's/^/# /'
	echo "Bail out! make install failed"
	exit 1
fi

# The .pc file names the final prefix; the sysroot variable maps it into DESTDIR, and the
# "system" directories are kept so a /usr prefix still points into DESTDIR.
PKG_CONFIG_PATH="$dest$libdir/pkgconfig"
PKG_CONFIG_LIBDIR="$dest$libdir/pkgconfig"
PKG_CONFIG_SYSROOT_DIR="$dest"
PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
export PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
export PKG_CONFIG_ALLOW_SYSTEM_LIBS PKG_CONFIG_ALLOW_SYSTEM_CFLAGS
if flags=$($PKG_CONFIG --cflags --libs prlkit 2> "$tmp/pkg-config.err"); then
	echo "# pkg-config --cflags --libs prlkit: $flags"
	ok "pkg-config --cflags --libs prlkit"
else
	comment "$tmp/pkg-config.err"
	echo "Bail out! pkg-config knows no prlkit"
	exit 1
fi

# run PROGRAM URI: run one built program with PRLKIT_DEFAULT_URI=URI; output to $tmp/run.log.
run() {
	# shellcheck disable=SC2086 # PRLKIT_TEST_WRAPPER is a command line
	PRLKIT_DEFAULT_URI=$2 \
	LD_LIBRARY_PATH="$dest$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
		timeout -k 10 "$limit" ${PRLKIT_TEST_WRAPPER:-} "$tmp/bin/$1" > "$tmp/run.log" 2>&1
}

mkdir -p "$tmp/bin"
built=
for p in $programs; do
	# Exactly what an SDK user types (plus the sanitizer flags a sanitized build needs).
	# shellcheck disable=SC2086 # CC, SANITIZER_FLAGS and flags are word lists
	if $CC $SANITIZER_FLAGS -Wall -Werror -o "$tmp/bin/$p" "$srcdir/$p.c" $flags \
		> "$tmp/cc.log" 2>&1; then
		built="$built $p"
		ok "$p.c builds with cc -Wall -Werror and the pkg-config flags only"
	else
		comment "$tmp/cc.log"
		not_ok "$p.c builds with cc -Wall -Werror and the pkg-config flags only"
	fi
done

is_built() { case " $built " in *" $1 "*) return 0 ;; esac; return 1; }

for p in $programs; do
	what="$p runs against the default local connection (speed 0)"
	if ! is_built "$p"; then
		skip "$what" "not built"
		continue
	fi
	if run "$p" "sim://$tmp/state-$p?speed=0"; then
		comment "$tmp/run.log"
		ok "$what"
	else
		rc=$?
		comment "$tmp/run.log"
		not_ok "$what (exit status $rc)"
	fi
done

for p in $slow_programs; do
	what="$p runs against the default local connection (speed $slow_speed)"
	if ! is_built "$p"; then
		skip "$what" "not built"
		continue
	fi
	if run "$p" "sim://$tmp/slow-$p?speed=$slow_speed"; then
		ok "$what"
	else
		rc=$?
		comment "$tmp/run.log"
		not_ok "$what (exit status $rc)"
	fi
done

[ "$failed" -eq 0 ]
