#!/bin/sh
# make check: bench-libvirt's quick mode runs and prints well-formed JSON lines (timings are
# never judged here). Speaks TAP.
set -u
: "${top_builddir:?run by make check}"
out=${PRLKIT_TEST_TMPDIR:-/tmp}/bench-libvirt.out
echo "1..2"
if "$top_builddir/bench/libvirt/bench-libvirt" --quick > "$out" 2> "$out.err"; then
	echo "ok 1 - bench-libvirt --quick runs"
else
	sed 's/^/# /' "$out.err"
	echo "not ok 1 - bench-libvirt --quick runs"
fi
sed 's/^/# /' "$out" "$out.err"
re='^{"name":"libvirt_list_[0-9]*_(raw|prlkit|prlkit_config|prlkit_config_first|raw_cpu|prlkit_cpu|prlkit_config_cpu)","n":[1-9][0-9]*,"median":[0-9.]*,"p99":[0-9.]*,"unit":"ms"}$'
re_x='^{"name":"libvirt_list_[0-9]*_(ratio|config_ratio)","n":[1-9][0-9]*,"median":[0-9.]*,"p99":[0-9.]*,"unit":"x"}$'
if [ "$(grep -cE "$re" "$out")" -eq 7 ] && [ "$(grep -cE "$re_x" "$out")" -eq 2 ] &&
   [ "$(wc -l < "$out")" -eq 9 ]; then
	echo "ok 2 - seven list timings and two ratios in the bench format"
else
	echo "not ok 2 - seven list timings and two ratios in the bench format"
fi
