#!/bin/bash
# Sets up a real libvirt + QEMU for the libvirt driver's integration tests: installs the
# packages when missing, starts virtlogd and libvirtd (under `tini -s`, a subreaper, so
# dead QEMU processes are reaped at once) when they are not running yet, and defines an
# isolated network with DHCP and a directory storage pool for the tests.
#
#   tests/integration/libvirt/setup.sh        idempotent; teardown.sh undoes it
#
# What it started is recorded in $PRLKIT_LV_STATE (default /run/prlkit-libvirt-it) so that
# teardown.sh stops only that, by PID. Progress goes to stderr.
set -euo pipefail

state=${PRLKIT_LV_STATE:-/run/prlkit-libvirt-it}
net=${PRLKIT_LV_NETWORK:-prlkit-it}
pool=${PRLKIT_LV_POOL:-prlkit-it}
pool_dir=${PRLKIT_LV_POOL_DIR:-/var/lib/prlkit-it/pool}
sock=/run/libvirt/libvirt-sock

say() { echo "libvirt-setup: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	say "must run as root (it installs packages and starts libvirtd)"
	exit 1
fi
mkdir -p "$state"

# 1. Packages (about 45 s the first time).
# openssh-server, openssh-client: the private sshd of ssh-tests.py and the ssh client libvirt
# runs for qemu+ssh:// (the package's own sshd and its configuration are not used).
pkgs="libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
qemu-utils tini dnsmasq-base cpio openssh-server openssh-client"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends $missing >&2; then
		apt-get update -q >&2
		apt-get install -y -q --no-install-recommends $missing >&2
	fi
fi

# 2. Daemons. Debian's packages may have started nothing (no systemd); start what is
# missing and remember its PID.
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

if ! pgrep -x virtlogd > /dev/null; then
	say "starting virtlogd"
	virtlogd -d
	for _ in $(seq 50); do pgrep -x virtlogd > /dev/null && break; sleep 0.1; done
	pgrep -o -x virtlogd > "$state/virtlogd.pid"
fi

if ! pgrep -x libvirtd > /dev/null || [ ! -S "$sock" ]; then
	say "starting libvirtd under tini -s"
	rm -f "$state/libvirtd.log"
	setsid tini -s -- libvirtd > "$state/libvirtd.log" 2>&1 < /dev/null &
	echo $! > "$state/tini.pid"
	for _ in $(seq 300); do
		[ -S "$sock" ] && virsh -c qemu:///system version > /dev/null 2>&1 && break
		alive "$(cat "$state/tini.pid")" || break
		sleep 0.1
	done
	if ! [ -S "$sock" ]; then
		say "libvirtd did not start; its log:"
		cat "$state/libvirtd.log" >&2 || true
		exit 1
	fi
fi

v() { virsh -q -c qemu:///system "$@"; }

# The first connection probes QEMU's capabilities (several seconds); do it here.
v capabilities > /dev/null

# 3. An isolated network with DHCP (no <forward>: nothing leaves the host).
if ! v net-info "$net" > /dev/null 2>&1; then
	say "defining network $net"
	cat > "$state/net.xml" <<XML
<network>
  <name>$net</name>
  <bridge name='pkit0' stp='off'/>
  <ip address='10.231.77.1' netmask='255.255.255.0'>
    <dhcp><range start='10.231.77.100' end='10.231.77.199'/></dhcp>
  </ip>
</network>
XML
	v net-define "$state/net.xml" > /dev/null
	touch "$state/net.defined"
fi
# grep > /dev/null, not grep -q: virsh writes line by line and would die of SIGPIPE
# (pipefail) when grep stopped reading at the match.
if ! v net-info "$net" 2>/dev/null | grep "^Active: *yes" > /dev/null; then
	v net-start "$net" > /dev/null
fi

# 4. A directory storage pool for the test disks.
if ! v pool-info "$pool" > /dev/null 2>&1; then
	say "defining pool $pool ($pool_dir)"
	[ -d "$pool_dir" ] || echo "$pool_dir" > "$state/pool_dir.created"
	mkdir -p "$pool_dir"
	v pool-define-as "$pool" dir --target "$pool_dir" > /dev/null
	touch "$state/pool.defined"
fi
if ! v pool-info "$pool" 2>/dev/null | grep "^State: *running" > /dev/null; then
	v pool-start "$pool" > /dev/null
fi
v pool-refresh "$pool" > /dev/null
say "ready: network $net, pool $pool"
