#!/bin/sh
# Installs every package prlkit needs to build and run its tests (Debian 12 / apt).
#
#   scripts/install-deps.sh [EXTRA-PACKAGE...]
#
# Quick when everything is there: it asks dpkg first and touches apt only for what is
# missing (apt-get update only when apt does not know a missing package yet, or an
# install fails on stale lists). Needs root to install; otherwise it prints the command.
set -eu

# Build: the autotools chain and the libraries configure checks for.
# Tests: python3 (fake platform servers), valgrind, clang + its runtimes (sanitizers,
# fuzzing), libvirt-dev (builds the libvirt driver, tested with libvirt's test:// driver).
packages="
autoconf automake libtool pkg-config make gcc libc6-dev binutils
libglib2.0-dev libjansson-dev libcurl4-openssl-dev libssl-dev libvirt-dev
python3 valgrind clang libclang-rt-14-dev
"
packages="$packages $*"

missing=
for p in $packages; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
	echo "install-deps: all build and test dependencies are installed"
	exit 0
fi

echo "install-deps: missing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
	# shellcheck disable=SC2086 # a list of package names
	apt-get install -y -q --no-install-recommends $missing
}

# apt knows a package when it has a candidate version; a fresh machine has no lists yet.
need_update=
for p in $missing; do
	if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
		need_update=1
		break
	fi
done
if [ -n "$need_update" ]; then
	echo "install-deps: apt-get update"
	apt-get update -q
fi
if ! apt_install; then
	# Stale package lists give 404s: refresh once and try again.
	echo "install-deps: install failed; apt-get update and retry"
	apt-get update -q
	apt_install
fi
echo "install-deps: done"
