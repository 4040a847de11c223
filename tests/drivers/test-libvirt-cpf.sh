#!/bin/sh
# Every RAS workflow (prlkit-cpf-check) through `prlkit-cpf --driver libvirt` on libvirt's
# test:// hypervisor: templates, versions as qcow2 layers, linked clones, tasks. Fast; the
# same run against a real libvirtd + QEMU is tests/integration/libvirt/run.sh. TAP comes
# from prlkit-cpf-check itself.
set -u
: "${top_builddir:?run by make check}" "${top_srcdir:?run by make check}"

node=$(cd "$top_srcdir/tests/drivers" && pwd)/libvirt-node.xml
log=${PRLKIT_TEST_TMPDIR:-/tmp}/libvirt-cpf-provider.log
# The password is not needed by test://; it is there so no-secrets-in-replies has a secret.
"$top_builddir/prlkit-cpf-check" --poll-scale 0 --settle 0.01 \
	--set driver=libvirt --set "uri=test://$node" --set storage_pool=pk-pool \
	--set stop_mode=destroy --set password=prlkit-unused-secret --provider-stderr "$log" \
	-- "$top_builddir/prlkit-cpf" --driver libvirt
status=$?
if [ "$status" -ne 0 ]; then
	echo "# provider log ($log):"
	sed 's/^/#   /' "$log" 2>/dev/null | tail -n 40
fi
exit "$status"
