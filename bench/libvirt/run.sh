#!/bin/sh
# The libvirt driver's benchmarks (JSON lines on stdout, progress on stderr):
#
#   bench/libvirt/run.sh [--quick] [--builddir DIR]
#
# Always: listing 1,000 domains with states on libvirt's test:///default, prlkit against
# raw libvirt calls (the ratio goes to stderr). When a real libvirtd answers on
# $PRLKIT_BENCH_LIBVIRT_URI (default qemu:///system) and has the storage pool
# $PRLKIT_BENCH_LIBVIRT_POOL (default prlkit-it, as tests/integration/libvirt/setup.sh
# makes it): lifecycle latencies on QEMU too. Without a libvirt build it prints nothing.
set -eu

quick=
builddir=.
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=--quick ;;
	--builddir) builddir=${2:?--builddir needs a directory}; shift ;;
	*) echo "usage: $0 [--quick] [--builddir DIR]" >&2; exit 2 ;;
	esac
	shift
done
bin=$builddir/bench/libvirt/bench-libvirt
if [ ! -x "$bin" ]; then
	echo "bench/libvirt: not built (no libvirt at configure time); skipped" >&2
	exit 0
fi
"$bin" $quick

uri=${PRLKIT_BENCH_LIBVIRT_URI:-qemu:///system}
pool=${PRLKIT_BENCH_LIBVIRT_POOL:-prlkit-it}
if command -v virsh > /dev/null 2>&1 &&
	virsh -q -c "$uri" pool-info "$pool" > /dev/null 2>&1; then
	"$bin" --lifecycle "$uri" --pool "$pool" $quick
else
	echo "bench/libvirt: no libvirtd with pool '$pool' at $uri; lifecycle skipped" \
	     "(tests/integration/libvirt/setup.sh prepares one)" >&2
fi
