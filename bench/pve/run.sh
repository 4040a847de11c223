#!/bin/sh
# The Proxmox VE driver's benchmarks (JSON lines on stdout, progress on stderr): one RAS poll
# cycle through prlkit-cpf --driver pve against the fake Proxmox server, 100 and 1,000 VMs,
# 2 ms latency per answer, cold and warm (see bench/pve/pve-bench.py).
#
#   bench/pve/run.sh [--quick] [--builddir DIR]
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
if ! command -v python3 > /dev/null 2>&1; then
	echo "bench/pve: python3 is needed for the fake Proxmox server; skipped" >&2
	exit 0
fi
exec python3 "$(dirname "$0")/pve-bench.py" $quick --builddir "$builddir"
