#!/bin/sh
# Runs every benchmark and prints one JSON line per measurement:
#   {"name":...,"n":...,"median":...,"p99":...,"unit":...}
#
#   bench/run.sh [--quick] [--builddir DIR] [--out FILE]
#
# --builddir: where `make` built prlkit (default: the current directory if it holds a
# build, else the source tree if built in place, else _build/default as scripts/build.sh
# makes it). --out also writes the lines to FILE. Progress goes to stderr.
#
# Besides bench/bench-core, every bench/*/run.sh (one per area: cpf, pve, ...) is run with
# the same --quick and --builddir arguments and must print JSON lines the same way.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
quick=
builddir=${PRLKIT_BUILD_DIR:-}
out=

while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=--quick ;;
	--builddir) builddir=${2:?--builddir needs a directory}; shift ;;
	--out) out=${2:?--out needs a file}; shift ;;
	*) echo "usage: $0 [--quick] [--builddir DIR] [--out FILE]" >&2; exit 2 ;;
	esac
	shift
done

if [ -z "$builddir" ]; then
	for d in . "$top" "$top/_build/default"; do
		if [ -x "$d/bench/bench-core" ]; then builddir=$d; break; fi
	done
fi
if [ -z "$builddir" ] || [ ! -x "$builddir/bench/bench-core" ]; then
	echo "bench/run.sh: no build found (build first: ./scripts/build.sh, or pass --builddir)" >&2
	exit 1
fi
builddir=$(cd "$builddir" && pwd)

results=$(mktemp "${TMPDIR:-/tmp}/prlkit-bench.XXXXXX")
trap 'rm -f "$results"' EXIT
status=0

echo "bench: core (bench/bench-core $quick)" >&2
"$builddir/bench/bench-core" $quick >> "$results" || status=1

for runner in "$top"/bench/*/run.sh; do
	[ -f "$runner" ] || continue
	area=$(basename "$(dirname "$runner")")
	echo "bench: $area ($runner)" >&2
	sh "$runner" $quick --builddir "$builddir" >> "$results" || status=1
done

cat "$results"
if [ -n "$out" ]; then cp "$results" "$out"; fi
exit $status
