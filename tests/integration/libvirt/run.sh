#!/bin/bash
# The libvirt driver's integration suite on a real libvirtd + QEMU (TCG), as CI runs it:
#
#   tests/integration/libvirt/run.sh          (root; a configured and built tree)
#
# 1. setup.sh: packages, virtlogd + libvirtd (under tini -s), an isolated network with DHCP
#    and a storage pool; build-guest.sh: a tiny Linux guest from Debian packages.
# 2. Test domains with real qcow2 disks: prlkit-it-gold (no OS) and prlkit-it-tiny (the
#    tiny guest: DHCP, qemu guest agent, ACPI power button).
# 3. prlkit-cpf-check's full RAS workflows through `prlkit-cpf --driver libvirt` on gold.
# 4. ssh-tests.py: the same libvirtd as a remote host over qemu+ssh://, through a private
#    sshd on 127.0.0.1 (connect, list, get, power cycle, snapshot, a wrong key, an unknown
#    host key, libssh with known_hosts=), then prlkit-cpf-check's workflows over that URI.
# 5. guest-tests.py through prlkit-cpf on real guests: lease and agent IPs, live snapshot,
#    linked clone, suspend, graceful and forced stop, deletion leaving nothing behind.
# 6. teardown.sh, always (trap), also after a failure; PRLKIT_LV_KEEP=1 keeps everything.
#
# Output: TAP ("ok - ..."), then the plan, then "N passed, M failed". Self-contained and
# idempotent: leftovers of an interrupted run are removed first. Finds the programs in
# $top_builddir, else _build/default, else the source tree.
set -uo pipefail
exec < /dev/null

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
pool=${PRLKIT_LV_POOL:-prlkit-it}
pool_dir=${PRLKIT_LV_POOL_DIR:-/var/lib/prlkit-it/pool}
guest_dir=${PRLKIT_LV_GUEST_DIR:-/var/lib/prlkit-it/guest}
net=${PRLKIT_LV_NETWORK:-prlkit-it}
state=${PRLKIT_LV_STATE:-/run/prlkit-libvirt-it}
export PRLKIT_LV_POOL=$pool PRLKIT_LV_POOL_DIR=$pool_dir PRLKIT_LV_NETWORK=$net

builddir=
for d in "${top_builddir:-}" "$top/_build/default" "$top"; do
	if [ -n "$d" ] && [ -x "$d/prlkit-cpf" ] && [ -x "$d/prlkit-cpf-check" ]; then
		builddir=$(cd "$d" && pwd)
		break
	fi
done

base_tmp=${PRLKIT_TEST_TMPDIR:-${TMPDIR:-/tmp}}
mkdir -p "$base_tmp"
work=$(mktemp -d "$base_tmp/libvirt-it.XXXXXX")
passed=0
failed=0
total=0

tap() {   # tap ok|not-ok DESCRIPTION
	total=$((total + 1))
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
		echo "ok $total - $2"
	else
		failed=$((failed + 1))
		echo "not ok $total - $2"
	fi
}

show() {   # show FILE: its last lines as TAP comments
	tail -n "${2:-30}" "$1" 2> /dev/null | sed 's/^/#   /'
}

finish() {
	local status=$?
	if [ "${PRLKIT_LV_KEEP:-0}" = 1 ]; then
		echo "# PRLKIT_LV_KEEP=1: daemons, domains and volumes kept; work dir $work"
	else
		bash "$here/teardown.sh" > "$work/teardown.log" 2>&1 ||
			{ echo "# teardown failed:"; show "$work/teardown.log"; }
		rm -rf "$work"
	fi
	echo "1..$total"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$status" -eq 0 ] && exit 0
	exit 1
}
trap finish EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "# needs root (it installs packages and starts libvirtd)"
	tap not-ok "run as root"
	exit 1
fi
if [ -z "$builddir" ]; then
	echo "# no build with prlkit-cpf and prlkit-cpf-check (set top_builddir, or build _build/default)"
	tap not-ok "find the built programs"
	exit 1
fi
if ! "$builddir/prlkit-cpf-check" --version > /dev/null 2>&1; then
	tap not-ok "prlkit-cpf-check runs"
	exit 1
fi
echo "# build: $builddir"

# ---- 1. daemons, network, pool, guest -------------------------------------------------
bash "$here/teardown.sh" > "$work/pre-teardown.log" 2>&1   # an interrupted run's leftovers
if bash "$here/setup.sh" > "$work/setup.log" 2>&1; then
	tap ok "setup: virtlogd, libvirtd under tini -s, isolated DHCP network, storage pool"
else
	tap not-ok "setup: virtlogd, libvirtd under tini -s, isolated DHCP network, storage pool"
	show "$work/setup.log"
	exit 1
fi
# The driver was built only if configure found libvirt.
if ! "$builddir/prlkit-cpf" --driver libvirt < /dev/null > /dev/null 2> "$work/probe.log" ||
	grep -q "unknown driver" "$work/probe.log"; then
	tap not-ok "this build has the libvirt driver (install libvirt-dev and re-run configure)"
	show "$work/probe.log"
	exit 1
fi
if bash "$here/build-guest.sh" "$guest_dir" > "$work/guest.log" 2>&1; then
	tap ok "build the tiny guest from Debian packages ($(tail -n 1 "$work/guest.log" | sed 's/^build-guest: //'))"
else
	tap not-ok "build the tiny guest from Debian packages"
	show "$work/guest.log"
	exit 1
fi

