#!/bin/bash
# What a user gets from `make install` as root: a library the dynamic loader finds at once,
# an installed prlkit-cpf that runs, and an SDK-style program built with nothing but
# `pkg-config --cflags --libs prlkit` that runs against the default local connection.
#
#   tests/integration/install/run.sh          (root; run by .ci/run)
#
# The prefix is a temporary directory that, like /usr/local/lib on Debian, the loader
# knows only through its cache: it is listed in a file of /etc/ld.so.conf.d for the
# duration of the test. Nothing else on the machine is touched; the file is removed and
# the cache rebuilt at the end, also after a failure. Speaks TAP, ends with
# "N passed, M failed".
set -uo pipefail
exec < /dev/null

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (writes /etc/ld.so.conf.d and rebuilds the loader cache)"
	exit 0
fi
export PATH="$PATH:/sbin:/usr/sbin"

tmp=$(mktemp -d "${PRLKIT_TEST_TMPDIR:-${TMPDIR:-/tmp}}/prlkit-install.XXXXXX") || exit 1
prefix=$tmp/prefix
conf=/etc/ld.so.conf.d/zz-prlkit-install-test-$$.conf
cleanup() {
	rm -f "$conf"
	ldconfig
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "1..7"
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
show() { sed 's/^/# /' "$1" | tail -n 30; }
finish() {
	while [ "$n" -lt 7 ]; do not_ok "not reached"; done
	echo "$((n - failed)) passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# 1. A build of the tree configured for the prefix (the libvirt driver, when present, is
#    loaded with dlopen and needs nothing at install time).
echo "$prefix/lib" > "$conf"
mkdir -p "$tmp/build"
if (cd "$tmp/build" && "$top/configure" -q --prefix="$prefix" &&
    make -j"${PRLKIT_JOBS:-2}" -s install) > "$tmp/install.log" 2>&1; then
	ok "configure --prefix && make install"
else
	show "$tmp/install.log"
	not_ok "configure --prefix && make install"
	finish
fi

# 2. The install rebuilt the loader's cache.
check "make install rebuilt the loader cache (ldconfig -p lists libprlkit.so.1 in the prefix)" \
	sh -c "ldconfig -p | grep -q 'libprlkit.so.1 .*=> $prefix/lib/libprlkit.so.1'"

# 3. The installed provider runs as RAS starts it: no LD_LIBRARY_PATH, no rpath.
reply=$(echo '{"method":"provider/initialize"}' |
	env -u LD_LIBRARY_PATH "$prefix/bin/prlkit-cpf" --driver sim --log-level error 2> "$tmp/cpf.err")
case $reply in
'{"result":{"version":"1.0.0","capabilities":'*) ok "installed prlkit-cpf answers provider/initialize" ;;
*) show "$tmp/cpf.err"; echo "# reply: $reply"; not_ok "installed prlkit-cpf answers provider/initialize" ;;
esac

# 4, 5. An SDK-style program: compiled with pkg-config alone, run against the default local
#       connection (a simulator state of its own).
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
if ${CC:-cc} -Wall -Werror -o "$tmp/list-vms" "$top/tests/sdk-compat/list-vms.c" \
	$(pkg-config --cflags --libs prlkit) > "$tmp/cc.log" 2>&1; then
	ok "an SDK-style program builds with pkg-config --cflags --libs prlkit"
else
	show "$tmp/cc.log"
	not_ok "an SDK-style program builds with pkg-config --cflags --libs prlkit"
fi
if [ -x "$tmp/list-vms" ] && env -u LD_LIBRARY_PATH PRLKIT_DEFAULT_URI="sim://$tmp/state?speed=0" \
	"$tmp/list-vms" > "$tmp/run.log" 2>&1; then
	ok "it runs against the default local connection"
else
	show "$tmp/run.log"
	not_ok "it runs against the default local connection"
fi

# 6, 7. make uninstall removes everything it installed and the cache entry with it.
if (cd "$tmp/build" && make -s uninstall) > "$tmp/uninstall.log" 2>&1 &&
   [ -z "$(find "$prefix" -type f)" ]; then
	ok "make uninstall leaves no file in the prefix"
else
	show "$tmp/uninstall.log"
	find "$prefix" -type f | sed 's/^/# left: /'
	not_ok "make uninstall leaves no file in the prefix"
fi
check "make uninstall rebuilt the loader cache (libprlkit.so.1 is gone from it)" \
	sh -c "! ldconfig -p | grep -q '$prefix/lib/libprlkit.so.1'"

finish
