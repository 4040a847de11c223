#!/bin/sh
# The fault matrix (doc/reliability.md): pve against the fake Proxmox server (always), and
# libvirt against a real libvirtd (skipped unless root with libvirt installed; it runs
# tests/integration/libvirt/setup.sh and teardown.sh). TAP per suite, then the counts
# .ci/run adds up ("# PASS: n" ...). FAULT-FIGURES lines carry the measurements.
#
#   tests/faults/run.sh            build directory: $PRLKIT_BUILD_DIR or _build/default
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${PRLKIT_BUILD_DIR:-$top/_build/default}
if [ ! -x "$builddir/prlkit-cpf" ]; then
	PRLKIT_BUILD_DIR=$builddir "$top/scripts/build.sh" > /dev/null || exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-faults.XXXXXX")
pass=0
fail=0
skip=0
status=0
for t in pve-faults.py libvirt-faults.py; do
	echo "# $t"
	out=$tmp/$t.tap
	top_srcdir=$top top_builddir=$(cd "$builddir" && pwd) PRLKIT_TEST_TMPDIR=$tmp \
		python3 "$top/tests/faults/$t" > "$out" 2>&1
	st=$?
	cat "$out"
	s=$(grep -c '^ok .*# SKIP' "$out")
	p=$(grep '^ok ' "$out" | grep -vc '# SKIP')
	f=$(grep -c '^not ok ' "$out")
	[ "$st" -eq 0 ] || [ "$f" -gt 0 ] || f=1
	[ "$st" -eq 0 ] || status=1
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
done
printf '# PASS: %d\n# FAIL: %d\n# SKIP: %d\n' "$pass" "$fail" "$skip"
rm -rf "$tmp"
[ "$status" -eq 0 ] && [ "$fail" -eq 0 ]