# ---- 2. test domains --------------------------------------------------------------------
v() { timeout 120 virsh -q -c qemu:///system "$@"; }

define_domains() {
	cat > "$work/vol-gold.xml" <<XML
<volume><name>prlkit-it-gold.qcow2</name><capacity unit='M'>64</capacity>
<target><format type='qcow2'/></target></volume>
XML
	cat > "$work/vol-tiny.xml" <<XML
<volume><name>prlkit-it-tiny.qcow2</name><capacity unit='M'>32</capacity>
<target><format type='qcow2'/></target></volume>
XML
	cat > "$work/gold.xml" <<XML
<domain type='qemu'>
  <name>prlkit-it-gold</name>
  <description>prlkit integration test: a guest without an OS</description>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$pool_dir/prlkit-it-gold.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'><source network='$net'/><model type='virtio'/></interface>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
  </devices>
</domain>
XML
	cat > "$work/tiny.xml" <<XML
<domain type='qemu'>
  <name>prlkit-it-tiny</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$guest_dir/vmlinuz</kernel>
    <initrd>$guest_dir/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$pool_dir/prlkit-it-tiny.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'><source network='$net'/><model type='virtio'/></interface>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <serial type='pty'><target port='0'/></serial>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
  </devices>
</domain>
XML
	v vol-create "$pool" "$work/vol-gold.xml" &&
	v vol-create "$pool" "$work/vol-tiny.xml" &&
	v define "$work/gold.xml" && v define "$work/tiny.xml"
}
if define_domains > "$work/define.log" 2>&1; then
	gold=$(v domuuid prlkit-it-gold)
	tiny=$(v domuuid prlkit-it-tiny)
	tap ok "define prlkit-it-gold ($gold) and prlkit-it-tiny ($tiny) with qcow2 disks"
else
	tap not-ok "define the test domains"
	show "$work/define.log"
	exit 1
fi

# ---- 3. every RAS workflow with prlkit-cpf-check -----------------------------------------
# Its TAP lines become ours (renumbered, prefixed); its plan and summary are dropped.
relay() {   # relay PREFIX: rewrite a sub-suite's TAP from stdin
	local line rest
	while IFS= read -r line; do
		case $line in
		"ok "*|"not ok "*)
			if [ "${line#not ok}" != "$line" ]; then rest=${line#not ok}; else rest=${line#ok}; fi
			rest=$(echo "$rest" | sed -E 's/^ *[0-9]* *-? *//')
			case $line in
			"ok "*) tap ok "$1$rest" ;;
			*) tap not-ok "$1$rest" ;;
			esac
			;;
		"#"*) echo "$line" ;;
		*) ;;
		esac
	done
}

# (The password is unused by a local libvirtd; with it no-secrets-in-replies has a secret.)
relay "cpf-check: " < <(timeout 900 "$builddir/prlkit-cpf-check" --poll-scale 0.1 \
	--guest "$gold" --clone-name prlkit-it-host \
	--set driver=libvirt --set uri=qemu:///system --set "storage_pool=$pool" \
	--set stop_mode=destroy --set password=prlkit-it-unused-secret \
	--provider-stderr "$work/cpf-check-provider.log" \
	-- "$builddir/prlkit-cpf" --driver libvirt 2>&1)
if [ "$failed" -gt 0 ]; then
	echo "# provider log:"
	show "$work/cpf-check-provider.log" 40
fi

# The workflows leave the guest as they found it, and nothing else.
left=$(v vol-list "$pool" | awk '{ print $1 }' | grep -c '^prlkit-[0-9a-f]\{8\}-' || true)
doms=$(v list --all --name | grep -c . || true)
echo "# after the workflows: $doms domains, $left driver-made volumes (the template's layers)"

# ---- 4. the same libvirtd as a remote host, over qemu+ssh:// -----------------------------
# ssh-tests.py: a private sshd on 127.0.0.1 (stopped and removed by itself, or by
# teardown.sh after an interruption); connect, list, get, power cycle and snapshot on gold,
# a wrong key and an unknown host key, then prlkit-cpf-check's workflows over the URI.
if command -v python3 > /dev/null; then
	before=$failed
	relay "ssh: " < <(timeout 900 python3 "$here/ssh-tests.py" --cpf "$builddir/prlkit-cpf" \
		--cpf-check "$builddir/prlkit-cpf-check" --gold "$gold" --gold-name prlkit-it-gold \
		--pool "$pool" --state "$state" --log "$work/ssh-tests-provider.log" 2>&1
		echo $? > "$work/ssh-tests.status")
	# A crash or a timeout ends its TAP early without a "not ok": count it.
	status=$(cat "$work/ssh-tests.status" 2> /dev/null || echo missing)
	if [ "$status" != 0 ] && [ "$failed" -eq "$before" ]; then
		tap not-ok "ssh: ssh-tests.py ended with status $status"
	fi
	if [ "$failed" -gt "$before" ]; then
		echo "# provider log:"
		show "$work/ssh-tests-provider.log" 40
	fi
else
	tap not-ok "python3 is needed for the qemu+ssh:// tests"
fi

# ---- 5. real guests ---------------------------------------------------------------------
if command -v python3 > /dev/null; then
	before=$failed
	relay "" < <(timeout 900 python3 "$here/guest-tests.py" --cpf "$builddir/prlkit-cpf" \
		--tiny "$tiny" --tiny-name prlkit-it-tiny --gold "$gold" --gold-name prlkit-it-gold \
		--pool "$pool" --log "$work/guest-tests-provider.log" 2>&1)
	if [ "$failed" -gt "$before" ]; then
		echo "# provider log:"
		show "$work/guest-tests-provider.log" 40
	fi
else
	tap not-ok "python3 is needed for the real-guest tests"
fi
exit 0
